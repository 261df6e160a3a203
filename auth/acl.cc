#include "auth/acl.h"

#include "base/levels.h"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace duplex::auth {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// The next space-separated word of `rest` (mosquitto tokenises on ' ' only,
// skipping runs of them); `rest` keeps what follows the word's space.
std::string_view next_word(std::string_view& rest) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    size_t end = rest.find(' ');
    std::string_view word = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    return word;
}

// mosquitto_sub_topic_check() with the broker's limits: '+' and '#' only as
// whole levels, '#' last, at most 65,535 bytes and 200 '/'.
const char* topic_error(std::string_view topic) {
    if (topic.size() > 65535) return "longer than 65535 bytes";
    size_t slashes = 0;
    for (char c : topic) slashes += c == '/';
    if (slashes > 200) return "more than 200 '/' (mosquitto's TOPIC_HIERARCHY_LIMIT)";
    Levels levels(topic);
    std::string_view level;
    bool seen_hash = false;
    while (levels.next(level)) {
        if (seen_hash) return "'#' must be the last level [MQTT-4.7.1-2]";
        if (level.size() > 1 && level.find_first_of("+#") != std::string_view::npos)
            return "'+' and '#' must be whole levels [MQTT-4.7.1-3]";
        seen_hash = level == "#";
    }
    return nullptr;
}

// Names a pattern may substitute. `bad` = holds '+', '#' or '/', so it
// cannot stand for one level.
struct Names {
    std::string_view user, client;
    bool bad_user, bad_client;
};

bool dangerous(std::string_view name) {
    for (char c : name)
        if (c == '+' || c == '#' || c == '/') return true;
    return false;
}

// Rule level `r` (no wildcard; %u / %c substituted when `subst`) equals the
// topic or filter level `t`. Substituted names hold no '/' (the caller
// refused them), so one rule level stays one level.
bool level_equals(std::string_view r, std::string_view t, bool subst, const Names& n) {
    if (!subst) return r == t;
    size_t j = 0;
    for (size_t i = 0; i < r.size(); ++i) {
        if (r[i] == '%' && i + 1 < r.size() && (r[i + 1] == 'u' || r[i + 1] == 'c')) {
            std::string_view v = r[i + 1] == 'u' ? n.user : n.client;
            if (t.substr(j, v.size()) != v) return false;
            j += v.size();
            ++i;
            continue;
        }
        if (j >= t.size() || t[j] != r[i]) return false;
        ++j;
    }
    return j == t.size();
}

// Rule filter `rule` matches topic name `topic` (MQTT 4.7 matching).
bool matches(std::string_view rule, std::string_view topic, bool subst, const Names& n) {
    Levels r(rule), t(topic);
    std::string_view rl, tl;
    while (r.next(rl)) {
        if (rl == "#") return true;  // also the parent: "a/#" matches "a"
        if (!t.next(tl)) return false;
        if (rl == "+") continue;
        if (!level_equals(rl, tl, subst, n)) return false;
    }
    return !t.next(tl);
}

// Every topic the filter `filter` can match is matched by `rule`.
bool covers(std::string_view rule, std::string_view filter, bool subst, const Names& n) {
    Levels r(rule), f(filter);
    std::string_view rl, fl;
    for (bool first = true;; first = false) {
        bool has_r = r.next(rl), has_f = f.next(fl);
        if (!has_r) return !has_f;
        if (rl == "#") return true;
        if (!has_f) return false;  // "a" is not covered by "a/+"
        if (fl == "#") {
            // A filter's '#' also matches its parent ("a/#" matches "a"), which
            // only a rule '#' matches too; at the first level there is no
            // parent, and "+/#" matches every topic "#" does.
            return first && rl == "+" && r.rest_is("#");
        }
        if (rl == "+") continue;
        if (fl == "+" || !level_equals(rl, fl, subst, n)) return false;
    }
}

}  // namespace

