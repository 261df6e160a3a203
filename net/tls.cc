#include "net/tls.h"

#include <fmt/core.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>

namespace duplex::net {

namespace {

// TLS 1.2 suites when the config names none: forward secrecy (ECDHE) and
// AEAD only, as Mozilla's "intermediate" profile; TLS 1.3 keeps OpenSSL's
// default suites (all of them AEAD with forward secrecy).
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// RFC 5280's upper bound for a common name (ub-common-name).
constexpr int kMaxCommonName = 64;

// OpenSSL's queued errors as one line (and the queue emptied).
std::string openssl_errors(std::string_view what) {
    std::string text(what);
    bool first = true;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        text += first ? ": " : "; ";
        // "error:0A000086:SSL routines::certificate verify failed": the reason is the part after the last
        // ':'.
        const char* reason = std::strrchr(buf, ':');
        text += reason && reason[1] ? reason + 1 : buf;
        first = false;
    }
    return text;
}

// A key file with a passphrase must fail, not make OpenSSL prompt on the
// terminal (which would block the daemon).
int no_passphrase(char*, int, int, void*) { return 0; }

struct SslCtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

long bio_ctrl(BIO*, int cmd, long, void*) {
    // SSL flushes after each flight; everything else (pending counts, kTLS
    // queries) is "not supported" as for any source/sink BIO.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

}  // namespace

SSL_CTX* TlsContext::make(const TlsOptions& o, std::string& error) {
    std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) {
        error = openssl_errors("SSL_CTX_new");
        return nullptr;
    }
    SSL_CTX* c = ctx.get();
    ERR_clear_error();
    int min = o.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(c, min);
    // Client-initiated renegotiation costs us a handshake per request (a
    // cheap DoS) and nothing needs it; compression leaks plaintext (CRIME).
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Idle connections give their 16 KiB record buffers back: 100k idle
    // devices must not cost 3 GB.
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    // No server-side session cache: it grows with every client. Resumption
    // still works through (stateless) tickets.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    static const unsigned char kSessionContext[] = "duplex";
    SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_default_passwd_cb(c, no_passphrase);
    const std::string ciphers = o.ciphers.empty() ? kDefaultCiphers : o.ciphers;
    if (SSL_CTX_set_cipher_list(c, ciphers.c_str()) != 1) {
        error = openssl_errors(fmt::format("tls_ciphers '{}'", ciphers));
        return nullptr;
    }
    if (SSL_CTX_use_certificate_chain_file(c, o.cert_file.c_str()) != 1) {
        error = openssl_errors(fmt::format("tls_cert_file '{}'", o.cert_file));
        return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(c, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        error = openssl_errors(fmt::format("tls_key_file '{}'", o.key_file));
        return nullptr;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        error = openssl_errors(
            fmt::format("tls_key_file '{}' does not belong to tls_cert_file '{}'", o.key_file, o.cert_file));
        return nullptr;
    }
    if (!o.ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(c, o.ca_file.c_str(), nullptr) != 1) {
            error = openssl_errors(fmt::format("tls_ca_file '{}'", o.ca_file));
            return nullptr;
        }
        // The CA names sent in CertificateRequest, so clients pick the right certificate.
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str()))
            SSL_CTX_set_client_CA_list(c, names);
        // A certificate that is presented must verify; without
        // require_certificate a client may present none.
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER | (o.require_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           nullptr);
    } else if (o.require_certificate) {
        error = "tls_require_certificate needs tls_ca_file (the CA that signs client certificates)";
        return nullptr;
    }
    return ctx.release();
}

