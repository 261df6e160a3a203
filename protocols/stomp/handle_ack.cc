// ACK and NACK (STOMP 1.2: `id` = the MESSAGE's `ack` header; 1.0/1.1:
// `message-id`). client mode acknowledges cumulatively (every earlier message
// of that subscription too), client-individual one message. A NACKed queue
// message is redelivered (preferably to another consumer); a NACKed topic
// message is dropped.
#include "protocols/stomp/connection.h"

#include "base/log.h"

#include <charconv>

namespace duplex::stomp {

std::string Connection::ack_header(const Frame& f) const {
    const std::string* id = version_ == Version::v12 ? f.header("id") : f.header("message-id");
    if (!id) id = f.header(version_ == Version::v12 ? "message-id" : "id");  // lenient
    return id ? *id : std::string();
}

void Connection::handle_ack(Frame& f, bool ack) {
    std::string id = ack_header(f);
    if (id.empty())
        return fail(version_ == Version::v12 ? "missing id header" : "missing message-id header", &f);
    if (const std::string* tx = f.header("transaction")) {
        auto it = transactions_.find(*tx);
        if (it == transactions_.end()) return fail("unknown transaction", &f, *tx);
        if (it->second.size() >= core_.limits().max_queued_messages)
            return fail("too many frames in transaction", &f, *tx);
        it->second.push_back({ack ? TxAction::Kind::Ack : TxAction::Kind::Nack, {}, {}, id});
        send_receipt(f);
        return;
    }
    std::string error;
    if (!apply_ack(id, ack, error)) return fail(error, &f, id);
    send_receipt(f);
}

bool Connection::apply_ack(const std::string& ack_id, bool ack, std::string& error) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(ack_id.data(), ack_id.data() + ack_id.size(), n);
    if (ec != std::errc() || end != ack_id.data() + ack_id.size()) {
        error = ack ? "ACK for an unknown message" : "NACK for an unknown message";
        return false;
    }
    for (auto& [sid, sp] : subscriptions_) {
        Subscription& s = *sp;
        auto it = s.unacked.find(n);
        if (it == s.unacked.end()) continue;
        auto first = s.ack == AckMode::Client ? s.unacked.begin() : it;
        auto last = std::next(it);
        Queue* q = s.destination.is_queue() ? core_.queues().find(queue_key_of(s.destination)) : nullptr;
        if (!ack && q) {
            // Back to the queue, oldest in front.
            for (auto r = std::make_reverse_iterator(last); r != std::make_reverse_iterator(first); ++r)
                q->requeue(r->second.message, &s);
        }
        s.unacked.erase(first, last);
        // Room in the window: more from the queue, or more of our pending.
        if (q) q->dispatch();
        if (!s.pending.empty()) transport_.request_write();
        return true;
    }
    // Already acknowledged (cumulatively, or before a redelivery) counts as
    // unknown: STOMP makes this an error.
    error = ack ? "ACK for an unknown message" : "NACK for an unknown message";
    return false;
}

}  // namespace duplex::stomp
