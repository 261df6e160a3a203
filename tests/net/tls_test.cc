// net/tls: the server session driven over memory by a client SSL in the
// test (no sockets): handshake, data both ways, the client certificate's CN
// as identity() only when it verified, garbage and close_notify, and reload
// keeping the old context when the new files are bad. The PKI comes from
// tests/integration/tls_pki.py (openssl CLI) in a temporary directory.
#include "net/tls.h"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using duplex::TlsOptions;
using duplex::net::TlsContext;
using duplex::net::TlsSession;

namespace {

struct Pki {
    std::string dir;
    Pki() {
        char tmpl[] = "/tmp/duplex-tls-unit-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        const char* script = std::getenv("DUPLEX_TLS_PKI");
        REQUIRE_MESSAGE(script, "DUPLEX_TLS_PKI (tls_pki.py) is not set");
        REQUIRE(std::system((std::string("/usr/bin/python3 ") + script + " " + dir + " > /dev/null").c_str()) == 0);
    }
    ~Pki() { fs::remove_all(dir); }
    std::string operator()(const std::string& name) const { return dir + "/" + name; }
};

const Pki& pki() {
    static Pki p;
    return p;
}

TlsOptions server_options(bool with_ca = false) {
    TlsOptions o;
    o.cert_file = pki()("server.crt");
    o.key_file = pki()("server.key");
    if (with_ca) o.ca_file = pki()("ca.crt");
    return o;
}

// A client over two memory BIOs, and the server session it talks to.
struct Pair {
    SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
    SSL* client = nullptr;
    BIO* to_client = BIO_new(BIO_s_mem());
    BIO* from_client = BIO_new(BIO_s_mem());
    std::string server_out;
    std::unique_ptr<TlsSession> server;
    std::string plaintext;  // what the server decrypted
    TlsSession::Status last = TlsSession::Status::Ok;

    Pair(const TlsContext& ctx, const std::string& ca, const char* cert = nullptr, const char* key = nullptr) {
        REQUIRE(SSL_CTX_load_verify_locations(cctx, pki()(ca).c_str(), nullptr) == 1);
        SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);
        if (cert) {
            REQUIRE(SSL_CTX_use_certificate_file(cctx, pki()(cert).c_str(), SSL_FILETYPE_PEM) == 1);
            REQUIRE(SSL_CTX_use_PrivateKey_file(cctx, pki()(key).c_str(), SSL_FILETYPE_PEM) == 1);
        }
        client = SSL_new(cctx);
        SSL_set_bio(client, to_client, from_client);
        SSL_set_tlsext_host_name(client, "localhost");
        SSL_set1_host(client, "localhost");
        SSL_set_connect_state(client);
        server = ctx.new_session(server_out);
        REQUIRE(server);
    }
    ~Pair() {
        server.reset();
        SSL_free(client);
        SSL_CTX_free(cctx);
    }

