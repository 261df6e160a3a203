#include "auth/jwt.h"

#include "base/base64.h"
#include "base/json.h"

#include <fmt/core.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace duplex::auth {

namespace {

// Tokens we issue carry a few claims: 8 KiB is far above them and bounds
// what an unauthenticated client makes us decode and parse.
constexpr size_t kMaxTokenBytes = 8192;
// Claims are flat; a little nesting for custom claims, no more.
constexpr size_t kMaxClaimsDepth = 8;
constexpr int kMinRsaBits = 2048;

enum class KeyKind { None, Rsa, P256 };

struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

bool is_base64url(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_';
    });
}

// A "BEGIN PUBLIC KEY" (SubjectPublicKeyInfo) or the key of a "BEGIN
// CERTIFICATE"; never a private key.
Pkey read_public_key(const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())), BIO_free);
    if (!bio) return nullptr;
    Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (key) return key;
    BIO_reset(bio.get());
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                     X509_free);
    return cert ? Pkey(X509_get_pubkey(cert.get())) : nullptr;
}

// Top-level member names of a JSON object appearing twice: parsers differ on
// which one counts (RapidJSON the first, Python the last), so such a token
// means different things to its issuer and to us. Refused.
bool has_duplicate_names(const rapidjson::Value& object) {
    std::vector<std::string_view> names;
    names.reserve(object.MemberCount());
    for (const auto& m : object.GetObject()) names.emplace_back(m.name.GetString(), m.name.GetStringLength());
    std::sort(names.begin(), names.end());
    return std::adjacent_find(names.begin(), names.end()) != names.end();
}

// The value of `object`'s member `name`, or null.
const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
    auto it = object.FindMember(name);
    return it == object.MemberEnd() ? nullptr : &it->value;
}

// Decodes a base64url part and parses it as a JSON object into `doc`.
std::string decode_object(std::string_view part, const char* what, rapidjson::Document& doc) {
    std::string json;
    if (!base64_decode(part, Base64::Url, json)) return fmt::format("{} is not base64url", what);
    if (std::string err = parse_json(json, doc, kMaxClaimsDepth); !err.empty())
        return fmt::format("{}: {}", what, err);
    if (!doc.IsObject()) return fmt::format("{} is not a JSON object", what);
    if (has_duplicate_names(doc)) return fmt::format("{} has a member name twice", what);
    return {};
}

// A NumericDate (RFC 7519 §2): seconds, possibly fractional; floored and
// clamped into int64. False for a non-number.
bool numeric_date(const rapidjson::Value& v, int64_t& out) {
    if (v.IsInt64()) {
        out = v.GetInt64();
        return true;
    }
    if (v.IsUint64()) {
        out = INT64_MAX;
        return true;
    }
    if (!v.IsNumber()) return false;
    double d = std::floor(v.GetDouble());
    if (!(d > -9.2e18)) d = -9.2e18;  // also catches NaN (RapidJSON never yields one)
    if (d > 9.2e18) d = 9.2e18;
    out = int64_t(d);
    return true;
}

// a + b without overflow (the leeway is added to dates from the token).
int64_t add_saturating(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

bool verify_hs256(std::string_view secret, std::string_view input, std::string_view sig) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), secret.data(), int(secret.size()),
              reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n))
        return false;
    // The length is public (32 for SHA-256); the bytes compare in constant time.
    return n == 32 && sig.size() == 32 && CRYPTO_memcmp(mac, sig.data(), 32) == 0;
}

// JWS ES256 signatures are r || s, 32 bytes each, big-endian (RFC 7518
// §3.4); OpenSSL verifies the DER SEQUENCE { INTEGER r, INTEGER s }.
std::string es256_to_der(std::string_view sig) {
    if (sig.size() != 64) return {};
    ECDSA_SIG* es = ECDSA_SIG_new();
    if (!es) return {};
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    BIGNUM* r = BN_bin2bn(p, 32, nullptr);
    BIGNUM* s = BN_bin2bn(p + 32, 32, nullptr);
    std::string der;
    if (r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = nullptr;  // owned by es now
        unsigned char* out = nullptr;
        int n = i2d_ECDSA_SIG(es, &out);
        if (n > 0) der.assign(reinterpret_cast<char*>(out), size_t(n));
        OPENSSL_free(out);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return der;
}

bool verify_digest(EVP_PKEY* key, std::string_view input, std::string_view sig) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    // An RSA key's default padding is PKCS#1 v1.5 (RS256, RFC 7518 §3.3).
    return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
           EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

JwtVerifier::Result refuse(std::string why) {
    JwtVerifier::Result r;
    r.error = std::move(why);
    return r;
}

}  // namespace

