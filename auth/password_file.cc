#include "auth/password_file.h"

#include "base/base64.h"

#include <fmt/core.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

namespace duplex::auth {

namespace {

constexpr size_t kSaltLength = 12;  // mosquitto_passwd's SALT_LEN
constexpr size_t kHashLength = 64;  // SHA-512
constexpr size_t kMaxSaltLength = 64;
// mosquitto's limit for a username or password (an MQTT string).
constexpr size_t kMaxSecretLength = 65535;

std::string_view trim_blanks(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return uint8_t(c) < 0x20 || c == 0x7f; });
}

// One line of a file, its newline and a trailing '\r' removed. Sets `user`
// and `value` (both trimmed of blanks) for an entry line; returns false for
// a blank or comment line.
bool split_entry(std::string_view line, std::string_view& user, std::string_view& value) {
    std::string_view t = trim_blanks(line);
    if (t.empty() || t.front() == '#') return false;
    size_t colon = t.find(':');
    user = trim_blanks(t.substr(0, colon));
    value = colon == std::string_view::npos ? std::string_view() : trim_blanks(t.substr(colon + 1));
    return true;
}

// Calls f(line) for each line of `text` without its "\n" or "\r\n".
template <class F>
void for_each_line(std::string_view text, F&& f) {
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        f(line);
    }
}

std::vector<std::string_view> split_dollars(std::string_view s) {
    std::vector<std::string_view> parts;
    for (;;) {
        size_t d = s.find('$');
        parts.push_back(s.substr(0, d));
        if (d == std::string_view::npos) return parts;
        s.remove_prefix(d + 1);
    }
}

// The SHA-512 or PBKDF2-HMAC-SHA512 of `password` under `salt` into out[64].
// Returns false only if OpenSSL fails.
bool digest(std::string_view password, bool pbkdf2, int iterations, std::string_view salt,
            unsigned char* out) {
    if (pbkdf2)
        return PKCS5_PBKDF2_HMAC(password.data(), int(password.size()),
                                 reinterpret_cast<const unsigned char*>(salt.data()), int(salt.size()),
                                 iterations, EVP_sha512(), int(kHashLength), out) == 1;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned int n = 0;
    return ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) == 1 &&
           EVP_DigestUpdate(ctx.get(), password.data(), password.size()) == 1 &&
           EVP_DigestUpdate(ctx.get(), salt.data(), salt.size()) == 1 &&
           EVP_DigestFinal_ex(ctx.get(), out, &n) == 1 && n == kHashLength;
}

}  // namespace

std::variant<PasswordFile, std::string> PasswordFile::parse(std::string_view text) {
    if (text.size() > kMaxFileBytes) return fmt::format("file larger than {} bytes", kMaxFileBytes);
    PasswordFile file;
    auto users = std::make_shared<Users>();
    std::map<std::pair<Entry::Kind, int>, size_t> settings;  // how many entries use each
    std::unordered_map<std::string_view, size_t> first_line;
    std::string error;
    size_t number = 0;
    for_each_line(text, [&](std::string_view line) {
        ++number;
        if (!error.empty()) return;
        auto fail = [&](std::string why) { error = fmt::format("line {}: {}", number, why); };
        if (line.size() > kMaxLineLength) return fail(fmt::format("longer than {} bytes", kMaxLineLength));
        std::string_view user, value;
        if (!split_entry(line, user, value)) return;
        if (user.empty()) return fail("no username before ':'");
        if (has_control(user)) return fail("control character in username");
        if (value.empty()) return fail(fmt::format("no password hash for user '{}'", user));
        if (auto [it, fresh] = first_line.emplace(user, number); !fresh)
            return fail(fmt::format("user '{}' again (first on line {})", user, it->second));
        if (value.front() != '$')
            return fail("not a $6$ or $7$ hash (plain-text passwords are not accepted)");
        std::vector<std::string_view> parts = split_dollars(value.substr(1));
        Entry e;
        size_t salt_at = 1;
        if (parts[0] == "7") {
            if (parts.size() != 4) return fail("a $7$ hash is $7$<iterations>$<salt>$<hash>");
            e.kind = Entry::Kind::Pbkdf2Sha512;
            std::string_view it = parts[1];
            auto [end, ec] = std::from_chars(it.data(), it.data() + it.size(), e.iterations);
            if (it.empty() || ec != std::errc() || end != it.data() + it.size() ||
                !std::all_of(it.begin(), it.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
                e.iterations < 1 || e.iterations > kMaxIterations)
                return fail(fmt::format("iterations '{}' not in 1..{}", it.substr(0, 20), kMaxIterations));
            salt_at = 2;
        } else if (parts[0] == "6") {
            if (parts.size() != 3) return fail("a $6$ hash is $6$<salt>$<hash>");
            e.kind = Entry::Kind::Sha512;
        } else {
            return fail(fmt::format("unknown hash type ${}$", parts[0].substr(0, 20)));
        }
        if (!base64_decode(parts[salt_at], Base64::Standard, e.salt) || e.salt.empty() ||
            e.salt.size() > kMaxSaltLength)
            return fail(fmt::format("salt is not base64 of 1..{} bytes", kMaxSaltLength));
        if (!base64_decode(parts[salt_at + 1], Base64::Standard, e.hash) || e.hash.size() != kHashLength)
            return fail(fmt::format("hash is not base64 of {} bytes", kHashLength));
        ++settings[{e.kind, e.iterations}];
        users->emplace(std::string(user), std::move(e));
    });
    if (!error.empty()) return error;
    file.users_ = std::move(users);

    // The dummy an unknown user is checked against: the most common setting.
    file.dummy_.kind = Entry::Kind::Pbkdf2Sha512;
    file.dummy_.iterations = default_iterations();
    size_t most = 0;
    for (const auto& [setting, count] : settings)
        if (count > most) {
            most = count;
            file.dummy_.kind = setting.first;
            file.dummy_.iterations = setting.second;
        }
    file.dummy_.salt.assign(kSaltLength, '\0');
    file.dummy_.hash.assign(kHashLength, '\0');
    return file;
}

std::variant<PasswordFile, std::string> PasswordFile::load(const std::string& path) {
    std::unique_ptr<FILE, decltype(&fclose)> f(std::fopen(path.c_str(), "rb"), fclose);
    if (!f) return fmt::format("{}: cannot open", path);
    std::string text;
    char buf[16384];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
        text.append(buf, n);
        if (text.size() > kMaxFileBytes) return fmt::format("{}: larger than {} bytes", path, kMaxFileBytes);
    }
    if (std::ferror(f.get())) return fmt::format("{}: read error", path);
    auto parsed = parse(text);
    if (auto* err = std::get_if<std::string>(&parsed)) return fmt::format("{}: {}", path, *err);
    return parsed;
}

