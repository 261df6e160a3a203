// JwtVerifier against tokens made by PyJWT (tests/auth/make_jwt_vectors.py
// wrote jwt_vectors.h) and by hand as an attacker would.
#include "auth/jwt.h"

#include "base/base64.h"
#include "tests/auth/jwt_vectors.h"

#include <doctest/doctest.h>

#include <string>

using duplex::auth::JwtOptions;
using duplex::auth::JwtVerifier;
namespace v = jwt_vectors;

namespace {

JwtVerifier make(JwtOptions o) {
    auto made = JwtVerifier::make(o);
    if (auto* err = std::get_if<std::string>(&made)) FAIL("make: " << *err);
    return std::move(std::get<JwtVerifier>(made));
}

JwtOptions hs_options() {
    JwtOptions o;
    o.hs256_secret = v::kSecret;
    o.audience = "duplex";
    return o;
}
JwtOptions key_options(const char* pem) {
    JwtOptions o;
    o.public_key_pem = pem;
    o.audience = "duplex";
    return o;
}

std::string make_error(JwtOptions o) {
    auto made = JwtVerifier::make(o);
    auto* err = std::get_if<std::string>(&made);
    return err ? *err : std::string();
}

// Refused, and the reason contains `why`.
void refused(const JwtVerifier& verifier, std::string_view token, std::string_view why, long long now = v::kNow) {
    JwtVerifier::Result r = verifier.verify(token, now);
    CHECK_FALSE(r.ok);
    CHECK_MESSAGE(r.error.find(why) != std::string::npos, "error: " << r.error << ", expected: " << why);
    CHECK(r.username.empty());
}

}  // namespace

TEST_CASE("jwt: HS256, RS256 and ES256 tokens made by PyJWT verify") {
    for (auto [options, token] : {std::pair{hs_options(), v::kHs256Ok}, {key_options(v::kRsaPublicPem), v::kRs256Ok},
                                  {key_options(v::kEcPublicPem), v::kEs256Ok}}) {
        CAPTURE(token);
        JwtVerifier verifier = make(options);
        JwtVerifier::Result r = verifier.verify(token, v::kNow);
        CHECK_MESSAGE(r.ok, r.error);
        CHECK(r.username == "alice");
        CHECK(r.expires_at_s == v::kNow + 3600);
    }
}

TEST_CASE("jwt: a verifier holding a secret and a key takes each algorithm with its own key") {
    JwtOptions o = key_options(v::kRsaPublicPem);
    o.hs256_secret = v::kSecret;
    JwtVerifier verifier = make(o);
    CHECK(verifier.verify(v::kHs256Ok, v::kNow).ok);
    CHECK(verifier.verify(v::kRs256Ok, v::kNow).ok);
    refused(verifier, v::kEs256Ok, "alg ES256 but no P-256 key");
    // Still no HS256 with the PEM as the secret: HS256 uses the secret only.
    refused(verifier, v::kAlgSwapHs256WithRsaPem, "bad HS256 signature");
}

TEST_CASE("jwt: exp and nbf, with the 30 s leeway") {
    JwtVerifier verifier = make(hs_options());
    refused(verifier, v::kHs256Expired, "expired");
    CHECK(verifier.verify(v::kHs256ExpiredInLeeway, v::kNow).ok);
    refused(verifier, v::kHs256NotYetValid, "not valid before");
    CHECK(verifier.verify(v::kHs256NotYetInLeeway, v::kNow).ok);
    // A valid token, an hour and a leeway later, is expired; before nbf - leeway not yet valid.
    CHECK(verifier.verify(v::kHs256Ok, v::kNow + 3600 + 29).ok);
    refused(verifier, v::kHs256Ok, "expired", v::kNow + 3600 + 30);
    refused(verifier, v::kHs256Ok, "not valid before", v::kNow - 60 - 31);
    // A fractional exp is floored.
    JwtVerifier::Result r = verifier.verify(v::kHs256FractionalExp, v::kNow);
    CHECK(r.ok);
    CHECK(r.expires_at_s == v::kNow);
    // No exp: valid, expires_at_s 0.
    r = verifier.verify(v::kHs256NoExp, v::kNow);
    CHECK(r.ok);
    CHECK(r.expires_at_s == 0);
    refused(verifier, v::kHs256ExpString, "exp is not a number");
}

