// Password files in mosquitto's format, so files made by `mosquitto_passwd`
// work unchanged and `duplex passwd` writes files mosquitto reads:
//   user:$7$<iterations>$<salt base64>$<PBKDF2-HMAC-SHA512 base64>   (mosquitto >= 2.0)
//   user:$6$<salt base64>$<SHA-512(password + salt) base64>          (mosquitto 1.x)
// Blank lines and lines starting with '#' are ignored.
//
// Threading: a PasswordFile is immutable once made; check() may be called
// from any thread. Errors: parse()/load() return an error text naming the
// line; nothing throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

namespace duplex::auth {

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

    size_t size() const { return users_.size(); }
    bool contains(std::string_view user) const { return users_.count(std::string(user)) != 0; }

  private:
    struct Entry {
        enum class Kind { Pbkdf2Sha512, Sha512 } kind;
        int iterations = 0;
        std::string salt;  // decoded bytes
        std::string hash;  // decoded bytes
    };
    std::unordered_map<std::string, Entry> users_;
};

// A "$7$..." value (the part after "user:") for `password`, with a random
// salt (OpenSSL RAND_bytes) of mosquitto's length and `iterations` rounds.
std::string hash_password(std::string_view password, int iterations);

// The default rounds `duplex passwd` writes (stated with its reason in the .cc).
int default_iterations();

// `text` (a password file) with `user`'s line replaced by, or (new user)
// followed by, "user:" + hashed; with `hashed` empty the user's line is
// removed. Other lines, comments and order are kept.
std::string set_user(std::string_view text, std::string_view user, std::string_view hashed);

}  // namespace duplex::auth
