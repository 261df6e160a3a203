#include "base/json.h"

#include <fmt/core.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

namespace duplex {

namespace {

// Forwards SAX events to the document, refusing to open a level beyond `max`.
struct DepthLimited {
    rapidjson::Document& doc;
    size_t max;
    size_t depth = 0;
    bool too_deep = false;

    bool Null() { return doc.Null(); }
    bool Bool(bool b) { return doc.Bool(b); }
    bool Int(int i) { return doc.Int(i); }
    bool Uint(unsigned u) { return doc.Uint(u); }
    bool Int64(int64_t i) { return doc.Int64(i); }
    bool Uint64(uint64_t u) { return doc.Uint64(u); }
    bool Double(double d) { return doc.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return doc.RawNumber(s, n, copy); }
    bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc.String(s, n, copy); }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc.Key(s, n, copy); }
    bool open() {
        if (++depth > max) {
            too_deep = true;
            return false;
        }
        return true;
    }
    bool StartObject() { return open() && doc.StartObject(); }
    bool EndObject(rapidjson::SizeType members) {
        --depth;
        return doc.EndObject(members);
    }
    bool StartArray() { return open() && doc.StartArray(); }
    bool EndArray(rapidjson::SizeType elements) {
        --depth;
        return doc.EndArray(elements);
    }
};

}  // namespace

std::string parse_json(std::string_view text, rapidjson::Document& doc, size_t max_depth) {
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::Reader reader;
    rapidjson::ParseResult result;
    bool too_deep = false;
    // Document::Populate hands the generator a handler that builds the DOM.
    auto generator = [&](rapidjson::Document& handler) {
        DepthLimited limited{handler, max_depth};
        result = reader.Parse<rapidjson::kParseIterativeFlag>(ms, limited);
        too_deep = limited.too_deep;
        return !result.IsError();
    };
    doc.Populate(generator);
    if (too_deep) return fmt::format("JSON nested deeper than {} levels", max_depth);
    if (result.IsError())
        return fmt::format("bad JSON at offset {}: {}", result.Offset(),
                           rapidjson::GetParseError_En(result.Code()));
    return {};
}

}  // namespace duplex
