// Password files in mosquitto's format, so files made by `mosquitto_passwd`
// work unchanged and `duplex passwd` writes files mosquitto reads:
//   user:$7$<iterations>$<salt base64>$<PBKDF2-HMAC-SHA512 base64>   (mosquitto >= 2.0)
//   user:$6$<salt base64>$<SHA-512(password + salt) base64>          (mosquitto 1.x)
// Blank lines and lines starting with '#' are ignored. Salts and hashes are
// standard base64 (with or without '=' padding); the hash must be 64 bytes,
// a salt 1..64 bytes (mosquitto_passwd writes 12).
//
// Bounds, so a hostile or broken file cannot hang start-up or every login:
// lines of at most kMaxLineLength bytes, files of at most kMaxFileBytes, and
// $7$ iteration counts of 1..kMaxIterations (each login runs the stored
// count). A username appearing twice, a control character in a username,
// a plain-text password or an unknown hash type is an error, not skipped.
//
// Threading: a PasswordFile is immutable once made; check() may be called
// from any thread. Errors: parse()/load() return an error text naming the
// line; nothing throws.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

namespace duplex::auth {

// The longest line: a username of 65535 bytes (the MQTT limit) and a hash.
inline constexpr size_t kMaxLineLength = 65535 + 512;
inline constexpr size_t kMaxFileBytes = 64u << 20;
// One $7$ check at 1,000,000 rounds took 0.9 s on the x86 build machine
// (about 2 s on a Cortex-A53 Pi, see default_iterations()): far above any
// sane setting, low enough that a typo in a file (-I 1000000000) cannot make
// every login take a quarter of an hour.
inline constexpr int kMaxIterations = 1'000'000;

class PasswordFile {
  public:
    // Parses the text of a password file. A malformed line is an error (the
    // caller keeps its previous file): "line 3: unknown hash type $5$".
    static std::variant<PasswordFile, std::string> parse(std::string_view text);
    // Reads and parses `path`.
    static std::variant<PasswordFile, std::string> load(const std::string& path);

    enum class Check { Ok, WrongPassword, UnknownUser };
    // Verifies `password` for `user`. Comparison is constant-time
    // (CRYPTO_memcmp), and an unknown user costs one hash like a known one,
    // so timing tells neither the password nor whether the user exists.
    Check check(std::string_view user, std::string_view password) const;

    size_t size() const { return users_->size(); }
    bool contains(std::string_view user) const { return users_->find(user) != users_->end(); }

  private:
    struct Entry {
        enum class Kind { Pbkdf2Sha512, Sha512 } kind = Kind::Pbkdf2Sha512;
        int iterations = 0;
        std::string salt;  // decoded bytes
        std::string hash;  // decoded bytes
    };
    // Lookup by string_view without making a std::string per check.
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Users = std::unordered_map<std::string, Entry, Hash, std::equal_to<>>;
    // Behind a pointer: copies share the one immutable table, and moving a
    // PasswordFile out of parse()'s variant does not trip GCC 12's false
    // -Wfree-nonheap-object on a moved-from unordered_map (an error under
    // tools/test's --werror).
    std::shared_ptr<const Users> users_ = std::make_shared<const Users>();
    // What an unknown user is checked against: the kind and rounds most
    // entries of the file use (default_iterations() for an empty file), so
    // its cost matches a known user's; its hash matches no password.
    Entry dummy_;
};

// A "$7$..." value (the part after "user:") for `password`, with a random
// salt (OpenSSL RAND_bytes) of mosquitto's length (12 bytes) and
// `iterations` rounds. Empty when `iterations` is outside 1..kMaxIterations
// or OpenSSL fails (no randomness).
std::string hash_password(std::string_view password, int iterations);

// The default rounds `duplex passwd` writes (stated with its reason in the .cc).
int default_iterations();

// `text` (a password file) with `user`'s line replaced by, or (new user)
// followed by, "user:" + hashed; with `hashed` empty the user's line is
// removed. Other lines, comments and order are kept.
std::string set_user(std::string_view text, std::string_view user, std::string_view hashed);

}  // namespace duplex::auth
