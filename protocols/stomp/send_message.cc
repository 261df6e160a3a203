// MESSAGE frames, encoded when the socket can take them: Message -> headers
// (the mapping table in docs/stomp.md).
#include "protocols/stomp/connection.h"

#include "base/log.h"
#include "base/printable.h"
#include "base/utf8.h"

namespace duplex::stomp {

bool Connection::write_message(net::OutBuffer& out, Subscription& s, const Outgoing& p, uint64_t ack_id) {
    const Message& m = *p.message;
    std::vector<Header>& h = headers_;
    h.clear();
    std::string id = std::to_string(ack_id);
    h.push_back({"subscription", s.id});
    h.push_back({"message-id", id});
    h.push_back({"destination", s.destination.kind == Destination::Kind::Topic
                                    ? std::string(kTopicPrefix) + m.topic
                                    : s.destination.header});
    if (s.ack != AckMode::Auto && version_ == Version::v12) h.push_back({"ack", id});
    if (!m.content_type.empty()) h.push_back({"content-type", m.content_type});
    h.push_back({"content-length", std::to_string(m.payload.size())});
    if (m.qos > 0) h.push_back({"persistent", "true"});
    if (m.correlation_data) h.push_back({"correlation-id", *m.correlation_data});
    if (!m.response_topic.empty()) h.push_back({"reply-to", std::string(kTopicPrefix) + m.response_topic});
    if (p.redelivered) h.push_back({"redelivered", "true"});
    if (p.retain) h.push_back({"retain", "true"});
    for (const auto& [name, value] : m.user_properties) h.push_back({name, value});
    // Every header is client text from some protocol (an MQTT topic or
    // property may hold a line break): written through this version's
    // escaping, or, where the version cannot represent it (1.0: no escaping
    // at all; 1.1: no CR), the message is not delivered to this subscriber
    // (counted): a raw line break would inject headers or whole frames.
    for (const Header& x : h) {
        if (representable(x.name, "MESSAGE", version_, true) &&
            representable(x.value, "MESSAGE", version_, false))
            continue;
        ++undeliverable_;
        static log::Throttled throttle;
        throttle.warn(
            "stomp {}: message on {} not delivered: header {} cannot be written in STOMP {} ({} so far)",
            name(), printable(m.topic, 64), printable(x.name, 64), version_name(version_), undeliverable_);
        return false;
    }

    scratch_.clear();
    serialize("MESSAGE", h, {}, version_, scratch_);
    scratch_.pop_back();  // the NUL goes after the body
    if (!out.websocket()) {
        // A byte stream: no need to copy the payload next to the headers.
        out.message(scratch_, m.payload);
        out.message(std::string_view("\0", 1));
        return true;
    }
    // One WebSocket message per frame, text when all of it is UTF-8.
    bool text = valid_utf8(scratch_) && valid_utf8(m.payload);
    scratch_.append(m.payload);
    scratch_.push_back('\0');
    out.message(scratch_, {}, text);
    return true;
}

}  // namespace duplex::stomp
