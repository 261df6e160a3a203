// MESSAGE frames, encoded when the socket can take them: Message -> headers
// (the mapping table in docs/stomp.md).
#include "protocols/stomp/connection.h"

#include "base/utf8.h"

namespace duplex::stomp {

namespace {
// STOMP 1.0 cannot escape line breaks in headers: such headers are left out.
bool header_ok(Version v, const std::string& name, const std::string& value) {
    if (v != Version::v10) return true;
    return name.find_first_of("\r\n:") == std::string::npos &&
           value.find_first_of("\r\n") == std::string::npos;
}
}  // namespace

void Connection::write_message(net::OutBuffer& out, Subscription& s, const Outgoing& p, uint64_t ack_id) {
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
    for (const auto& [name, value] : m.user_properties)
        if (header_ok(version_, name, value)) h.push_back({name, value});

    scratch_.clear();
    serialize("MESSAGE", h, {}, version_, scratch_);
    scratch_.pop_back();  // the NUL goes after the body
    if (!out.websocket()) {
        // A byte stream: no need to copy the payload next to the headers.
        out.message(scratch_, m.payload);
        out.message(std::string_view("\0", 1));
        return;
    }
    // One WebSocket message per frame, text when all of it is UTF-8.
    bool text = valid_utf8(scratch_) && valid_utf8(m.payload);
    scratch_.append(m.payload);
    scratch_.push_back('\0');
    out.message(scratch_, {}, text);
}

}  // namespace duplex::stomp
