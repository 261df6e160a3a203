// One STOMP client connection (1.0, 1.1, 1.2; TCP or WebSocket): the
// protocol state machine between the frame codec and the broker core. Frame
// handling is split by command over handle_*.cc files; this header holds the
// state, all of which dies with the connection (STOMP has no sessions).
//
// Output is produced lazily in on_writable(): subscriptions hold MessagePtrs
// in their lanes of the connection's outbox (broker/outbox.h: one limit, one
// drop policy and one backpressure rule for the whole connection, the same
// as for MQTT sessions), MESSAGE frames are encoded only when the socket can
// take them. Control frames (CONNECTED, RECEIPT, ERROR) are encoded at once
// and go first.
#pragma once

#include "broker/backpressure.h"
#include "broker/core.h"
#include "broker/login_gate.h"
#include "broker/outbox.h"
#include "broker/queue.h"
#include "broker/retained_cursor.h"
#include "broker/subscriber.h"
#include "net/pending_messages.h"
#include "net/stream_buffer.h"
#include "net/transport.h"
#include "protocols/stomp/codec.h"
#include "protocols/stomp/destination.h"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace duplex::stomp {

enum class AckMode : uint8_t { Auto, Client, ClientIndividual };

class Connection;

// One SUBSCRIBE: a topic-tree subscriber (/topic) or a queue consumer
// (/queue, /temp-queue). Each subscription gets its own copy of a message,
// as STOMP requires (MESSAGE carries one `subscription`). Its messages wait
// in its own lane of the connection's outbox; `retain` marks a message sent
// because of the new subscription, `redelivered` one handed back before.
class Subscription final : public Subscriber, public QueueConsumer {
  public:
    Subscription(Connection& connection, Outbox& outbox, std::string id, Destination destination, AckMode ack,
                 size_t window)
        : connection_(connection),
          id(std::move(id)),
          destination(std::move(destination)),
          ack(ack),
          window(window),
          pending(outbox) {}

    Connection& connection_;
    const std::string id;
    const Destination destination;
    const AckMode ack;
    const size_t window;  // unacknowledged (client modes) or unsent (auto) messages at most

    Outbox::Lane pending;                  // not sent yet
    std::map<uint64_t, Outgoing> unacked;  // sent, by ack id (client modes)
    // Retained messages of a new /topic subscription not yet in `pending`:
    // they join it as the client drains (retained.cc). Null when none wait.
    std::unique_ptr<RetainedCursor> retained;

    // The client can be sent one more message now.
    bool may_send() const { return ack == AckMode::Auto || unacked.size() < window; }
    // The QoS a message is held with: a subscription that acknowledges
    // holds every message as reliable (never dropped first, holds its
    // publishers back rather than lose it).
    uint8_t held_qos(const Message& m) const {
        return ack == AckMode::Auto ? m.qos : std::max<uint8_t>(m.qos, 1);
    }

    // Retained messages: moves waiting ones into `pending` while the outbox
    // has room for them (Outbox::has_room_for_backlog).
    void refill_retained();
    void queue_retained(const MessagePtr& message);

    // Topic tree.
    Outbox* deliver(const MessagePtr& message, const Delivery& delivery) override;
    // Queue.
    bool can_accept() const override;
    void offer(Outgoing message) override;
};

// One step of a transaction, applied at COMMIT.
struct TxAction {
    enum class Kind : uint8_t { Send, Ack, Nack } kind;
    Destination destination;  // Send
    MessagePtr message;       // Send
    std::string ack_id;       // Ack / Nack
};

class Connection final : public net::ProtocolHandler, public HeldPublisher {
  public:
    Connection(Core& core, net::Transport& transport);
    ~Connection() override;

    void on_data(std::span<const uint8_t> bytes, bool text) override;
    bool on_writable(net::OutBuffer& out, size_t budget) override;
    void on_tick(int64_t now_ms) override;
    void on_closed() override;

    // From subscriptions.
    void subscription_has_output();
    void note_dropped(std::string_view topic);
    Outbox& outbox() { return outbox_; }
    bool accepting() const { return connected_ && !closing_; }
    uint64_t id() const { return transport_.id(); }
    // This connection's unguessable token (base/random.h): its STOMP session
    // id and the owner part of its temp queues' reply addresses.
    const std::string& token() const { return token_; }
    std::string name() const;  // "session (peer)" for logs
    ClientInfo client_info() const {
        return ClientInfo{.protocol = "stomp",
                          .client_id = session_,
                          .username = login_,
                          .peer = transport_.peer(),
                          .authenticated = authenticated_};
    }
    // The ACL's read rule for one message to a topic subscription.
    bool may_read(std::string_view topic) {
        Security& s = core_.security();
        return !s.reads_checked() || s.may_read(login_, authenticated_, session_, topic);
    }

