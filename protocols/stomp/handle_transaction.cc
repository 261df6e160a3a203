// BEGIN, COMMIT, ABORT. SENDs and ACK/NACKs naming a transaction are kept
// (bounded) and take effect only at COMMIT, in order; ABORT and a closed
// connection discard them.
#include "protocols/stomp/connection.h"

#include "base/log.h"

namespace duplex::stomp {

void Connection::handle_begin(Frame& f) {
    const std::string* tx = f.header("transaction");
    if (!tx) return fail("missing transaction header", &f);
    if (transactions_.count(*tx)) return fail("transaction already started", &f, *tx);
    if (transactions_.size() >= 64) return fail("too many open transactions", &f);
    transactions_.emplace(*tx, std::vector<TxAction>{});
    send_receipt(f);
}

void Connection::handle_commit(Frame& f) {
    const std::string* tx = f.header("transaction");
    if (!tx) return fail("missing transaction header", &f);
    auto it = transactions_.find(*tx);
    if (it == transactions_.end()) return fail("unknown transaction", &f, *tx);
    std::vector<TxAction> actions = std::move(it->second);
    transactions_.erase(it);
    forget_transaction_bytes(actions);
    for (TxAction& a : actions) {
        if (a.kind == TxAction::Kind::Send) {
            route(a.destination, a.message);
        } else {
            std::string error;
            if (!apply_ack(a.ack_id, a.kind == TxAction::Kind::Ack, error))
                return fail(error, &f, fmt::format("{} (in transaction {})", a.ack_id, *tx));
        }
    }
    send_receipt(f);
}

void Connection::handle_abort(Frame& f) {
    const std::string* tx = f.header("transaction");
    if (!tx) return fail("missing transaction header", &f);
    auto it = transactions_.find(*tx);
    if (it == transactions_.end()) return fail("unknown transaction", &f, *tx);
    forget_transaction_bytes(it->second);
    transactions_.erase(it);
    send_receipt(f);
}

}  // namespace duplex::stomp
