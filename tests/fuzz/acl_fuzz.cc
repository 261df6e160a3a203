// libFuzzer target for auth/acl: the parser on any bytes, and the checks
// against a reference model on generated files.
//
// First byte even: the rest is an ACL file's text. parse() must not crash;
// an error must read "line N: ..." with N within the text; a parsed Acl is
// asked a few checks (no crash, Acl::Client agrees with allows()).
//
// First byte odd: the rest is a sequence of rules, then checks, over small
// alphabets. The fuzzer writes the rules as an acl_file, parses it, and
// compares every check with a model written from auth/acl.h's contract:
//   - substitution is textual (std::string replace of %u / %c),
//   - Read/Write match with tests/topic_match_reference.h,
//   - Subscribe coverage by enumeration: every topic over the literals of
//     the rule and the filter plus a fresh level, up to one level longer
//     than either, that the filter matches must match the rule,
// and the decision order of the header (deny first, hostile names, $SYS).
//
// Rule encoding: a count byte (% 9), then per rule one header byte
//   bits 0-1  owner: 0 anonymous, 1 user "u", 2 user "a/b", 3 pattern
//   bits 2-3  0 read, 1 write, 2 readwrite, 3 deny
//   bits 4-5  levels - 1 (1..3, % 3)
//   bit  6    readwrite written without its access word
// then one byte per level into kRuleLevels ('#' ends the topic).
// Check encoding, until the input ends: one byte
//   bits 0-1  0 read, 1 write, 2-3 subscribe
//   bits 2-4  username index (% 5), bits 5-6 client id index
// then a levels byte (% 3 + 1) and one byte per level into kTopicLevels
// (wildcards become "a" in topic names).
#include "auth/acl.h"
#include "tests/topic_match_reference.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

using duplex::auth::Acl;
using duplex::auth::AclAccess;
using duplex::test::reference_match;

namespace {

const char* const kRuleLevels[] = {"a", "b", "", "$s", "+", "#", "%u", "%c", "x%u", "$SYS"};
const char* const kTopicLevels[] = {"a", "b", "", "$s", "u", "xu", "c1", "+", "#", "$SYS", "xa/b", "%u"};
const char* const kUsers[] = {"", "u", "v", "a/b", "+"};
const char* const kClients[] = {"c1", "", "c/1", "#"};

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "acl_fuzz: %s\n", what.c_str());
    std::abort();
}

struct ModelRule {
    int owner;  // 0 anonymous, 1 "u", 2 "a/b", 3 pattern
    bool deny;
    uint8_t access;  // 1 read, 2 write
    bool bare;       // readwrite written without its access word
    std::string topic;
};

struct Reader {
    const uint8_t* p;
    const uint8_t* end;
    bool more() const { return p < end; }
    uint8_t byte() { return p < end ? *p++ : 0; }
};

std::string subst(const std::string& t, std::string_view user, std::string_view client) {
    std::string out;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '%' && i + 1 < t.size() && (t[i + 1] == 'u' || t[i + 1] == 'c')) {
            out += t[i + 1] == 'u' ? user : client;
            ++i;
        } else {
            out += t[i];
        }
    }
    return out;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t slash = s.find('/', start);
        if (slash == std::string::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, slash - start));
        start = slash + 1;
    }
}

// Every topic the filter matches is matched by the rule, by enumeration.
bool reference_covers(const std::string& rule, const std::string& filter) {
    std::set<std::string> alphabet = {"zz"};
    auto r = split(rule), f = split(filter);
    for (auto& l : r)
        if (l != "+" && l != "#") alphabet.insert(l);
    for (auto& l : f)
        if (l != "+" && l != "#") alphabet.insert(l);
    std::vector<std::string> letters(alphabet.begin(), alphabet.end());
    size_t max_levels = std::max(r.size(), f.size()) + 1;
    std::vector<size_t> digits;
    for (size_t levels = 1; levels <= max_levels; ++levels) {
        digits.assign(levels, 0);
        for (;;) {
            std::string topic;
            for (size_t i = 0; i < levels; ++i) {
                if (i) topic += '/';
                topic += letters[digits[i]];
            }
            if (reference_match(filter, topic) && !reference_match(rule, topic)) return false;
            size_t i = 0;
            while (i < levels && ++digits[i] == letters.size()) digits[i++] = 0;
            if (i == levels) break;
        }
    }
    return true;
}

bool dangerous(std::string_view s) { return s.find_first_of("+#/") != std::string_view::npos; }

bool model_allows(const std::vector<ModelRule>& rules, std::string_view user, std::string_view client,
                  const std::string& topic, AclAccess access) {
    if (topic.empty()) return false;  // auth/acl.h: an empty topic is denied
    if (access == AclAccess::Write && (topic == "$SYS" || topic.rfind("$SYS/", 0) == 0)) return false;
    int own = user.empty() ? 0 : user == "u" ? 1 : user == "a/b" ? 2 : -1;
    bool bad = dangerous(user) || dangerous(client);
    auto applies = [&](const ModelRule& r) {
        if (topic[0] == '$' && r.topic[0] != '$') return false;
        std::string rule = r.owner == 3 ? subst(r.topic, user, client) : r.topic;  // topic lines: literal
        return access == AclAccess::Subscribe ? reference_covers(rule, topic) : reference_match(rule, topic);
    };
    auto uses = [](const ModelRule& r, const char* what) {
        return r.owner == 3 && r.topic.find(what) != std::string::npos;
    };
    auto skipped = [&](const ModelRule& r) {
        return (uses(r, "%u") && user.empty()) || (uses(r, "%c") && client.empty());
    };
    uint8_t bit = access == AclAccess::Write ? 2 : 1;
    for (auto& r : rules)
        if (r.deny && r.owner == own && applies(r)) return false;
    for (auto& r : rules) {
        if (!r.deny || r.owner != 3 || skipped(r)) continue;
        if ((uses(r, "%u") && dangerous(user)) || (uses(r, "%c") && dangerous(client))) return false;
        if (applies(r)) return false;
    }
    for (auto& r : rules)
        if (!r.deny && r.owner == own && (r.access & bit) && applies(r)) return true;
    if (bad) return false;
    for (auto& r : rules)
        if (!r.deny && r.owner == 3 && (r.access & bit) && !skipped(r) && applies(r)) return true;
    return false;
}

