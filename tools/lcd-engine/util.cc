// lcd-engine: the helpers of http.h (Request accessors, JSON answers, error mapping, URL
// decoding) and of engine.h (docker's time formats and filters).
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "common.h"
#include "engine.h"
#include "http.h"
#include "libcontainerd/errors.h"

namespace lcde {
namespace {

using json = nlohmann::json;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

[[noreturn]] void BadTime(const std::string& value) {
  throw HttpError(400, "invalid time value '" + value +
                           "': use Unix seconds (1700000000[.5]), RFC 3339 "
                           "(2006-01-02T15:04:05[.999][Z|+07:00]), a date (2006-01-02) or a "
                           "duration before now (10m, 1h30m, 1.5s)");
}

int64_t NowNanoImpl() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Go's time.ParseDuration for non-negative values: a sequence of decimal numbers with a unit
// (ns, us, µs, ms, s, m, h). Returns false when `s` is not one.
bool ParseDuration(std::string_view s, int64_t& nanos) {
  if (s.empty()) return false;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    nanos = 0;
    return true;
  }
  if (s.empty()) return false;
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    std::string number(s.substr(0, i));
    if (number.empty() || number == "." || std::count(number.begin(), number.end(), '.') > 1) {
      return false;
    }
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && !(std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    std::string unit(s.substr(0, j));
    s.remove_prefix(j);
    long double scale = 0;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") {
      scale = 1e3L;
    } else if (unit == "ms") {
      scale = 1e6L;
    } else if (unit == "s") {
      scale = 1e9L;
    } else if (unit == "m") {
      scale = 60e9L;
    } else if (unit == "h") {
      scale = 3600e9L;
    } else {
      return false;
    }
    total += std::strtold(number.c_str(), nullptr) * scale;
  }
  if (total > 9.2e18L) return false;
  nanos = static_cast<int64_t>(total);
  if (negative) nanos = -nanos;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Reads exactly n digits at pos.
bool Digits(const std::string& s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

// The local zone's offset from UTC (seconds) at the given local wall-clock time.
int64_t LocalOffset(int64_t utc_guess) {
  time_t t = static_cast<time_t>(utc_guess);
  struct tm local {};
  if (localtime_r(&t, &local) == nullptr) return 0;
  return local.tm_gmtoff;
}

// RFC 3339 and its shortened forms as docker's CLI accepts them: DATE, DATE"T"HH, DATE"T"HH:MM,
// DATE"T"HH:MM:SS[.frac], each with an optional zone (Z or +hh:mm / -hh:mm). No zone: local
// time, as docker does.
bool ParseRfc3339(const std::string& v, int64_t& nanos) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(v, pos, 4, year) || pos >= v.size() || v[pos++] != '-' || !Digits(v, pos, 2, month) ||
      pos >= v.size() || v[pos++] != '-' || !Digits(v, pos, 2, day)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  int64_t frac = 0;
  if (pos < v.size() && (v[pos] == 'T' || v[pos] == 't')) {
    ++pos;
    if (!Digits(v, pos, 2, hour)) return false;
    if (pos < v.size() && v[pos] == ':') {
      ++pos;
      if (!Digits(v, pos, 2, minute)) return false;
      if (pos < v.size() && v[pos] == ':') {
        ++pos;
        if (!Digits(v, pos, 2, second)) return false;
        if (pos < v.size() && v[pos] == '.') {
          ++pos;
          size_t start = pos;
          while (pos < v.size() && std::isdigit(static_cast<unsigned char>(v[pos]))) ++pos;
          std::string digits = v.substr(start, pos - start);
          if (digits.empty()) return false;
          digits.resize(9, '0');  // nanoseconds; extra digits are cut
          frac = std::strtoll(digits.substr(0, 9).c_str(), nullptr, 10);
        }
      }
    }
  }
  if (hour > 23 || minute > 59 || second > 60) return false;
  bool has_zone = false;
  int64_t offset = 0;
  if (pos < v.size()) {
    if (v[pos] == 'Z' || v[pos] == 'z') {
      has_zone = true;
      ++pos;
    } else if (v[pos] == '+' || v[pos] == '-') {
      int sign = v[pos] == '-' ? -1 : 1;
      ++pos;
      int oh = 0, om = 0;
      if (!Digits(v, pos, 2, oh) || pos >= v.size() || v[pos++] != ':' || !Digits(v, pos, 2, om)) {
        return false;
      }
      has_zone = true;
      offset = sign * (oh * 3600 + om * 60);
    }
  }
  if (pos != v.size()) return false;
  int64_t secs =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second;
  if (has_zone) {
    secs -= offset;
  } else {
    secs -= LocalOffset(secs - LocalOffset(secs));
  }
  nanos = secs * 1000000000 + frac;
  return true;
}

}  // namespace

