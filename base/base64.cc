#include "base/base64.h"

#include <array>
#include <cstdint>

namespace duplex {

namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// 0..63 for a character of the alphabet, 0xff for any other byte.
constexpr std::array<uint8_t, 256> reverse(const char* alphabet) {
    std::array<uint8_t, 256> r{};
    for (auto& v : r) v = 0xff;
    for (int i = 0; i < 64; ++i) r[uint8_t(alphabet[i])] = uint8_t(i);
    return r;
}
constexpr std::array<uint8_t, 256> kStandardReverse = reverse(kStandard);
constexpr std::array<uint8_t, 256> kUrlReverse = reverse(kUrl);

}  // namespace

std::string base64_encode(std::string_view bytes, Base64 alphabet) {
    const char* a = alphabet == Base64::Standard ? kStandard : kUrl;
    const bool pad = alphabet == Base64::Standard;
    const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
    const size_t n = bytes.size();
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = uint32_t(d[i]) << 16;
        if (i + 1 < n) v |= uint32_t(d[i + 1]) << 8;
        if (i + 2 < n) v |= d[i + 2];
        out.push_back(a[(v >> 18) & 63]);
        out.push_back(a[(v >> 12) & 63]);
        if (i + 1 < n) out.push_back(a[(v >> 6) & 63]);
        else if (pad) out.push_back('=');
        if (i + 2 < n) out.push_back(a[v & 63]);
        else if (pad) out.push_back('=');
    }
    return out;
}

bool base64_decode(std::string_view text, Base64 alphabet, std::string& out) {
    const auto& rev = alphabet == Base64::Standard ? kStandardReverse : kUrlReverse;
    if (alphabet == Base64::Standard && !text.empty() && text.back() == '=') {
        // Padding present: the whole text must be a multiple of 4 with one or
        // two '=' at the end.
        if (text.size() % 4 != 0) return false;
        size_t pads = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
        text.remove_suffix(pads);
    }
    if (text.size() % 4 == 1) return false;
    out.clear();
    out.reserve(text.size() / 4 * 3 + 2);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        uint8_t v = rev[uint8_t(c)];
        if (v == 0xff) return false;
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(char((acc >> bits) & 0xff));
        }
    }
    // 2 or 4 bits left over after the last whole byte: they must be zero.
    return (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace duplex
