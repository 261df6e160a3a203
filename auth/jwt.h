// Bearer tokens for browser apps: JSON Web Tokens (RFC 7519) in the compact
// JWS form, signed HS256 (a shared secret), RS256 or ES256 (a public key,
// PEM), verified through OpenSSL. Claims checked: `exp` and `nbf` (with a
// small leeway for clock skew), `aud` when an audience is configured; the
// username comes from a configurable claim (`sub` by default).
//
// Refused always: alg "none", an algorithm other than the one the key is
// for (no HS256 with an RSA public key as the secret), tokens over 8 KiB,
// malformed base64url or JSON (parsed through base/json.h, depth-bounded).
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
    int64_t leeway_s = 30;  // allowed clock skew for exp / nbf
};

class JwtVerifier {
  public:
    // At least one of the secret and the key must be set; a key that does
    // not parse, or is neither RSA nor P-256, is an error.
    static std::variant<JwtVerifier, std::string> make(const JwtOptions& options);

    struct Result {
        bool ok = false;
        std::string error;          // why not, when !ok
        std::string username;       // the username claim's value (a string)
        int64_t expires_at_s = 0;   // `exp`, Unix seconds; 0 = no exp claim
    };
    // `now_s` is Unix time in seconds (wall clock: tokens carry wall times).
    Result verify(std::string_view token, int64_t now_s) const;

    // Quick test: three base64url parts separated by '.', so a password that
    // is not a token is checked against the password file instead.
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
