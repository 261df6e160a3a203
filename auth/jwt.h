// Bearer tokens for browser apps: JSON Web Tokens (RFC 7519) in the compact
// JWS form, signed HS256 (a shared secret), RS256 or ES256 (a public key,
// PEM), verified through OpenSSL. Claims checked: `exp` and `nbf` (with a
// small leeway for clock skew), `aud` when an audience is configured; the
// username comes from a configurable claim (`sub` by default).
//
// Refused always: alg "none", an algorithm other than the one the key is
// for (no HS256 with an RSA public key as the secret), tokens over 8 KiB,
// malformed base64url (padding, stray characters, non-zero unused bits) or
// JSON (parsed through base/json.h, iteratively, at most 8 levels deep; the
// claims are never walked recursively), a header or payload naming a member
// twice (parsers disagree on which counts), a `crit` header, a username
// claim that is missing, not a string, empty or holds a control character.
// The signature is checked before the payload is even decoded.
//
// `aud` (RFC 7519 4.1.3): with an audience configured the token must carry
// it (a string equal to it, or an array containing it); with none
// configured, a token that carries `aud` at all is refused (it was issued
// for some other service). `exp`: valid while now < exp + leeway; `nbf`:
// from nbf - leeway; both may be fractional (floored).
//
// Keys: the HS256 secret must be at least 32 bytes (RFC 7518 3.2) and must
// not be a PEM; the public key is a "BEGIN PUBLIC KEY" or a certificate's,
// RSA of at least 2048 bits or EC P-256. make() refuses anything else.
//
// Threading: a JwtVerifier is immutable once made; verify() may be called
// from any thread. Errors: make() returns an error text; verify() returns
// a Result whose `error` says why a token was refused (for logs, never sent
// to the client).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace duplex::auth {

struct JwtOptions {
    std::string hs256_secret;    // non-empty: accept HS256 tokens signed with it
    std::string public_key_pem;  // non-empty: accept RS256 (RSA key) or ES256 (P-256 key) tokens
    std::string audience;        // non-empty: `aud` must be or contain it
    std::string username_claim = "sub";
    int64_t leeway_s = 30;  // allowed clock skew for exp / nbf, 0..3600
};

class JwtVerifier {
  public:
    // At least one of the secret and the key must be set; a key that does
    // not parse, or is neither RSA nor P-256, is an error.
    static std::variant<JwtVerifier, std::string> make(const JwtOptions& options);

    struct Result {
        bool ok = false;
        std::string error;         // why not, when !ok
        std::string username;      // the username claim's value (a string)
        int64_t expires_at_s = 0;  // `exp`, Unix seconds; 0 = no exp claim
        // When verify() starts refusing it (exp + leeway): a connection it
        // opened lasts until then. 0 = no exp claim.
        int64_t valid_until_s = 0;
    };
    // `now_s` is Unix time in seconds (wall clock: tokens carry wall times).
    Result verify(std::string_view token, int64_t now_s) const;

    // Quick test: three non-empty base64url parts separated by '.', the
    // first starting "eyJ" (every JSON header's '{"'), so a password that is
    // not a token is checked against the password file instead.
    static bool looks_like_token(std::string_view text);

    JwtVerifier(JwtVerifier&&) noexcept;
    JwtVerifier& operator=(JwtVerifier&&) noexcept;
    ~JwtVerifier();

  private:
    struct Keys;
    explicit JwtVerifier(std::unique_ptr<Keys> keys, JwtOptions options);
    std::unique_ptr<Keys> keys_;
    JwtOptions options_;
};

}  // namespace duplex::auth