struct JwtVerifier::Keys {
    KeyKind kind = KeyKind::None;
    Pkey key;
};

JwtVerifier::JwtVerifier(std::unique_ptr<Keys> keys, JwtOptions options)
    : keys_(std::move(keys)), options_(std::move(options)) {}
JwtVerifier::JwtVerifier(JwtVerifier&&) noexcept = default;
JwtVerifier& JwtVerifier::operator=(JwtVerifier&&) noexcept = default;
JwtVerifier::~JwtVerifier() = default;

std::variant<JwtVerifier, std::string> JwtVerifier::make(const JwtOptions& options) {
    if (options.hs256_secret.empty() && options.public_key_pem.empty())
        return std::string("jwt: neither an HS256 secret nor a public key is set");
    if (options.username_claim.empty()) return std::string("jwt: the username claim name is empty");
    if (options.leeway_s < 0 || options.leeway_s > 3600) return std::string("jwt: leeway must be 0..3600 s");
    // A PEM as the HMAC secret is the algorithm-confusion attack's key
    // (anyone holding the public key could sign): never accepted.
    if (options.hs256_secret.find("-----BEGIN") != std::string::npos)
        return std::string("jwt: the HS256 secret is a PEM key; set it as the public key instead");
    // RFC 7518 §3.2: the HS256 key must be at least as long as the hash.
    if (!options.hs256_secret.empty() && options.hs256_secret.size() < 32)
        return std::string("jwt: the HS256 secret must be at least 32 bytes (RFC 7518 3.2)");
    auto keys = std::make_unique<Keys>();
    if (!options.public_key_pem.empty()) {
        keys->key = read_public_key(options.public_key_pem);
        if (!keys->key) return std::string("jwt: the public key is not a PEM public key or certificate");
        if (EVP_PKEY_is_a(keys->key.get(), "RSA")) {
            if (EVP_PKEY_get_bits(keys->key.get()) < kMinRsaBits)
                return fmt::format("jwt: the RSA key has {} bits, fewer than {}",
                                   EVP_PKEY_get_bits(keys->key.get()), kMinRsaBits);
            keys->kind = KeyKind::Rsa;
        } else if (EVP_PKEY_is_a(keys->key.get(), "EC")) {
            char group[64] = {};
            size_t len = 0;
            if (EVP_PKEY_get_utf8_string_param(keys->key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group,
                                               sizeof group, &len) != 1 ||
                std::string_view(group, len) != "prime256v1")
                return std::string("jwt: the EC key is not on P-256 (ES256 only)");
            keys->kind = KeyKind::P256;
        } else {
            return std::string("jwt: the public key is neither RSA nor EC P-256");
        }
    }
    return JwtVerifier(std::move(keys), options);
}

bool JwtVerifier::looks_like_token(std::string_view text) {
    // Every JWS header is a JSON object, and base64url of '{"' is "eyJ".
    if (text.size() < 5 || text.substr(0, 3) != "eyJ") return false;
    size_t a = text.find('.');
    size_t b = a == std::string_view::npos ? a : text.find('.', a + 1);
    if (b == std::string_view::npos || text.find('.', b + 1) != std::string_view::npos) return false;
    std::string_view h = text.substr(0, a), p = text.substr(a + 1, b - a - 1), s = text.substr(b + 1);
    return !p.empty() && !s.empty() && is_base64url(h) && is_base64url(p) && is_base64url(s);
}

