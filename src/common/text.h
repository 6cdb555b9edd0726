// Untrusted text (ids, type URLs, topics) made safe to put in an error or log message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace libcontainerd::text {

// Control bytes, DEL, non-ASCII bytes, '"' and '\' written as \xNN; cut after `max` input
// bytes with "..." appended.
std::string Escaped(std::string_view s, size_t max = 120);

// Escaped(s, max) in double quotes.
std::string Quoted(std::string_view s, size_t max = 120);

}  // namespace libcontainerd::text
