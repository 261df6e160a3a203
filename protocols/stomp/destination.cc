#include "protocols/stomp/destination.h"

#include "broker/topic.h"

#include <fmt/core.h>

namespace duplex::stomp {

namespace {
bool starts_with(std::string_view s, std::string_view prefix, std::string_view& rest) {
    if (s.substr(0, prefix.size()) != prefix) return false;
    rest = s.substr(prefix.size());
    return true;
}
}  // namespace

const char* parse_destination(std::string_view text, bool subscribe, Destination& out) {
    std::string_view rest;
    out.header = std::string(text);
    if (text.empty()) return "missing destination header";
    if (starts_with(text, kTopicPrefix, rest)) {
        out.kind = Destination::Kind::Topic;
        if (subscribe ? !valid_topic_filter(rest) : !valid_topic_name(rest))
            return subscribe ? "invalid topic filter in destination" : "invalid topic name in destination";
    } else if (starts_with(text, kQueuePrefix, rest)) {
        out.kind = Destination::Kind::Queue;
        if (rest.empty()) return "empty queue name in destination";
    } else if (starts_with(text, kTempQueuePrefix, rest)) {
        out.kind = Destination::Kind::TempQueue;
        if (rest.empty()) return "empty temp queue name in destination";
    } else if (starts_with(text, kRemoteTempQueuePrefix, rest)) {
        out.kind = Destination::Kind::RemoteTempQueue;
        if (subscribe) return "cannot subscribe to another connection's temp queue";
        if (rest.find('/') == std::string_view::npos) return "malformed remote temp queue destination";
    } else {
        return "unknown destination (use /topic/, /queue/ or /temp-queue/)";
    }
    out.name = std::string(rest);
    return nullptr;
}

}  // namespace duplex::stomp
