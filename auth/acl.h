// Access control lists in mosquitto's acl_file syntax, so existing files work:
//
//   # comment
//   topic [read|write|readwrite|deny] <topic>    rules for the current user
//   user <username>                              following `topic` lines are that user's
//   pattern [read|write|readwrite|deny] <topic>  every client; %u = username, %c = client id
//
// `topic` lines before the first `user` line apply to anonymous clients; a
// user named twice gets the rules of both sections. No access word means
// readwrite. A rule's topic may hold + and # (as whole levels) and spaces:
// the topic is the rest of the line after the access word, so a topic with
// a space needs the access word ("topic read a b" = read on "a b";
// "topic read" alone = readwrite on the topic "read", as in mosquitto).
// Words are separated by spaces (not tabs, as in mosquitto); whitespace at
// both ends of a line is ignored. %u / %c are substituted anywhere in a
// pattern's topic ("p/x%u" is "p/xbob" for bob), as mosquitto 2.0 does.
// A client with no matching allow is denied (a file that exists is an
// allow-list); an empty file denies everything.
//
// What is checked:
//   Write:     a topic name the client publishes to (or a will's topic).
//              Writes to $SYS are always denied (mosquitto does the same
//              before it reads the file).
//   Read:      a topic name of a message about to be delivered to the client.
//   Subscribe: a filter: allowed when a read/readwrite rule covers every
//              topic the filter can match (`a/+` is covered by `a/#` and
//              `a/+`, not by `a/b`), and no deny rule covers the filter.
//              A subscription allowed this way may still match a topic a
//              deny rule names (deny `a/b`, allow `a/#`, filter `a/+`), so
//              the caller checks each message under a wildcard filter with
//              Read; a filter without wildcards needs no second check.
// In every check a rule whose topic does not start with '$' never matches a
// topic or filter that does: `#` does not grant `$SYS/...` [MQTT-4.7.2-1].
//
// Where duplex differs from mosquitto 2.0.11 (checked against the real
// broker by tests/integration/test_acl_mosquitto.py):
//   - mosquitto grants every SUBSCRIBE (its acl_file check returns success
//     for subscribe: "FIXME - implement ACL subscription strings") and only
//     filters deliveries with Read. duplex refuses a filter that no rule
//     covers, so the broker can refuse it in the SUBACK (0x87 in MQTT 5).
//   - Deny wins over every allow. mosquitto moves deny lines first within
//     each list but checks the client's own `topic` rules before any
//     `pattern`, so there a user's `topic readwrite a/#` beats
//     `pattern deny a/secret`; in duplex the pattern's deny wins.
//   - A username or client id holding '+', '#' or '/' gets no access from
//     any allow `pattern` (only its `topic` rules), and every deny pattern
//     that would substitute it denies everything (fail closed). mosquitto
//     2.0.11 refuses '+' and '#' only: a user "a/b" then gets `users/a/b/#`
//     from `pattern readwrite users/%u/#`, inside user "a"'s `users/a/#`.
//   - A line starting with spaces and then '#' is a comment, and a line may
//     start with tabs; mosquitto rejects both files ("Invalid line").
//   - A pattern whose topic does not start with '$' grants no '$' topic
//     whatever the name: in mosquitto a user "$SYS" gets `$SYS/#` from
//     `pattern read %u/#` (it checks the substituted topic).
//   - An empty username is anonymous here; mosquitto treats a client that
//     sent an empty username as the user "".
//
// Limits (a line or file beyond them is an error, not truncated): a line
// of kMaxLineBytes, kMaxRules rules, a rule topic of 65,535 bytes and 200
// '/' (mosquitto's TOPIC_HIERARCHY_LIMIT), kMaxFileBytes for load().
// Checks take topics of any length and iterate (no recursion); their cost
// is linear in the topic's length per rule tried.
//
// Threading: immutable once made; allows() and Client::allows() may be
// called from any thread.
// Errors: parse()/load() return an error text naming the line
// ("line 7: unknown access 'wirte' (read, write, readwrite or deny)").
// Nothing throws except std::bad_alloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace duplex::auth {

enum class AclAccess : uint8_t { Read, Write, Subscribe };

class Acl {
    struct Rules;

  public:
    static constexpr size_t kMaxLineBytes = 65535 + 256;
    static constexpr size_t kMaxRules = 100000;
    static constexpr size_t kMaxFileBytes = 64u << 20;

    static std::variant<Acl, std::string> parse(std::string_view text);
    static std::variant<Acl, std::string> load(const std::string& path);

    // `username` empty = anonymous. `topic` is a topic name for Read/Write and
    // a filter for Subscribe (shared-subscription prefixes already removed).
    // An empty topic is denied. Allocates nothing.
    bool allows(std::string_view username, std::string_view client_id, std::string_view topic,
                AclAccess access) const;

    size_t rule_count() const { return rule_count_; }

    // The rules that concern one client, resolved once (at CONNECT) so the
    // check per delivered message needs no username lookup: the same answers
    // as allows() with the same names, about 20 ns cheaper (62 -> 40 ns for
    // a user's wildcard rule in tools/bench/acl_bench.cc's 100-rule file).
    // Copies the names; valid while the Acl it came from lives (re-resolve
    // after a reload).
    class Client {
      public:
        bool allows(std::string_view topic, AclAccess access) const {
            return acl_->check(own_, user_, client_, bad_user_, bad_client_, topic, access);
        }

      private:
        friend class Acl;
        const Acl* acl_ = nullptr;
        const Rules* own_ = nullptr;  // null: a user the file does not name
        std::string user_, client_;
        bool bad_user_ = false, bad_client_ = false;
    };
    Client client(std::string_view username, std::string_view client_id) const;

  private:
    struct Rule {
        enum Access : uint8_t { Read = 1, Write = 2 };
        enum Subst : uint8_t { User = 1, Client = 2 };
        std::string topic;     // may hold %u / %c when it is a pattern
        uint8_t access = 0;    // Read | Write; unused for deny rules
        uint8_t subst = 0;     // which of %u / %c a pattern holds
        bool literal = false;  // no wildcard and no substitution: compare bytes
        // Bytes every topic (and every filter) the rule matches (covers) starts
        // with: the rule up to its first wildcard or substitution, without the
        // '/' before a '#' ("a/#" matches "a"). One memcmp rejects most rules.
        uint32_t prefix = 0;
    };
    struct Rules {
        std::vector<Rule> deny;
        std::vector<Rule> allow;
        bool empty() const { return deny.empty() && allow.empty(); }
    };
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    const Rules* own_rules(std::string_view username) const;
    bool check(const Rules* own, std::string_view username, std::string_view client_id, bool bad_user,
               bool bad_client, std::string_view topic, AclAccess access) const;

    Rules anonymous_;
    std::unordered_map<std::string, Rules, Hash, std::equal_to<>> users_;
    Rules patterns_;
    size_t rule_count_ = 0;
};

}  // namespace duplex::auth
