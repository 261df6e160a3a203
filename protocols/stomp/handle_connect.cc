// CONNECT / STOMP: version negotiation, virtual host, authentication,
// heart-beat negotiation, answered by CONNECTED; and DISCONNECT.
#include "protocols/stomp/connection.h"

#include "base/log.h"
#include "base/random.h"
#include "base/version.h"

#include <algorithm>
#include <charconv>

namespace duplex::stomp {

namespace {

// The highest version both sides speak; a missing accept-version means 1.0.
bool negotiate(const std::string* accept, Version& out) {
    if (!accept) {
        out = Version::v10;
        return true;
    }
    bool found = false;
    std::string_view rest = *accept;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view v = rest.substr(0, comma);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
        Version candidate = Version::v10;
        bool known = true;
        if (v == "1.0") candidate = Version::v10;
        else if (v == "1.1") candidate = Version::v11;
        else if (v == "1.2") candidate = Version::v12;
        else known = false;
        if (known && (!found || candidate > out)) {
            out = candidate;
            found = true;
        }
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    return found;
}

// "cx,cy" -> two non-negative numbers of milliseconds.
bool parse_heart_beat(std::string_view text, int64_t& cx, int64_t& cy) {
    auto comma = text.find(',');
    if (comma == std::string_view::npos) return false;
    auto number = [](std::string_view s, int64_t& out) {
        while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
        while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return ec == std::errc() && end == s.data() + s.size() && out >= 0 && !s.empty();
    };
    return number(text.substr(0, comma), cx) && number(text.substr(comma + 1), cy);
}

}  // namespace

void Connection::handle_connect(Frame& f) {
    Version version = Version::v10;
    if (!negotiate(f.header("accept-version"), version)) {
        // No common version: ERROR with the versions we speak, then close.
        log::warn("stomp {}: no common version in accept-version '{}'", name(), *f.header("accept-version"));
        std::string body = "Supported protocol versions are 1.0 1.1 1.2\n";
        Header h[] = {{"version", "1.0,1.1,1.2"},
                      {"message", "unsupported protocol version"},
                      {"content-type", "text/plain"},
                      {"content-length", std::to_string(body.size())}};
        send_frame("ERROR", h, body);
        close("unsupported protocol version");
        return;
    }
    version_ = version;
    if (f.command == "STOMP" && version_ == Version::v10)
        return fail("the STOMP frame needs accept-version 1.1 or later", &f);

    // Virtual host: by default any (all share one topic space).
    const std::string* host = f.header("host");
    const auto& hosts = core_.config().stomp_hosts;
    if (!hosts.empty() && (!host || std::find(hosts.begin(), hosts.end(), *host) == hosts.end()))
        return fail("unknown virtual host", &f, host ? *host : "(no host header)");

    if (token_.empty()) token_ = random_hex();
    session_ = "stomp-" + token_;
    const std::string* login = f.header("login");
    const std::string* passcode = f.header("passcode");
    login_ = login ? *login : std::string();
    // An answer that comes later (an asynchronous hook) is kept by the gate
    // and this frame, left in the input, is parsed again.
    auto answer =
        login_gate_.ask(core_.security(),
                        {.protocol = "stomp",
                         .client_id = session_,
                         .username = login_,
                         .password = passcode ? std::optional<std::string_view>(*passcode) : std::nullopt,
                         .peer = transport_.peer(),
                         .tls_identity = transport_.tls_identity()},
                        [this] {
                            if (!closing_) update_reading();
                        });
    if (!answer) {
        update_reading();
        return;
    }
    LoginResult result = std::move(*answer);
    if (!result.ok) return fail("access refused: bad login or passcode", &f);
    login_ = std::move(result.username);
    authenticated_ = result.authenticated;
    credential_expires_ms_ = result.expires_at_ms;
    origin_ = core_.next_id();
    core_.security().enter(origin_, client_info());
    ClientInfo info = client_info();

    // heart-beat: client cx (it sends) / cy (it wants); we offer the
    // configured floor both ways and the larger value wins (STOMP 1.1).
    int64_t cx = 0, cy = 0;
    if (const std::string* hb = f.header("heart-beat"); hb && version_ != Version::v10) {
        if (!parse_heart_beat(*hb, cx, cy)) return fail("malformed heart-beat header", &f, *hb);
    }
    const int64_t floor = std::max(core_.config().stomp_heartbeat_ms, 1000);
    tx_interval_ms_ = cy ? std::max(cy, floor) : 0;
    rx_interval_ms_ = cx ? std::max(cx, floor) : 0;

    connected_ = true;
    outbox_.set_live(true);  // a slow reader now holds its publishers back (broker/outbox.h)
    last_rx_ms_ = now_ms();
    std::vector<Header> h;
    h.push_back({"version", version_name(version_)});
    h.push_back({"server", std::string("duplex/") + kVersion});
    h.push_back({"session", session_});
    if (version_ != Version::v10)
        h.push_back({"heart-beat", fmt::format("{},{}", cy ? floor : 0, cx ? floor : 0)});
    send_frame("CONNECTED", h);
    log::info("stomp {} connected (STOMP {}, login '{}', heart-beat out {} ms / in {} ms)", name(),
              version_name(version_), login_, tx_interval_ms_, rx_interval_ms_);
    core_.client_connected(info);
}

void Connection::handle_disconnect(Frame& f) {
    // The receipt goes out before the close: the client waits for it to know
    // everything it sent was processed.
    send_receipt(f);
    close("DISCONNECT");
}

}  // namespace duplex::stomp