  protected:
    void pause_input(bool) override { update_reading(); }
    void wake() override { transport_.request_write(); }

  private:
    long parse_one(std::span<const uint8_t> bytes);
    void dispatch(Frame& frame);

    void handle_connect(Frame& frame);
    void handle_disconnect(Frame& frame);
    void handle_send(Frame& frame);
    void handle_subscribe(Frame& frame);
    void handle_unsubscribe(Frame& frame);
    void handle_ack(Frame& frame, bool ack);
    void handle_begin(Frame& frame);
    void handle_commit(Frame& frame);
    void handle_abort(Frame& frame);

    // Publishes (topic) or enqueues (queue) a message built from a SEND.
    void route(const Destination& d, const MessagePtr& message);
    // Applies ACK (ack=true) or NACK for `ack_id`; false with `error` set if unknown.
    bool apply_ack(const std::string& ack_id, bool ack, std::string& error);
    // The retained messages for a new /topic subscription (retained.cc).
    void send_retained(Subscription& s);
    // Gives back messages of a subscription (to its queue, or drops them) and
    // removes it from the tree / queue.
    void end_subscription(Subscription& s);
    std::string ack_header(const Frame& frame) const;

    // Resolves a destination header; on failure sends ERROR (and closes).
    bool resolve(const Frame& frame, bool for_subscribe, Destination& out);

    // Queues a control frame (CONNECTED, RECEIPT, ERROR), sent before MESSAGEs.
    void send_frame(std::string_view command, std::span<const Header> headers, std::string_view body = {});
    void send_receipt(const Frame& frame);
    // ERROR frame naming the problem (with receipt-id if the frame asked for a
    // receipt), then close.
    void fail(std::string_view message, const Frame* frame = nullptr, std::string_view detail = {});
    void close(std::string_view why);
    void cleanup();
    // False (nothing written, counted) if a header cannot be written in this
    // STOMP version.
    bool write_message(net::OutBuffer& out, Subscription& s, const Outgoing& p, uint64_t ack_id);
    // The key in Core::queues() of a subscription's or destination's queue.
    std::string queue_key_of(const Destination& d) const;

    Core& core_;
    net::Transport& transport_;
    net::StreamBuffer input_;
    Version version_ = Version::v12;
    bool connected_ = false;
    bool closing_ = false;
    bool cleaned_ = false;
    std::string session_;  // broker-assigned session id: "stomp-" + token_
    std::string token_;    // random, set at CONNECT (token())
    std::string login_;    // the identity: verified when authenticated_ (broker/security.h)
    bool authenticated_ = false;
    uint64_t origin_ = 0;                // Message::origin of our SENDs; our identity in Security
    int64_t credential_expires_ms_ = 0;  // a token's expiry: closed then; 0 = never
    // An asynchronous login in progress: the CONNECT frame stays unconsumed
    // in input_ and is parsed again once the gate has the answer.
    LoginGate login_gate_;
    int64_t opened_ms_ = 0;
    int64_t last_rx_ms_ = 0;
    int64_t partial_since_ms_ = 0;
    int64_t backlog_since_ms_ = 0;  // control output over its bound since; 0 = not
    size_t scanned_ = 0;  // bytes of the incomplete frame already known to hold no NUL  // an incomplete
                          // packet/frame is waiting since; 0 = none
    int64_t last_tx_ms_ = 0;
    int64_t rx_interval_ms_ = 0;  // client promised to send at least this often; 0 = never checked
    int64_t tx_interval_ms_ = 0;  // we send at least this often; 0 = no heart-beats

    // Before the subscriptions: their lanes leave it when they go.
    Outbox outbox_;
    std::map<std::string, std::unique_ptr<Subscription>, std::less<>> subscriptions_;
    std::map<std::string, std::vector<TxAction>, std::less<>> transactions_;
    size_t tx_bytes_ = 0;  // payload bytes held by open transactions
    void forget_transaction_bytes(const std::vector<TxAction>& actions) {
        for (const TxAction& a : actions)
            if (a.message) tx_bytes_ -= a.message->payload.size();
    }
    std::vector<std::string> temp_queues_;  // keys of temp queues used by this connection
    // Not reading while held back or owing too much control output (RECEIPTs
    // a client does not read); the heart-beat clock stands still meanwhile.
    void update_reading();
    bool reading_paused_ = false;
    uint64_t last_ack_id_ = 0;
    uint64_t undeliverable_ = 0;  // messages a header of which this version cannot carry

    net::PendingMessages control_;  // encoded control frames
    std::string scratch_;
    std::vector<Header> headers_;  // scratch for encoding MESSAGE frames
};

}  // namespace duplex::stomp