std::unique_ptr<TlsContext> TlsContext::create(const TlsOptions& options, std::string& error) {
    std::unique_ptr<TlsContext> t(new TlsContext(options));
    t->ctx_ = make(t->options_, error);
    if (!t->ctx_) return nullptr;
    return t;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::string TlsContext::reload() {
    std::string error;
    SSL_CTX* fresh = make(options_, error);
    if (!fresh) return error;
    // Sessions made from the old context hold references to it: it goes
    // with the last of them.
    SSL_CTX_free(ctx_);
    ctx_ = fresh;
    return {};
}

std::unique_ptr<TlsSession> TlsContext::new_session(std::string& output) const {
    // One method for every session, made once and kept for the process.
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "duplex-tcp");
        BIO_meth_set_read(m, TlsSession::bio_read);
        BIO_meth_set_write(m, TlsSession::bio_write);
        BIO_meth_set_ctrl(m, bio_ctrl);
        BIO_meth_set_create(m, bio_create);
        return m;
    }();
    SSL* ssl = SSL_new(ctx_);
    if (!ssl) return nullptr;
    BIO* bio = method ? BIO_new(method) : nullptr;
    if (!bio) {
        SSL_free(ssl);
        return nullptr;
    }
    std::unique_ptr<TlsSession> s(new TlsSession(ssl, output));
    BIO_set_data(bio, s.get());
    SSL_set_bio(ssl, bio, bio);  // one BIO both ways: SSL owns it
    SSL_set_accept_state(ssl);
    return s;
}

TlsSession::TlsSession(SSL* ssl, std::string& output) : ssl_(ssl), output_(output) {}

TlsSession::~TlsSession() { SSL_free(ssl_); }

int TlsSession::bio_read(BIO* b, char* data, int size) {
    auto* s = static_cast<TlsSession*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    if (s->input_.empty()) {
        BIO_set_retry_read(b);  // SSL_ERROR_WANT_READ: wait for the next recv()
        return -1;
    }
    size_t n = std::min(s->input_.size(), static_cast<size_t>(size));
    std::memcpy(data, s->input_.data(), n);
    s->input_ = s->input_.subspan(n);
    return static_cast<int>(n);
}

int TlsSession::bio_write(BIO* b, const char* data, int size) {
    auto* s = static_cast<TlsSession*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    s->output_.append(data, static_cast<size_t>(size));
    return size;
}

TlsSession::Status TlsSession::receive(std::span<const uint8_t> ciphertext, const Plaintext& plaintext) {
    // 16 KiB: one TLS record's plaintext at most, so one call per record.
    static thread_local uint8_t plain[16 * 1024];
    input_ = ciphertext;
    Status status = Status::Ok;
    for (;;) {
        ERR_clear_error();
        size_t n = 0;
        if (SSL_read_ex(ssl_, plain, sizeof plain, &n) == 1) {
            if (!established_) on_established();
            plaintext(std::span(plain, n));
            continue;
        }
        int e = SSL_get_error(ssl_, 0);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            // Input used up (our BIO never refuses a write). A handshake that
            // completed without application data yet is established too.
            if (!established_ && SSL_is_init_finished(ssl_)) on_established();
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            status = Status::Closed;
            break;
        }
        error_ = e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 ? std::string("unexpected end of input")
                                                                 : openssl_errors("");
        if (error_.starts_with(": ")) error_.erase(0, 2);
        if (error_.empty()) error_ = fmt::format("SSL error {}", e);
        status = Status::Failed;
        break;
    }
    input_ = {};
    return status;
}

bool TlsSession::send(std::string_view plain) {
    if (!established_ || shut_down_) return false;
    if (plain.empty()) return true;
    ERR_clear_error();
    size_t written = 0;
    return SSL_write_ex(ssl_, plain.data(), plain.size(), &written) == 1 && written == plain.size();
}

void TlsSession::shutdown() {
    if (shut_down_ || !established_) return;
    shut_down_ = true;
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify into the output; the peer's answer is not awaited
}

void TlsSession::on_established() {
    established_ = true;
    X509* cert = SSL_get0_peer_certificate(ssl_);
    if (!cert || SSL_get_verify_result(ssl_) != X509_V_OK) return;
    X509_NAME* name = X509_get_subject_name(cert);
    int i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
    if (i < 0) return;
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    // A name with a NUL in it (or an oversized one) is no identity: it could
    // make "admin\0.evil" read as "admin" somewhere downstream.
    if (len > 0 && len <= kMaxCommonName && !std::memchr(utf8, 0, static_cast<size_t>(len)))
        identity_.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
}

}  // namespace duplex::net