// ---- Request -----------------------------------------------------------------------------

std::string Request::Query(const std::string& key, const std::string& def) const {
  auto it = query.find(key);
  return it == query.end() ? def : it->second;
}

bool Request::QueryBool(const std::string& key, bool def) const {
  auto it = query.find(key);
  if (it == query.end()) return def;
  const std::string v = Lower(Trim(it->second));
  return !(v.empty() || v == "0" || v == "false" || v == "no" || v == "none");
}

int64_t Request::QueryInt(const std::string& key, int64_t def) const {
  auto it = query.find(key);
  if (it == query.end()) return def;
  const std::string v = Trim(it->second);
  if (v.empty()) return def;
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || end == v.c_str() || *end != '\0') {
    throw HttpError(400, "invalid value for query parameter " + key + ": '" + it->second +
                             "' is not an integer");
  }
  return n;
}

std::string Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

const std::string& Request::Param(const std::string& name) const {
  auto it = params.find(name);
  if (it == params.end()) {
    throw HttpError(500,
                    "internal error: the route of " + path + " has no parameter {" + name + "}");
  }
  return it->second;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// ---- Answers -----------------------------------------------------------------------------

void SendJson(Response& res, int status, std::string json_text) {
  if (json_text.empty() || json_text.back() != '\n') json_text += '\n';
  res.Send(status, "application/json", std::move(json_text));
}

void SendNoContent(Response& res, int status) { res.Send(status, "", std::string()); }

std::string ErrorBody(std::string_view message) {
  json j = json::object();
  j["message"] = std::string(message);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

int StatusForError(const std::exception& e) {
  if (const auto* h = dynamic_cast<const HttpError*>(&e)) return h->status();
  if (const auto* l = dynamic_cast<const libcontainerd::Error*>(&e)) {
    switch (l->kind()) {
      case libcontainerd::ErrorKind::kNotFound:
        return 404;
      case libcontainerd::ErrorKind::kAlreadyExists:
      case libcontainerd::ErrorKind::kFailedPrecondition:
        return 409;
      case libcontainerd::ErrorKind::kInvalidArgument:
        return 400;
      case libcontainerd::ErrorKind::kNotImplemented:
        return 501;
      case libcontainerd::ErrorKind::kUnavailable:
      case libcontainerd::ErrorKind::kDeadlineExceeded:
      case libcontainerd::ErrorKind::kCancelled:
      case libcontainerd::ErrorKind::kUnknown:
        return 500;
    }
  }
  return 500;
}

void SendError(Response& res, const std::exception& e) {
  // Once an answer has started its status is sent: nothing can be added as JSON.
  if (res.Started()) return;
  res.Send(StatusForError(e), "application/json", ErrorBody(e.what()) + "\n");
}

// ---- Times and filters -------------------------------------------------------------------

std::string Rfc3339Nano(std::chrono::system_clock::time_point t) {
  const int64_t total =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  int64_t secs = total / 1000000000;
  int64_t nanos = total % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    secs -= 1;
  }
  time_t tt = static_cast<time_t>(secs);
  struct tm utc {};
  gmtime_r(&tt, &utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
  std::string out = buf;
  if (nanos != 0) {
    // Go's RFC3339Nano: the fraction without trailing zeros.
    std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(nanos));
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  out += 'Z';
  return out;
}

int64_t ParseDockerTime(const std::string& raw) {
  const std::string value = Trim(raw);
  if (value.empty()) BadTime(raw);
  // A duration before now ("10m", "1h30m", "1.5s"); a bare "0" is Unix time 0, as in docker.
  int64_t d = 0;
  if (value != "0" && ParseDuration(value, d)) return NowNanoImpl() - d;
  // Unix seconds with an optional fraction.
  const size_t dot = value.find('.');
  const std::string whole = value.substr(0, dot);
  if (AllDigits(whole) || (whole.size() > 1 && whole[0] == '-' && AllDigits(whole.substr(1)))) {
    if (dot == std::string::npos) {
      errno = 0;
      long long s = std::strtoll(whole.c_str(), nullptr, 10);
      if (errno != 0) BadTime(raw);
      return static_cast<int64_t>(s) * 1000000000;
    }
    std::string frac = value.substr(dot + 1);
    if (AllDigits(frac)) {
      errno = 0;
      long long s = std::strtoll(whole.c_str(), nullptr, 10);
      if (errno != 0) BadTime(raw);
      frac.resize(9, '0');
      int64_t n = std::strtoll(frac.substr(0, 9).c_str(), nullptr, 10);
      return static_cast<int64_t>(s) * 1000000000 + (whole[0] == '-' ? -n : n);
    }
  }
  int64_t nanos = 0;
  if (ParseRfc3339(value, nanos)) return nanos;
  BadTime(raw);
}

std::map<std::string, std::vector<std::string>> ParseFilters(const std::string& json_text) {
  std::map<std::string, std::vector<std::string>> out;
  if (Trim(json_text).empty()) return out;
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    throw HttpError(400, std::string("invalid filters: not JSON (") + e.what() +
                             "); expected {\"name\":[\"value\"]} or {\"name\":{\"value\":true}}");
  }
  if (j.is_null()) return out;
  if (!j.is_object()) {
    throw HttpError(400, "invalid filters: expected a JSON object such as {\"name\":[\"value\"]}");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::vector<std::string>& values = out[it.key()];
    const json& v = it.value();
    if (v.is_array()) {
      for (const json& x : v) {
        if (!x.is_string()) {
          throw HttpError(400, "invalid filters: the values of '" + it.key() + "' must be strings");
        }
        values.push_back(x.get<std::string>());
      }
    } else if (v.is_object()) {
      // docker's form {"name":{"value":true}}: every key is a value, whatever its boolean.
      for (auto vit = v.begin(); vit != v.end(); ++vit) {
        if (!vit.value().is_boolean()) {
          throw HttpError(
              400, "invalid filters: in '" + it.key() + "', '" + vit.key() + "' must map to true");
        }
        values.push_back(vit.key());
      }
    } else if (!v.is_null()) {
      throw HttpError(400, "invalid filters: '" + it.key() +
                               "' must be a list of strings or an object of booleans");
    }
    if (values.empty()) out.erase(it.key());
  }
  return out;
}

// ---- common.h ---------------------------------------------------------------------------------

nlohmann::json ParseJsonBody(const Request& req) {
  if (req.body.empty()) return nlohmann::json::object();
  if (req.body.size() > 4 * 1024 * 1024) throw HttpError(413, "request body too large (max 4 MiB)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(req.body);
  } catch (const nlohmann::json::exception& e) {
    throw HttpError(400, std::string("malformed JSON in the request body: ") + e.what());
  }
  if (j.is_null()) return nlohmann::json::object();
  if (!j.is_object()) throw HttpError(400, "the request body must be a JSON object");
  return j;
}

bool IsEmptyValue(const nlohmann::json& v) {
  if (v.is_null()) return true;
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number()) return v.get<double>() == 0;
  if (v.is_string()) return v.get<std::string>().empty();
  if (v.is_array()) return v.empty();
  if (v.is_object()) {
    for (const auto& x : v)
      if (!IsEmptyValue(x)) return false;
    return true;
  }
  return false;
}