void text_mode(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = Acl::parse(text);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        unsigned long line = 0;
        if (std::sscanf(error->c_str(), "line %lu: ", &line) != 1 || line == 0)
            fail("error without a line: " + *error);
        size_t lines = 1;
        for (char c : text) lines += c == '\n';
        if (line > lines) fail("error names a line past the end: " + *error);
        return;
    }
    const Acl& acl = std::get<Acl>(parsed);
    const char* topics[] = {"a", "a/b", "$SYS/x", "#", "a/+", "u/c1"};
    for (auto user : kUsers)
        for (auto client : kClients) {
            Acl::Client c = acl.client(user, client);
            for (auto topic : topics)
                for (auto access : {AclAccess::Read, AclAccess::Write, AclAccess::Subscribe})
                    if (c.allows(topic, access) != acl.allows(user, client, topic, access))
                        fail("Acl::Client and allows() disagree");
        }
}

void model_mode(Reader in) {
    std::vector<ModelRule> rules;
    size_t count = in.byte() % 9;
    for (size_t i = 0; i < count; ++i) {
        uint8_t h = in.byte();
        ModelRule r;
        r.owner = h & 3;
        int a = (h >> 2) & 3;
        r.deny = a == 3;
        r.access = a == 0 ? 1 : a == 1 ? 2 : 3;
        size_t levels = ((h >> 4) & 3) % 3 + 1;
        for (size_t l = 0; l < levels; ++l) {
            std::string level = kRuleLevels[in.byte() % std::size(kRuleLevels)];
            if (l) r.topic += '/';
            r.topic += level;
            if (level == "#") break;
        }
        if (r.topic.empty()) r.topic.push_back('a');  // "topic read " would be readwrite on "read"
        r.bare = a == 2 && (h & 0x40);
        rules.push_back(r);
    }
    std::string text;
    const char* words[] = {"read", "write", "readwrite", "deny"};
    auto write_rule = [&](const ModelRule& r, const char* keyword) {
        int a = r.deny ? 3 : r.access == 1 ? 0 : r.access == 2 ? 1 : 2;
        text += keyword;
        if (r.bare) {
            text += " " + r.topic + "\n";
        } else {
            text += std::string(" ") + words[a] + " " + r.topic + "\n";
        }
    };
    for (size_t i = 0; i < rules.size(); ++i)
        if (rules[i].owner == 0) write_rule(rules[i], "topic");
    for (int owner : {1, 2}) {
        text += owner == 1 ? "user u\n" : "user a/b\n";
        for (size_t i = 0; i < rules.size(); ++i)
            if (rules[i].owner == owner) write_rule(rules[i], "topic");
    }
    for (size_t i = 0; i < rules.size(); ++i)
        if (rules[i].owner == 3) write_rule(rules[i], "pattern");
    auto parsed = Acl::parse(text);
    if (auto* error = std::get_if<std::string>(&parsed))
        fail("generated file rejected: " + *error + "\n" + text);
    const Acl& acl = std::get<Acl>(parsed);
    if (acl.rule_count() != rules.size()) fail("rule count");

    while (in.more()) {
        uint8_t h = in.byte();
        AclAccess access = (h & 3) == 0   ? AclAccess::Read
                           : (h & 3) == 1 ? AclAccess::Write
                                          : AclAccess::Subscribe;
        const char* user = kUsers[((h >> 2) & 7) % std::size(kUsers)];
        const char* client = kClients[(h >> 5) & 3];
        size_t levels = in.byte() % 3 + 1;
        std::string topic;
        for (size_t l = 0; l < levels; ++l) {
            std::string level = kTopicLevels[in.byte() % std::size(kTopicLevels)];
            if (access != AclAccess::Subscribe && (level == "+" || level == "#")) level = "a";
            if (l) topic += '/';
            topic += level;
            if (level == "#") break;
        }
        bool got = acl.allows(user, client, topic, access);
        bool want = model_allows(rules, user, client, topic, access);
        if (got != want) {
            fail(std::string("allows(\"") + user + "\", \"" + client + "\", \"" + topic + "\", " +
                 (access == AclAccess::Read    ? "Read"
                  : access == AclAccess::Write ? "Write"
                                               : "Subscribe") +
                 ") = " + (got ? "allow" : "deny") + ", model says " + (want ? "allow" : "deny") +
                 "\nfile:\n" + text);
        }
        if (acl.client(user, client).allows(topic, access) != got) fail("Acl::Client and allows() disagree");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    if (data[0] % 2 == 0) {
        text_mode(data + 1, size - 1);
    } else {
        model_mode(Reader{data + 1, data + size});
    }
    return 0;
}
