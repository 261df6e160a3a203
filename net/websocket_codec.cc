#include "net/websocket_codec.h"

#include "base/base64.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace duplex::net::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Calls each(token) for the comma-separated tokens of a header value.
template <class Each>
void for_each_token(std::string_view value, Each&& each) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view token = trim(value.substr(0, comma));
        if (!token.empty()) each(token);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

bool has_token(std::string_view value, std::string_view wanted) {
    bool found = false;
    for_each_token(value, [&](std::string_view t) { found = found || iequals(t, wanted); });
    return found;
}

// A Sec-WebSocket-Key is the base64 of 16 bytes: 22 characters and "==".
bool valid_key(std::string_view key) {
    if (key.size() != 24 || key.substr(22) != "==") return false;
    return std::all_of(key.begin(), key.begin() + 22, [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
               c == '/';
    });
}

Handshake bad(Handshake h, int status, std::string why) {
    h.status = Handshake::Status::Bad;
    h.http_status = status;
    h.error = std::move(why);
    return h;
}

}  // namespace

Handshake parse_handshake(std::string_view bytes, size_t max_head_bytes) {
    Handshake h;
    size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (bytes.size() > max_head_bytes) return bad(h, 431, "request head too large");
        return h;  // NeedMore
    }
    h.head_size = end + 4;
    if (h.head_size > max_head_bytes) return bad(h, 431, "request head too large");
    std::string_view head = bytes.substr(0, end);

    // Request line: METHOD SP target SP HTTP/x.y
    size_t eol = head.find("\r\n");
    std::string_view request_line = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return bad(h, 400, "malformed request line");
    std::string_view method = request_line.substr(0, sp1);
    std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = request_line.substr(sp2 + 1);
    if (target.empty() || version.substr(0, 5) != "HTTP/") return bad(h, 400, "malformed request line");
    h.path = std::string(target);

    bool upgrade = false, connection_upgrade = false, have_version = false;
    std::string_view ws_version;
    int keys = 0, origins = 0, hosts = 0;
    while (!head.empty()) {
        eol = head.find("\r\n");
        std::string_view line = head.substr(0, eol);
        head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return bad(h, 400, "malformed header line");
        std::string_view name = line.substr(0, colon);
        std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "upgrade")) {
            upgrade = upgrade || has_token(value, "websocket");
        } else if (iequals(name, "connection")) {
            connection_upgrade = connection_upgrade || has_token(value, "upgrade");
        } else if (iequals(name, "sec-websocket-key")) {
            h.key = std::string(value);
            ++keys;
        } else if (iequals(name, "sec-websocket-version")) {
            ws_version = value;
            have_version = true;
        } else if (iequals(name, "sec-websocket-protocol")) {
            for_each_token(value, [&](std::string_view t) { h.subprotocols.emplace_back(t); });
        } else if (iequals(name, "origin")) {
            // Two Origins would let a check read one and a browser mean the other.
            if (origins++) return bad(h, 400, "more than one Origin header");
            h.origin = std::string(value);
        } else if (iequals(name, "host")) {
            if (hosts++) return bad(h, 400, "more than one Host header");
            h.host = std::string(value);
        }
    }
    if (!upgrade) {
        h.status = Handshake::Status::NotWebSocket;
        return h;
    }
    if (method != "GET") return bad(h, 400, "WebSocket upgrade must be a GET");
    if (version != "HTTP/1.1") return bad(h, 400, "WebSocket upgrade needs HTTP/1.1");
    if (!connection_upgrade) return bad(h, 400, "Connection header lacks \"Upgrade\"");
    if (keys != 1 || !valid_key(h.key)) return bad(h, 400, "missing or invalid Sec-WebSocket-Key");
    if (!have_version || ws_version != "13")
        return bad(h, 426, "unsupported Sec-WebSocket-Version (13 only)");
    h.status = Handshake::Status::Upgrade;
    return h;
}

std::string accept_key(std::string_view key) {
    std::string text(key);
    text.append(kGuid);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string response_101(std::string_view key, std::string_view subprotocol) {
    std::string r = fmt::format(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: {}\r\n",
        accept_key(key));
    if (!subprotocol.empty()) r += fmt::format("Sec-WebSocket-Protocol: {}\r\n", subprotocol);
    r += "\r\n";
    return r;
}

std::string response_error(int http_status, std::string_view reason) {
    const char* text = http_status == 426   ? "Upgrade Required"
                       : http_status == 431 ? "Request Header Fields Too Large"
                       : http_status == 503 ? "Service Unavailable"
                                            : "Bad Request";
    std::string body = fmt::format("{}\n", reason);
    std::string r = fmt::format(
        "HTTP/1.1 {} {}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
        http_status, text, body.size());
    if (http_status == 426) r += "Sec-WebSocket-Version: 13\r\n";
    r += "\r\n";
    r += body;
    return r;
}

void FrameDecoder::unmask(uint8_t* p, size_t n) {
    // The mask as it applies from here on, then eight bytes per step: the
    // byte-at-a-time loop was a fifth of the broker's instructions per
    // message.
    uint8_t m[8];
    for (int k = 0; k < 8; ++k) m[k] = mask_[(mask_pos_ + k) & 3];
    uint64_t m64;
    std::memcpy(&m64, m, 8);
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t v;
        std::memcpy(&v, p + k, 8);
        v ^= m64;
        std::memcpy(p + k, &v, 8);
    }
    for (; k < n; ++k) p[k] ^= m[k & 3];
    mask_pos_ = static_cast<uint8_t>((mask_pos_ + n) & 3);
}