JwtVerifier::Result JwtVerifier::verify(std::string_view token, int64_t now_s) const {
    if (token.size() > kMaxTokenBytes)
        return refuse(fmt::format("token longer than {} bytes", kMaxTokenBytes));
    size_t a = token.find('.');
    size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
    if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos)
        return refuse("not three dot-separated parts");
    std::string_view header_part = token.substr(0, a);
    std::string_view signed_part = token.substr(0, b);  // what the signature covers
    std::string_view payload_part = token.substr(a + 1, b - a - 1);
    std::string_view sig_part = token.substr(b + 1);

    // The header says which algorithm; only the one our key is for counts.
    rapidjson::Document header;
    if (std::string err = decode_object(header_part, "header", header); !err.empty()) return refuse(err);
    const rapidjson::Value* alg_value = member(header, "alg");
    if (!alg_value || !alg_value->IsString()) return refuse("header has no alg string");
    std::string_view alg(alg_value->GetString(), alg_value->GetStringLength());
    // RFC 7515 §4.1.11: extensions we would have to understand.
    if (header.HasMember("crit")) return refuse("header has crit extensions (none supported)");
    std::string sig;
    if (!base64_decode(sig_part, Base64::Url, sig)) return refuse("signature is not base64url");

    bool valid = false;
    if (alg == "HS256") {
        if (options_.hs256_secret.empty()) return refuse("alg HS256 but no HS256 secret is configured");
        valid = verify_hs256(options_.hs256_secret, signed_part, sig);
    } else if (alg == "RS256") {
        if (keys_->kind != KeyKind::Rsa) return refuse("alg RS256 but no RSA key is configured");
        valid = verify_digest(keys_->key.get(), signed_part, sig);
    } else if (alg == "ES256") {
        if (keys_->kind != KeyKind::P256) return refuse("alg ES256 but no P-256 key is configured");
        std::string der = es256_to_der(sig);
        valid = !der.empty() && verify_digest(keys_->key.get(), signed_part, der);
    } else {
        // "none" included (RFC 7518 §3.6: an unsecured JWS).
        return refuse(fmt::format("alg '{}' not accepted", alg.substr(0, 32)));
    }
    if (!valid) return refuse(fmt::format("bad {} signature", alg));

    // Signed by a key we trust: now the claims.
    rapidjson::Document claims;
    if (std::string err = decode_object(payload_part, "payload", claims); !err.empty()) return refuse(err);
    Result r;
    const int64_t leeway = options_.leeway_s;
    if (const rapidjson::Value* exp = member(claims, "exp")) {
        if (!numeric_date(*exp, r.expires_at_s)) return refuse("exp is not a number");
        // RFC 7519 §4.1.4: valid only before exp.
        if (now_s >= add_saturating(r.expires_at_s, leeway))
            return refuse(fmt::format("expired at {} (now {}, leeway {} s)", r.expires_at_s, now_s, leeway));
        if (r.expires_at_s == 0) r.expires_at_s = 1;  // 0 means "no exp"; 1970 has passed anyway
        r.valid_until_s = add_saturating(r.expires_at_s, leeway);
    }
    if (const rapidjson::Value* nbf_value = member(claims, "nbf")) {
        int64_t nbf = 0;
        if (!numeric_date(*nbf_value, nbf)) return refuse("nbf is not a number");
        if (add_saturating(now_s, leeway) < nbf)
            return refuse(fmt::format("not valid before {} (now {}, leeway {} s)", nbf, now_s, leeway));
    }
    // RFC 7519 §4.1.3: a token naming audiences is for them only, so with no
    // audience configured a token that carries `aud` is refused too.
    if (const rapidjson::Value* aud_value = member(claims, "aud")) {
        const rapidjson::Value& aud = *aud_value;
        auto is_ours = [&](const rapidjson::Value& v) {
            return v.IsString() && !options_.audience.empty() &&
                   std::string_view(v.GetString(), v.GetStringLength()) == options_.audience;
        };
        bool ours = false;
        if (aud.IsString()) ours = is_ours(aud);
        else if (aud.IsArray())
            for (const auto& v : aud.GetArray()) ours = ours || is_ours(v);
        else return refuse("aud is neither a string nor an array");
        if (!ours)
            return refuse(options_.audience.empty()
                              ? "token has aud but no audience is configured"
                              : fmt::format("aud does not name '{}'", options_.audience));
    } else if (!options_.audience.empty()) {
        return refuse("token has no aud");
    }
    const rapidjson::Value* user = member(claims, options_.username_claim.c_str());
    if (!user) return refuse(fmt::format("no '{}' claim", options_.username_claim));
    if (!user->IsString()) return refuse(fmt::format("claim '{}' is not a string", options_.username_claim));
    std::string_view name(user->GetString(), user->GetStringLength());
    if (name.empty()) return refuse(fmt::format("claim '{}' is empty", options_.username_claim));
    if (std::any_of(name.begin(), name.end(), [](char c) { return uint8_t(c) < 0x20 || c == 0x7f; }))
        return refuse(fmt::format("claim '{}' holds a control character", options_.username_claim));
    r.ok = true;
    r.username.assign(name);
    return r;
}

}  // namespace duplex::auth
