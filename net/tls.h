// TLS on our own sockets (OpenSSL 3): the server context every TLS listener
// shares (TlsContext: certificates, client-certificate policy, protocol
// versions and ciphers; reloadable) and the TLS state of one connection
// (TlsSession). TcpStreams keeps the socket, the reads, the writes and the
// unsent remainder; a session only turns ciphertext into plaintext and back.
//
// Why memory I/O and not SSL_set_fd: with SSL_set_fd OpenSSL reads and writes
// the socket itself, so what the kernel did not take would sit inside the SSL
// object (SSL_ERROR_WANT_WRITE, retried with the same buffer) instead of in
// the connection's `unsent`, and backpressure (kUnsentBound, stalled output,
// the close-flush deadline) would need a second implementation for TLS.
// Instead the session's BIO reads from the bytes TcpStreams just received
// and appends what OpenSSL produces to a string the caller names: SSL_write
// always completes, the ciphertext then takes the same road as plaintext
// does on a plain connection, and the one recv() per round stays the only
// read. The BIO is ours rather than BIO_s_mem or a BIO pair so an idle
// connection holds no buffer of its own: with SSL_MODE_RELEASE_BUFFERS
// OpenSSL frees its record buffers when idle and we keep nothing either.
//
// Lifetimes: a TlsContext outlives every session made from it only in the
// sense that matters: each session holds a reference to the SSL_CTX it was
// made from (OpenSSL counts them), so reload() may replace the context, or
// the context go, while existing connections keep theirs. The `output` string given to a session
// must outlive it. Threading: the loop thread only (a session and its
// context are not shared across threads). Errors: TlsContext::create() and
// reload() return error texts (files, keys, ciphers); a session reports
// Failed with error() naming OpenSSL's reason.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "duplex/config.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct bio_st BIO;

namespace duplex::net {

class TlsSession;

class TlsContext {
  public:
    // Loads the certificate chain, the key and (if set) the CA file. Returns
    // null and sets `error` if any of them cannot be used.
    static std::unique_ptr<TlsContext> create(const TlsOptions& options, std::string& error);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    // Loads the same files again into a new SSL_CTX for new connections;
    // existing connections keep the context they were made with. On error
    // (returned, empty on success) the current context stays in use.
    // Reads a few KiB of local files: the only blocking this does.
    std::string reload();

    // A session for a newly accepted connection; ciphertext it produces is
    // appended to `output`. Null if OpenSSL cannot allocate one.
    std::unique_ptr<TlsSession> new_session(std::string& output) const;

  private:
    TlsContext(const TlsOptions& options) : options_(options) {}
    static SSL_CTX* make(const TlsOptions& options, std::string& error);

    TlsOptions options_;
    SSL_CTX* ctx_ = nullptr;
};

class TlsSession {
  public:
    enum class Status : uint8_t {
        Ok,      // all input consumed; output (if any) appended
        Closed,  // the peer sent close_notify: treat as end of stream
        Failed,  // handshake or record error: error() says why; close
    };
    using Plaintext = std::function<void(std::span<uint8_t>)>;

    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;

    // Ciphertext from the peer: drives the handshake, then calls `plaintext`
    // with each decrypted chunk (at most 16 KiB each, valid during the call
    // only; the callback may call send()). Handshake messages and alerts
    // are appended to the output string.
    Status receive(std::span<const uint8_t> ciphertext, const Plaintext& plaintext);
    // Encrypts `plain` into the output string. Only once established();
    // false (nothing appended) before, or on an OpenSSL error.
    bool send(std::string_view plain);
    // Appends close_notify (once), for an orderly close we initiate.
    void shutdown();

    bool established() const { return established_; }
    // The verified client certificate's subject CN; empty without one.
    std::string_view identity() const { return identity_; }
    const std::string& error() const { return error_; }

  private:
    friend class TlsContext;
    TlsSession(SSL* ssl, std::string& output);
    void on_established();
    static int bio_read(BIO* b, char* data, int size);
    static int bio_write(BIO* b, const char* data, int size);

    SSL* ssl_;
    std::string& output_;
    std::span<const uint8_t> input_;  // during receive() only
    std::string identity_;
    std::string error_;
    bool established_ = false;
    bool shut_down_ = false;
};

}  // namespace duplex::net
