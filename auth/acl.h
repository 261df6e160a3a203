// Access control lists in mosquitto's acl_file syntax, so existing files work:
//
//   # comment
//   topic [read|write|readwrite|deny] <topic>    rules for the current user
//   user <username>                              following `topic` lines are that user's
//   pattern [read|write|readwrite|deny] <topic>  every client; %u = username, %c = client id
//
// `topic` lines before the first `user` line apply to anonymous clients.
// No access word means readwrite. A rule's topic may hold + and #.
// `deny` wins over any allow that also matches. A client with no matching
// rule is denied (a file that exists is an allow-list).
//
// What is checked (mosquitto 2.0's semantics):
//   Write:     a topic name the client publishes to (or a will's topic)
//   Read:      a topic name of a message about to be delivered to the client
//   Subscribe: a filter: allowed when a read/readwrite rule's pattern covers
//              every topic the filter can match (`a/+` is covered by `a/#`
//              and `a/+`, not by `a/b`), and no deny rule covers the filter.
//              Messages under a wildcard filter are checked again with Read.
// %u / %c in patterns only match when the username / client id holds no
// '+', '#' or '/' (a client named "#" must not widen its own rules).
//
// Threading: immutable once made. Errors: parse()/load() return an error text
// naming the line ("line 7: unknown access 'wirte'").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace duplex::auth {

enum class AclAccess : uint8_t { Read, Write, Subscribe };

class Acl {
  public:
    static std::variant<Acl, std::string> parse(std::string_view text);
    static std::variant<Acl, std::string> load(const std::string& path);

    // `username` empty = anonymous. `topic` is a topic name for Read/Write and
    // a filter for Subscribe (shared-subscription prefixes already removed).
    bool allows(std::string_view username, std::string_view client_id, std::string_view topic,
                AclAccess access) const;

    size_t rule_count() const;

  private:
    struct Rule {
        enum Access : uint8_t { Read = 1, Write = 2, Deny = 4 };
        uint8_t access;
        std::string topic;  // may hold %u / %c when it is a pattern
        bool pattern;
    };
    std::vector<Rule> anonymous_;
    std::vector<std::pair<std::string, std::vector<Rule>>> users_;  // order kept
    std::vector<Rule> patterns_;
};

}  // namespace duplex::auth