uint16_t FrameDecoder::fail(std::string& error, const char* why, uint16_t code) {
    done_ = true;
    error = why;
    return code;
}

uint16_t FrameDecoder::end_control(FrameSink& sink, std::string& error) {
    std::string payload = control_ ? std::move(*control_) : std::string();
    control_.reset();
    auto bytes = std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
    if (opcode_ == kOpPing) {
        sink.on_ping(bytes);
    } else if (opcode_ == kOpClose) {
        uint16_t code = 1005;  // "no status code present"
        std::string_view reason;
        if (payload.size() == 1) return fail(error, "close frame with a 1-byte payload");
        if (payload.size() >= 2) {
            code = static_cast<uint16_t>((uint8_t(payload[0]) << 8) | uint8_t(payload[1]));
            // Codes a peer may send (RFC 6455 7.4.1, 7.4.2).
            bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                         (code >= 3000 && code <= 4999);
            if (!valid) return fail(error, "invalid close code");
            reason = std::string_view(payload).substr(2);
            if (!valid_utf8(reason)) return fail(error, "close reason is not valid UTF-8", kCloseInvalidData);
        }
        done_ = true;
        sink.on_close(code, reason);
    } else if (opcode_ == kOpPong) {
        sink.on_pong();
    }
    return 0;
}

uint16_t FrameDecoder::feed(std::span<uint8_t> bytes, FrameSink& sink, std::string& error) {
    size_t i = 0;
    while (i < bytes.size() && !done_) {
        if (!in_payload_) {
            header_[header_len_++] = bytes[i++];
            if (header_len_ < 2) continue;
            uint8_t b0 = header_[0], b1 = header_[1];
            size_t need = 2 + ((b1 & 0x7F) == 126 ? 2 : (b1 & 0x7F) == 127 ? 8 : 0) + 4;
            if (header_len_ == 2) {
                // Checks that do not need the rest of the header.
                if (b0 & 0x70) return fail(error, "reserved bits set (no extension was negotiated)");
                uint8_t op = b0 & 0x0F;
                bool control = op & 0x08;
                if (op != kOpContinuation && op != kOpText && op != kOpBinary && op != kOpClose &&
                    op != kOpPing && op != kOpPong)
                    return fail(error, "unknown opcode");
                if (!(b1 & 0x80)) return fail(error, "client frame not masked");
                if (control && !(b0 & 0x80)) return fail(error, "fragmented control frame");
                if (control && (b1 & 0x7F) > 125) return fail(error, "control frame payload over 125 bytes");
                if (op == kOpContinuation && !in_message_)
                    return fail(error, "continuation frame with no message open");
                if ((op == kOpText || op == kOpBinary) && in_message_)
                    return fail(error, "new data frame inside a fragmented message");
            }
            if (header_len_ < need) continue;
            // Header complete.
            uint64_t len = b1 & 0x7F;
            size_t pos = 2;
            if (len == 126) {
                len = (uint64_t(header_[2]) << 8) | header_[3];
                pos = 4;
            } else if (len == 127) {
                len = 0;
                for (int k = 0; k < 8; ++k) len = (len << 8) | header_[2 + k];
                if (len >> 63) return fail(error, "frame length with the high bit set");
                pos = 10;
            }
            std::memcpy(mask_, header_ + pos, 4);
            mask_pos_ = 0;
            opcode_ = b0 & 0x0F;
            fin_ = b0 & 0x80;
            remaining_ = len;
            header_len_ = 0;
            in_payload_ = true;
            if (opcode_ == kOpText || opcode_ == kOpBinary) {
                in_message_ = true;
                message_text_ = opcode_ == kOpText;
                utf8_.reset();
            }
        }
        // Payload (possibly empty).
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size() - i));
        uint8_t* p = bytes.data() + i;
        unmask(p, take);
        remaining_ -= take;
        i += take;
        bool control = opcode_ & 0x08;
        if (control) {
            if (take) {
                if (!control_) control_ = std::make_unique<std::string>();
                control_->append(reinterpret_cast<const char*>(p), take);
            }
        } else if (take) {
            if (message_text_ && !utf8_.feed(std::string_view(reinterpret_cast<const char*>(p), take)))
                return fail(error, "text message is not valid UTF-8", kCloseInvalidData);
            sink.on_data(std::span<const uint8_t>(p, take), message_text_);
        }
        if (remaining_ == 0) {
            in_payload_ = false;
            if (control) {
                if (uint16_t code = end_control(sink, error)) return code;
            } else if (fin_) {
                in_message_ = false;
                if (message_text_ && !utf8_.complete())
                    return fail(error, "text message ends inside a UTF-8 sequence", kCloseInvalidData);
                sink.on_message_end();
            }
        }
    }
    return 0;
}

void append_frame(std::string& out, uint8_t opcode, std::string_view payload) {
    out.push_back(static_cast<char>(0x80 | opcode));
    size_t len = payload.size();
    if (len < 126) {
        out.push_back(static_cast<char>(len));
    } else if (len <= 0xFFFF) {
        out.push_back(126);
        out.push_back(static_cast<char>(len >> 8));
        out.push_back(static_cast<char>(len));
    } else {
        out.push_back(127);
        for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(uint64_t(len) >> shift));
    }
    out.append(payload);
}

void append_close(std::string& out, uint16_t code, std::string_view reason) {
    std::string payload;
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code));
    payload.append(reason.substr(0, 123));
    append_frame(out, kOpClose, payload);
}

}  // namespace duplex::net::ws
