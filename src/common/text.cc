#include "common/text.h"

#include <algorithm>

namespace libcontainerd::text {

std::string Escaped(std::string_view s, size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(s.size(), max) + 8);
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string Quoted(std::string_view s, size_t max) { return "\"" + Escaped(s, max) + "\""; }

}  // namespace libcontainerd::text