std::variant<Acl, std::string> Acl::parse(std::string_view text) {
    Acl acl;
    Rules* current = &acl.anonymous_;
    size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        size_t nl = text.find('\n');
        std::string_view raw = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (raw.size() > kMaxLineBytes)
            return fmt::format("line {}: longer than {} bytes", line_no, kMaxLineBytes);
        if (raw.find('\0') != std::string_view::npos) return fmt::format("line {}: NUL byte", line_no);
        std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#') continue;

        std::string_view rest = line;
        std::string_view keyword = next_word(rest);
        if (keyword == "user") {
            std::string_view name = trim(rest);
            if (name.empty()) return fmt::format("line {}: 'user' without a username", line_no);
            current = &acl.users_[std::string(name)];
            continue;
        }
        bool pattern = keyword == "pattern";
        if (!pattern && keyword != "topic")
            return fmt::format("line {}: unknown keyword '{}' (topic, user or pattern)", line_no, keyword);

        std::string_view word = next_word(rest);
        if (word.empty()) return fmt::format("line {}: '{}' without a topic", line_no, keyword);
        std::string_view topic = trim(rest);
        uint8_t access = Rule::Read | Rule::Write;
        bool deny = false;
        if (topic.empty()) {
            topic = word;  // "topic a/b": no access word
        } else if (word == "read") {
            access = Rule::Read;
        } else if (word == "write") {
            access = Rule::Write;
        } else if (word == "readwrite") {
        } else if (word == "deny") {
            deny = true;
        } else {
            return fmt::format("line {}: unknown access '{}' (read, write, readwrite or deny)", line_no,
                               word);
        }
        if (const char* error = topic_error(topic))
            return fmt::format("line {}: invalid topic '{}': {}", line_no, topic, error);
        if (acl.rule_count_ == kMaxRules)
            return fmt::format("line {}: more than {} rules", line_no, kMaxRules);

        Rule rule;
        rule.topic = std::string(topic);
        rule.access = deny ? 0 : access;
        if (pattern) {
            if (topic.find("%u") != std::string_view::npos) rule.subst |= Rule::User;
            if (topic.find("%c") != std::string_view::npos) rule.subst |= Rule::Client;
        }
        rule.literal = rule.subst == 0 && topic.find_first_of("+#") == std::string_view::npos;
        size_t end = topic.find_first_of("+#");
        if (pattern) end = std::min({end, topic.find("%u"), topic.find("%c")});
        if (end == std::string_view::npos) end = topic.size();
        if (end > 0 && end < topic.size() && topic[end] == '#') --end;
        rule.prefix = uint32_t(end);
        Rules& rules = pattern ? acl.patterns_ : *current;
        (deny ? rules.deny : rules.allow).push_back(std::move(rule));
        ++acl.rule_count_;
    }
    return acl;
}

std::variant<Acl, std::string> Acl::load(const std::string& path) {
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) return fmt::format("{}: {}", path, std::strerror(errno));
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0) {
        if (text.size() + n > kMaxFileBytes)
            return fmt::format("{}: larger than {} bytes", path, kMaxFileBytes);
        text.append(buf, n);
    }
    if (std::ferror(file.get())) return fmt::format("{}: read error", path);
    auto result = parse(text);
    if (auto* error = std::get_if<std::string>(&result)) return path + ": " + *error;
    return result;
}

const Acl::Rules* Acl::own_rules(std::string_view username) const {
    if (username.empty()) return &anonymous_;
    auto it = users_.find(username);
    return it == users_.end() ? nullptr : &it->second;
}

Acl::Client Acl::client(std::string_view username, std::string_view client_id) const {
    Client c;
    c.acl_ = this;
    c.own_ = own_rules(username);
    c.user_ = std::string(username);
    c.client_ = std::string(client_id);
    c.bad_user_ = dangerous(username);
    c.bad_client_ = dangerous(client_id);
    return c;
}

bool Acl::allows(std::string_view username, std::string_view client_id, std::string_view topic,
                 AclAccess access) const {
    return check(own_rules(username), username, client_id, dangerous(username), dangerous(client_id), topic,
                 access);
}

bool Acl::check(const Rules* own, std::string_view username, std::string_view client_id, bool bad_user,
                bool bad_client, std::string_view topic, AclAccess access) const {
    if (topic.empty()) return false;
    // Clients never publish to $SYS (mosquitto's acl__check_dollar).
    if (access == AclAccess::Write && topic.substr(0, 4) == "$SYS" && (topic.size() == 4 || topic[4] == '/'))
        return false;
    const Names names{username, client_id, bad_user, bad_client};
    const bool filter = access == AclAccess::Subscribe;
    const uint8_t bit = access == AclAccess::Write ? Rule::Write : Rule::Read;

    auto applies = [&](const Rule& rule) {
        // A rule starting with a wildcard (or a name) never grants '$' topics.
        if (topic[0] == '$' && rule.topic[0] != '$') return false;
        if (rule.literal) return rule.topic == topic;
        if (topic.size() < rule.prefix || std::memcmp(topic.data(), rule.topic.data(), rule.prefix) != 0)
            return false;
        return filter ? covers(rule.topic, topic, rule.subst != 0, names)
                      : matches(rule.topic, topic, rule.subst != 0, names);
    };
    // A pattern naming a name the client has not got (anonymous, or an empty
    // client id) says nothing about the client.
    auto skipped = [&](const Rule& rule) {
        return ((rule.subst & Rule::User) && username.empty()) ||
               ((rule.subst & Rule::Client) && client_id.empty());
    };

    if (own)
        for (const Rule& rule : own->deny)
            if (applies(rule)) return false;
    for (const Rule& rule : patterns_.deny) {
        if (skipped(rule)) continue;
        if (((rule.subst & Rule::User) && names.bad_user) ||
            ((rule.subst & Rule::Client) && names.bad_client))
            return false;  // cannot place the name: fail closed
        if (applies(rule)) return false;
    }
    if (own)
        for (const Rule& rule : own->allow)
            if ((rule.access & bit) && applies(rule)) return true;
    if (names.bad_user || names.bad_client) return false;  // no allow pattern for such names
    for (const Rule& rule : patterns_.allow)
        if ((rule.access & bit) && !skipped(rule) && applies(rule)) return true;
    return false;
}

}  // namespace duplex::auth