PasswordFile::Check PasswordFile::check(std::string_view user, std::string_view password) const {
    auto it = users_->find(user);
    const bool known = it != users_->end();
    const Entry& e = known ? it->second : dummy_;
    // An over-long password still costs one hash (of its first bytes) and
    // then fails: no password in a file can be that long.
    const bool too_long = password.size() > kMaxSecretLength;
    unsigned char out[kHashLength];
    bool ok = digest(password.substr(0, kMaxSecretLength), e.kind == Entry::Kind::Pbkdf2Sha512, e.iterations,
                     e.salt, out);
    ok = ok && CRYPTO_memcmp(out, e.hash.data(), kHashLength) == 0;
    OPENSSL_cleanse(out, sizeof out);
    if (!known) return Check::UnknownUser;
    return ok && !too_long ? Check::Ok : Check::WrongPassword;
}

std::string hash_password(std::string_view password, int iterations) {
    if (iterations < 1 || iterations > kMaxIterations) return {};
    unsigned char salt[kSaltLength];
    unsigned char out[kHashLength];
    if (RAND_bytes(salt, sizeof salt) != 1) return {};
    std::string_view salt_view(reinterpret_cast<const char*>(salt), sizeof salt);
    if (!digest(password, true, iterations, salt_view, out)) return {};
    std::string hashed = fmt::format("$7${}${}${}", iterations, base64_encode(salt_view),
                                     base64_encode({reinterpret_cast<const char*>(out), sizeof out}));
    OPENSSL_cleanse(out, sizeof out);
    return hashed;
}

// 1,000 rounds: mosquitto 2.1's default (2.0's mosquitto_passwd writes 101).
// Each CONNECT with a password costs one check, on the thread that checks
// it, so the figure weighs an offline attacker's cost per guess (only if
// the 0600 file leaks; online guessing is bounded by LoginLimiter) against
// the time a Raspberry Pi spends per login. Measured on the x86 build
// machine (shared, load ~9; a loop of check() calls on a wrong password):
//      101 rounds 0.094 ms,  1,000: 0.87 ms,  10,000: 8.5 ms,
//  100,000: 79 ms,  1,000,000: 900 ms; a $6$ check 0.0008 ms.
// `openssl speed -bytes 16 -evp sha512` gives 3.4 M hashes/s there and
// 1.4 M/s on a 1.4 GHz Cortex-A53 (the Pi 3 / Zero 2 class core, no SHA-512
// instructions), so a round costs ~2.4x more there: ~2 ms per login at
// 1,000 (a reconnect storm of 500 clients: one second of CPU), ~21 ms at
// 10,000 (ten seconds). 101 is too cheap to slow a stolen file's cracking
// at all; 1,000 costs a GPU attacker 10x more per guess for 2 ms a login.
int default_iterations() { return 1'000; }

std::string set_user(std::string_view text, std::string_view user, std::string_view hashed) {
    std::string out;
    out.reserve(text.size() + user.size() + hashed.size() + 2);
    bool done = false;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view raw = text.substr(0, nl == std::string_view::npos ? text.size() : nl + 1);
        text.remove_prefix(raw.size());
        std::string_view line = raw;
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        std::string_view line_user, value;
        if (split_entry(line, line_user, value) && line_user == user) {
            // The user's first line is replaced (keeping its line ending),
            // any further one dropped; with `hashed` empty, all are dropped.
            if (!done && !hashed.empty()) {
                out.append(user).append(":").append(hashed);
                out.append(raw.substr(line.size()));
                if (raw.size() == line.size()) out.push_back('\n');
            }
            done = true;
            continue;
        }
        out.append(raw);
    }
    if (!done && !hashed.empty()) {
        if (!out.empty() && out.back() != '\n') out.push_back('\n');
        out.append(user).append(":").append(hashed).push_back('\n');
    }
    return out;
}

}  // namespace duplex::auth