    // Moves bytes both ways until neither side has anything to say.
    void pump() {
        for (int i = 0; i < 20; ++i) {
            SSL_do_handshake(client);
            char buf[65536];
            std::string c2s;
            int n;
            while ((n = BIO_read(from_client, buf, sizeof buf)) > 0) c2s.append(buf, size_t(n));
            if (!c2s.empty())
                last = server->receive(std::span(reinterpret_cast<const uint8_t*>(c2s.data()), c2s.size()),
                                       [&](std::span<uint8_t> p) { plaintext.append(p.begin(), p.end()); });
            bool moved = !c2s.empty() || !server_out.empty();
            if (!server_out.empty()) {
                BIO_write(to_client, server_out.data(), int(server_out.size()));
                server_out.clear();
            }
            if (!moved || last != TlsSession::Status::Ok) return;
        }
    }
    std::string client_read() {
        std::string out;
        char buf[4096];
        int n;
        while ((n = SSL_read(client, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
        return out;
    }
};

}  // namespace

TEST_CASE("TLS session: handshake and data both ways over memory") {
    std::string error;
    auto ctx = TlsContext::create(server_options(), error);
    REQUIRE_MESSAGE(ctx, error);
    Pair p(*ctx, "ca.crt");
    CHECK_FALSE(p.server->send("early"));  // nothing before the handshake
    p.pump();
    REQUIRE(SSL_is_init_finished(p.client));
    CHECK(p.server->established());
    CHECK(p.server->identity().empty());

    REQUIRE(SSL_write(p.client, "CONNECT", 7) == 7);
    p.pump();
    CHECK(p.plaintext == "CONNECT");
    REQUIRE(p.server->send("CONNACK"));
    p.pump();
    CHECK(p.client_read() == "CONNACK");

    // close_notify from the client ends the stream.
    SSL_shutdown(p.client);
    p.pump();
    CHECK(p.last == TlsSession::Status::Closed);
}

TEST_CASE("TLS session: the client certificate's CN is the identity once it verified") {
    std::string error;
    auto ctx = TlsContext::create(server_options(true), error);
    REQUIRE_MESSAGE(ctx, error);
    SUBCASE("from the CA") {
        Pair p(*ctx, "ca.crt", "client.crt", "client.key");
        p.pump();
        CHECK(p.server->established());
        CHECK(p.server->identity() == "device-7");
    }
    SUBCASE("none (not required)") {
        Pair p(*ctx, "ca.crt");
        p.pump();
        CHECK(p.server->established());
        CHECK(p.server->identity().empty());
    }
    SUBCASE("from another CA: the handshake fails") {
        Pair p(*ctx, "ca.crt", "other-client.crt", "other-client.key");
        p.pump();
        CHECK(p.last == TlsSession::Status::Failed);
        CHECK(p.server->identity().empty());
        CHECK(p.server->error().find("certificate") != std::string::npos);
    }
}

TEST_CASE("TLS session: a required certificate that is missing fails the handshake") {
    TlsOptions o = server_options(true);
    o.require_certificate = true;
    std::string error;
    auto ctx = TlsContext::create(o, error);
    REQUIRE_MESSAGE(ctx, error);
    Pair p(*ctx, "ca.crt");
    p.pump();
    CHECK(p.last == TlsSession::Status::Failed);
    CHECK_FALSE(p.server->established());
}

TEST_CASE("TLS session: bytes that are not TLS fail with a reason") {
    std::string error;
    auto ctx = TlsContext::create(server_options(), error);
    REQUIRE(ctx);
    std::string out;
    auto s = ctx->new_session(out);
    const std::string_view http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    auto st = s->receive(std::span(reinterpret_cast<const uint8_t*>(http.data()), http.size()),
                         [](std::span<uint8_t>) { FAIL("no plaintext expected"); });
    CHECK(st == TlsSession::Status::Failed);
    CHECK_FALSE(s->error().empty());
}

TEST_CASE("TLS context: reload keeps the old context on error, existing sessions keep theirs") {
    fs::path dir = fs::path(pki().dir) / "reload";
    fs::create_directories(dir);
    fs::copy_file(pki()("server.crt"), dir / "cert.pem", fs::copy_options::overwrite_existing);
    fs::copy_file(pki()("server.key"), dir / "key.pem", fs::copy_options::overwrite_existing);
    TlsOptions o;
    o.cert_file = (dir / "cert.pem").string();
    o.key_file = (dir / "key.pem").string();
    std::string error;
    auto ctx = TlsContext::create(o, error);
    REQUIRE_MESSAGE(ctx, error);

    Pair before(*ctx, "ca.crt");
    before.pump();
    REQUIRE(before.server->established());

    // A good reload, then a broken file: error, the context stays usable.
    fs::copy_file(pki()("server2.crt"), dir / "cert.pem", fs::copy_options::overwrite_existing);
    fs::copy_file(pki()("server2.key"), dir / "key.pem", fs::copy_options::overwrite_existing);
    CHECK(ctx->reload().empty());
    std::ofstream(dir / "cert.pem") << "garbage\n";
    std::string why = ctx->reload();
    CHECK(why.find("tls_cert_file") != std::string::npos);

    Pair after(*ctx, "ca.crt");
    after.pump();
    REQUIRE(after.server->established());
    // The new connection got server2's certificate.
    X509* got = SSL_get0_peer_certificate(after.client);
    REQUIRE(got);
    FILE* f = std::fopen(pki()("server2.crt").c_str(), "r");
    REQUIRE(f);
    X509* want = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    CHECK(X509_cmp(got, want) == 0);
    X509_free(want);

    // The session made before the reloads still works.
    REQUIRE(SSL_write(before.client, "ping", 4) == 4);
    before.pump();
    CHECK(before.plaintext == "ping");
    ctx.reset();  // the context may go before its sessions
    REQUIRE(before.server->send("pong"));
    before.pump();
    CHECK(before.client_read() == "pong");
}