TEST_CASE("jwt: leeway is configurable") {
    JwtOptions o = hs_options();
    o.leeway_s = 0;
    JwtVerifier verifier = make(o);
    refused(verifier, v::kHs256ExpiredInLeeway, "expired");
    refused(verifier, v::kHs256NotYetInLeeway, "not valid before");
    o.leeway_s = -1;
    CHECK(make_error(o).find("leeway") != std::string::npos);
}

TEST_CASE("jwt: aud must be or contain the configured audience [RFC 7519 4.1.3]") {
    JwtVerifier verifier = make(hs_options());
    refused(verifier, v::kHs256WrongAud, "aud does not name 'duplex'");
    CHECK(verifier.verify(v::kHs256AudArray, v::kNow).ok);
    refused(verifier, v::kHs256AudArrayWrong, "aud does not name");
    refused(verifier, v::kHs256NoAud, "no aud");
    // With no audience configured, a token meant for some audience is refused.
    JwtOptions o = hs_options();
    o.audience.clear();
    JwtVerifier any = make(o);
    CHECK(any.verify(v::kHs256NoAud, v::kNow).ok);
    refused(any, v::kHs256Ok, "no audience is configured");
}

TEST_CASE("jwt: alg none is refused, with or without a signature [RFC 7518 3.6]") {
    JwtVerifier verifier = make(hs_options());
    refused(verifier, v::kAlgNone, "alg 'none' not accepted");
    refused(verifier, v::kAlgNoneWithSig, "alg 'none' not accepted");
    refused(make(key_options(v::kRsaPublicPem)), v::kAlgNone, "alg 'none' not accepted");
}

TEST_CASE("jwt: algorithm confusion: HS256 signed with the RSA public key's PEM") {
    // The verifier has only the RSA key: HS256 is not its algorithm.
    refused(make(key_options(v::kRsaPublicPem)), v::kAlgSwapHs256WithRsaPem, "alg HS256 but no HS256 secret");
    // And the PEM cannot be configured as the HS256 secret.
    JwtOptions o;
    o.hs256_secret = v::kRsaPublicPem;
    CHECK(make_error(o).find("PEM") != std::string::npos);
    // RS256 / ES256 tokens on a verifier for the other key type.
    refused(make(key_options(v::kEcPublicPem)), v::kRs256Ok, "alg RS256 but no RSA key");
    refused(make(key_options(v::kRsaPublicPem)), v::kEs256Ok, "alg ES256 but no P-256 key");
    refused(make(hs_options()), v::kRs256Ok, "alg RS256 but no RSA key");
    refused(make(key_options(v::kEcPublicPem)), v::kEs256Es384Key, "alg 'ES384' not accepted");
}

TEST_CASE("jwt: a tampered payload or a wrong key fails the signature") {
    refused(make(key_options(v::kRsaPublicPem)), v::kRs256Tampered, "bad RS256 signature");
    refused(make(key_options(v::kEcPublicPem)), v::kEs256Tampered, "bad ES256 signature");
    refused(make(hs_options()), v::kHs256WrongSecret, "bad HS256 signature");
    // ES256 signatures are raw r||s (64 bytes), not DER.
    refused(make(key_options(v::kEcPublicPem)), v::kEs256DerSignature, "bad ES256 signature");
    // Every single-character change of a valid HS256 token is refused.
    JwtVerifier verifier = make(hs_options());
    std::string token = v::kHs256Ok;
    for (size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '.') continue;
        std::string t = token;
        t[i] = t[i] == 'A' ? 'B' : 'A';
        CAPTURE(i);
        CHECK_FALSE(verifier.verify(t, v::kNow).ok);
    }
}

TEST_CASE("jwt: the ES256 key's own signatures with a flipped bit in r or s fail") {
    JwtVerifier verifier = make(key_options(v::kEcPublicPem));
    std::string token = v::kEs256Ok;
    size_t dot = token.rfind('.');
    std::string sig;
    REQUIRE(duplex::base64_decode(std::string_view(token).substr(dot + 1), duplex::Base64::Url, sig));
    REQUIRE(sig.size() == 64);
    for (size_t byte : {size_t(0), size_t(31), size_t(32), size_t(63)}) {
        std::string s = sig;
        s[byte] ^= 1;
        CHECK_FALSE(verifier.verify(token.substr(0, dot + 1) + duplex::base64_encode(s, duplex::Base64::Url), v::kNow).ok);
    }
    refused(verifier, token.substr(0, dot + 1) + duplex::base64_encode(sig.substr(0, 63), duplex::Base64::Url),
            "bad ES256 signature");
}

