// lcd-engine: small helpers every API area shares (implemented in util.cc): request bodies and
// their fields, docker's zero values, raw writes to a hijacked connection, atomic record files,
// ids, times and API versions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "http.h"

namespace lcde {

// A request's JSON body: empty or null is {}; more than 4 MiB is 413; malformed JSON is 400 with
// the parser's message; anything but an object is 400.
nlohmann::json ParseJsonBody(const Request& req);

// docker's zero value of a field: null, false, 0, "", [] or an object of zero values.
bool IsEmptyValue(const nlohmann::json& v);

// A field of a JSON object, absent or null giving "" / 0 / false; a value of another type is
// HttpError 400 naming where + key ("HostConfig.Memory: expected an integer").
std::string JsonStr(const nlohmann::json& j, const char* key, const std::string& where = "");
int64_t JsonInt(const nlohmann::json& j, const char* key, const std::string& where = "");
bool JsonBool(const nlohmann::json& j, const char* key, const std::string& where = "");

// Writes all of data to a socket (MSG_NOSIGNAL); false when the peer is gone.
bool SendAll(int fd, std::string_view data);

// Replaces path with data: a temp file in the same directory, fsync, rename. Throws
// libcontainerd::Error naming the file; nothing is left behind on failure.
void WriteFileAtomic(const std::string& path, const std::string& data);

// bytes random bytes as lower-case hex (ids: RandomHex(32) is docker's 64-character id).
std::string RandomHex(size_t bytes);

// Nanoseconds since the epoch of an RFC 3339 time ("2024-01-02T03:04:05.123456789Z"); 0 when
// unreadable. Now, in the same unit.
int64_t ParseRfc3339Nano(const std::string& t);
int64_t NowNano();

// -1, 0 or 1 as API version a ("1.41") is older than, the same as, or newer than b.
int CompareApiVersions(const std::string& a, const std::string& b);

}  // namespace lcde