std::string JsonStr(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (!j[key].is_string()) throw HttpError(400, where + key + ": expected a string");
  return j[key].get<std::string>();
}

int64_t JsonInt(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return 0;
  if (!j[key].is_number_integer()) throw HttpError(400, where + key + ": expected an integer");
  return j[key].get<int64_t>();
}

bool JsonBool(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return false;
  if (!j[key].is_boolean()) throw HttpError(400, where + key + ": expected true or false");
  return j[key].get<bool>();
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t w = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

void WriteFileAtomic(const std::string& path, const std::string& data) {
  namespace lcd = libcontainerd;
  const std::string tmp = path + ".tmp-" + RandomHex(4);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) lcd::ThrowErrno(lcd::ErrorKind::kUnknown, errno, "write " + tmp, {.path = tmp});
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(tmp.c_str());
      lcd::ThrowErrno(lcd::ErrorKind::kUnknown, err, "write " + tmp, {.path = tmp});
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    lcd::ThrowErrno(lcd::ErrorKind::kUnknown, err, "rename " + tmp + " to " + path, {.path = path});
  }
}

std::string RandomHex(size_t bytes) {
  static std::mutex mu;
  static std::mt19937_64 gen{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  std::lock_guard l(mu);
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = static_cast<unsigned>(gen() & 0xff);
    out += hex[v >> 4];
    out += hex[v & 15];
  }
  return out;
}

int64_t ParseRfc3339Nano(const std::string& t) {
  int64_t nanos = 0;
  return ParseRfc3339(t, nanos) ? nanos : 0;
}

int64_t NowNano() { return NowNanoImpl(); }

int CompareApiVersions(const std::string& a, const std::string& b) {
  auto parse = [](const std::string& v) {
    int major = 0, minor = 0;
    std::sscanf(v.c_str(), "%d.%d", &major, &minor);
    return std::make_pair(major, minor);
  };
  auto pa = parse(a), pb = parse(b);
  return pa < pb ? -1 : pa == pb ? 0 : 1;
}

}  // namespace lcde