TEST_CASE("jwt: oversized, malformed base64url and malformed JSON are refused") {
    JwtVerifier verifier = make(hs_options());
    refused(verifier, v::kHs256Oversized, "longer than 8192 bytes");
    refused(verifier, "abc", "not three dot-separated parts");
    refused(verifier, "a.b.c.d", "not three dot-separated parts");
    std::string token = v::kHs256Ok;
    size_t a = token.find('.'), b = token.rfind('.');
    refused(verifier, token.substr(0, a) + "=" + token.substr(a), "header is not base64url");
    refused(verifier, "e yJ" + token.substr(3), "header is not base64url");
    refused(verifier, token + "=", "signature is not base64url");
    refused(verifier, token.substr(0, b + 1) + "!!" + token.substr(b + 1), "signature is not base64url");
    // Header JSON broken: "{" only.
    refused(verifier, duplex::base64_encode("{", duplex::Base64::Url) + token.substr(a), "header: bad JSON");
    refused(verifier, duplex::base64_encode("[]", duplex::Base64::Url) + token.substr(a), "header is not a JSON object");
    refused(verifier, duplex::base64_encode(R"({"typ":"JWT"})", duplex::Base64::Url) + token.substr(a), "no alg");
    refused(verifier, duplex::base64_encode(R"({"alg":"HS256","alg":"none"})", duplex::Base64::Url) + token.substr(a),
            "member name twice");
    refused(verifier, v::kHs256PayloadNotJson, "payload: bad JSON");
    refused(verifier, v::kHs256PayloadArray, "payload is not a JSON object");
    refused(verifier, v::kHs256DeepPayload, "deeper than 8");
    refused(verifier, v::kHs256Crit, "crit");
    refused(verifier, "", "not three");
}

TEST_CASE("jwt: the username claim") {
    JwtVerifier verifier = make(hs_options());
    refused(verifier, v::kHs256SubNumber, "claim 'sub' is not a string");
    refused(verifier, v::kHs256NoSub, "no 'sub' claim");
    refused(verifier, v::kHs256DuplicateSub, "payload has a member name twice");
    refused(verifier, v::kHs256ControlInSub, "control character");
    JwtOptions o = hs_options();
    o.username_claim = "preferred_username";
    JwtVerifier::Result r = make(o).verify(v::kHs256PreferredUsername, v::kNow);
    CHECK(r.ok);
    CHECK(r.username == "bob");
    refused(make(o), v::kHs256Ok, "no 'preferred_username' claim");
}

TEST_CASE("jwt: make() refuses unusable options") {
    CHECK(make_error(JwtOptions{}).find("neither") != std::string::npos);
    JwtOptions o;
    o.hs256_secret = "short";
    CHECK(make_error(o).find("32 bytes") != std::string::npos);
    CHECK(make_error(key_options("not a pem")).find("not a PEM") != std::string::npos);
    CHECK(make_error(key_options(v::kEcP384PublicPem)).find("P-256") != std::string::npos);
    CHECK(make_error(key_options(v::kRsa1024PublicPem)).find("1024 bits") != std::string::npos);
    o = hs_options();
    o.username_claim.clear();
    CHECK(make_error(o).find("username claim") != std::string::npos);
}

TEST_CASE("jwt: looks_like_token") {
    CHECK(JwtVerifier::looks_like_token(v::kHs256Ok));
    CHECK(JwtVerifier::looks_like_token(v::kEs256Ok));
    CHECK_FALSE(JwtVerifier::looks_like_token("correct horse battery staple"));
    CHECK_FALSE(JwtVerifier::looks_like_token("a.b.c"));       // not a JSON header
    CHECK_FALSE(JwtVerifier::looks_like_token("eyJa.b"));      // two parts
    CHECK_FALSE(JwtVerifier::looks_like_token("eyJa.b.c.d"));  // four
    CHECK_FALSE(JwtVerifier::looks_like_token("eyJa..c"));     // empty payload
    CHECK_FALSE(JwtVerifier::looks_like_token(v::kAlgNone));   // empty signature
    CHECK_FALSE(JwtVerifier::looks_like_token("eyJa.b+.c"));   // not base64url
    CHECK_FALSE(JwtVerifier::looks_like_token(""));
}
