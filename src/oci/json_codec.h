// Internal: a small field-visitor JSON codec for the OCI structs.
//
// Each struct lists its members once, in VisitFields (spec_json.cc):
//   v("ociVersion", s.oci_version, kAlways); v("hostname", s.hostname, kOmitEmpty); ...
// The Decoder and Encoder visitors below turn that list into lossless decoding (unknown members
// and explicit empty values go to `extra`) and Go-compatible encoding (omitempty).
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "libcontainerd/errors.h"

namespace libcontainerd::oci::detail {

using nlohmann::json;

// Go's encoding rule for a member: always written, or left out when empty (omitempty).
enum Presence { kAlways, kOmitEmpty };

// "$" for the root, else the path itself.
inline std::string DisplayPath(const std::string& path) { return path.empty() ? "$" : path; }

// path + "." + key, or path + "[\"key\"]" when the key is not a plain identifier (map keys).
std::string ChildPath(const std::string& path, std::string_view key);
std::string IndexPath(const std::string& path, size_t index);

// Throws Error{kInvalidArgument, "<path>: <rule>"}.
[[noreturn]] void Fail(const std::string& path, const std::string& rule);

// The path of the member being decoded, made into a string only when an error names it (the
// decoder visits every member of every spec, and most are never reported). Each level is a
// link on the decoding stack: a member key or an array index under its parent. Keys are views
// into the JSON being decoded or string literals, so a JsonPath must not outlive the decode.
class JsonPath {
 public:
  JsonPath() = default;  // the root: "" ("$" in messages)
  JsonPath(const JsonPath& parent, std::string_view key) : parent_(&parent), key_(key) {}
  JsonPath(const JsonPath& parent, size_t index)
      : parent_(&parent), index_(index), is_index_(true) {}
  JsonPath(const JsonPath&) = delete;
  JsonPath& operator=(const JsonPath&) = delete;

  // The same text ChildPath/IndexPath build: "linux.resources.devices[0].access".
  std::string str() const;

 private:
  const JsonPath* parent_ = nullptr;
  std::string_view key_;
  size_t index_ = 0;
  bool is_index_ = false;
};
[[noreturn]] inline void Fail(const JsonPath& path, const std::string& rule) {
  Fail(path.str(), rule);
}

// "a string", "a number", "an object", ... for messages.
const char* TypeName(const json& j);

// Parses text into JSON: Error{kInvalidArgument} for malformed JSON or nesting deeper than
// kMaxDepth (checked before parsing, so no recursion can overflow the stack).
inline constexpr int kMaxDepth = 256;
json ParseJson(std::string_view text);
// Serializes compactly: Error{kInvalidArgument} when a string is not valid UTF-8.
std::string DumpJson(const json& j);

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};
template <class T>
struct IsMap : std::false_type {};
template <class T>
struct IsMap<std::map<std::string, T>> : std::true_type {};

template <class T>
bool IsEmpty(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return !v;
  } else if constexpr (std::is_integral_v<T>) {
    return v == 0;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return v.empty();
  } else if constexpr (IsOptional<T>::value) {
    return !v.has_value();
  } else if constexpr (IsVector<T>::value || IsMap<T>::value) {
    return v.empty();
  } else {
    return false;  // a struct member that is not a pointer in Go is never omitted
  }
}

// Integer name for messages: "an unsigned 32-bit integer".
template <class T>
std::string IntegerName() {
  std::string s = std::is_signed_v<T> ? "a signed " : "an unsigned ";
  return s + std::to_string(sizeof(T) * 8) + "-bit integer";
}

template <class T>
void DecodeInteger(const json& j, const JsonPath& path, T& out) {
  if (!j.is_number_integer()) {  // floats (1.5, 1e3) are refused, as Go's decoder does
    Fail(path, "expected " + IntegerName<T>() + ", got " + TypeName(j));
  }
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      Fail(path, "expected " + IntegerName<T>() + ", got " + std::to_string(u) + " (out of range)");
    }
    out = static_cast<T>(u);
  } else {
    int64_t s = j.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (s < 0) Fail(path, "expected " + IntegerName<T>() + ", got " + std::to_string(s));
    } else {
      if (s < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          s > static_cast<int64_t>(std::numeric_limits<T>::max())) {
        Fail(path,
             "expected " + IntegerName<T>() + ", got " + std::to_string(s) + " (out of range)");
      }
    }
    out = static_cast<T>(s);
  }
}

class Decoder;
class Encoder;

// Decodes any modelled value; structs go through their VisitFields.
template <class T>
void DecodeValue(const json& j, const JsonPath& path, T& out);

template <class S>
void DecodeObject(const json& j, const JsonPath& path, S& out);

// Visitor that reads members of one JSON object into a struct.
class Decoder {
 public:
  Decoder(const json& obj, const JsonPath& path, json& extra)
      : obj_(obj), path_(path), extra_(extra) {}

  template <class T>
  void operator()(const char* key, T& field, Presence presence) {
    known_.push_back(key);
    auto it = obj_.find(key);
    if (it == obj_.end()) return;
    const json& raw = *it;
    if (raw.is_null()) {
      // Go leaves the member at its zero value; keep the explicit null for a lossless round trip.
      if (presence == kOmitEmpty) extra_[key] = nullptr;
      return;
    }
    DecodeValue(raw, JsonPath(path_, key), field);
    if (presence == kOmitEmpty && IsEmpty(field)) extra_[key] = raw;
  }

  // Moves every member that no visit named into extra.
  void Finish() {
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      bool known = false;
      for (const char* k : known_) {
        if (it.key() == k) {
          known = true;
          break;
        }
      }
      if (!known) extra_[it.key()] = it.value();
    }
  }

 private:
  const json& obj_;
  const JsonPath& path_;
  json& extra_;
  std::vector<const char*> known_;
};

template <class T>
json EncodeValue(const T& v);

// Visitor that writes the members of a struct into a JSON object.
class Encoder {
 public:
  explicit Encoder(json& out) : out_(out) {}
  template <class T>
  void operator()(const char* key, const T& field, Presence presence) {
    if (presence == kOmitEmpty && IsEmpty(field)) return;  // extra may hold an explicit empty
    out_[key] = EncodeValue(field);
  }

 private:
  json& out_;
};

// Each struct's member list; defined in spec_json.cc for the const and non-const struct.
#define LCD_OCI_FIELDS(Type)                          \
  template <class S, class V>                         \
  requires std::same_as<std::remove_const_t<S>, Type> \
  void VisitFields(S& s, V& v)

template <class S>
void DecodeObject(const json& j, const JsonPath& path, S& out) {
  if (!j.is_object()) Fail(path, std::string("expected an object, got ") + TypeName(j));
  out.extra = json::object();
  Decoder d(j, path, out.extra);
  VisitFields(out, d);
  d.Finish();
}

template <class S>
json EncodeObject(const S& s) {
  json out = json::object();
  if (s.extra.is_object()) {
    out = s.extra;
  } else if (!s.extra.is_null()) {
    Fail("extra", std::string("must be a JSON object, got ") + TypeName(s.extra));
  }
  Encoder e(out);
  VisitFields(s, e);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The text encoder: writes what DumpJson(EncodeObject(v)) gives, byte for byte (nlohmann's
// compact dump: members sorted by key, a struct's extra members under its modelled ones), but
// straight into the string, without the tree (EncodeSpec runs on every NewContainer; the tree
// and its dump were most of that call's cost). Strings that need no escaping are copied as
// they are; any other string, float or binary value goes through nlohmann's own dump, so its
// escapes and its errors (type_error.316 on invalid UTF-8: the caller converts json::exception
// as DumpJson does) are the tree's.

// Appends s as a JSON string.
void AppendJsonString(std::string& out, std::string_view s);
// Appends the compact dump of j.
void AppendJson(std::string& out, const json& j);

template <class T>
void WriteValue(std::string& out, const T& v);

template <class T>
void WriteThunk(std::string& out, const void* p) {
  WriteValue(out, *static_cast<const T*>(p));
}

// Visitor that collects the members a struct writes (those Encoder would set).
class Writer {
 public:
  struct Entry {
    std::string_view key;
    void (*write)(std::string&, const void*);
    const void* value;
  };
  template <class T>
  void operator()(const char* key, const T& field, Presence presence) {
    if (presence == kOmitEmpty && IsEmpty(field)) return;  // extra may hold an explicit empty
    if (n_ == entries_.size())
      Fail("", "internal: a struct has more members than the encoder's table");
    entries_[n_++] = {key, &WriteThunk<T>, &field};
  }
  // The members in key order (std::map<std::string, json>'s, i.e. byte-wise).
  Entry* begin() { return entries_.data(); }
  Entry* end() { return entries_.data() + n_; }
  void Sort() {
    std::sort(begin(), end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
  }

 private:
  std::array<Entry, 32> entries_{};
  size_t n_ = 0;
};

template <class S>
void WriteObject(std::string& out, const S& s) {
  if (!s.extra.is_null() && !s.extra.is_object())
    Fail("extra", std::string("must be a JSON object, got ") + TypeName(s.extra));
  Writer w;
  VisitFields(s, w);
  w.Sort();
  out.push_back('{');
  bool first = true;
  auto member = [&](const Writer::Entry& e) {  // modelled keys are identifiers: no escapes
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(e.key);
    out.append("\":", 2);
    e.write(out, e.value);
  };
  auto* e = w.begin();
  if (s.extra.is_object()) {
    for (auto it = s.extra.begin(); it != s.extra.end(); ++it) {
      const std::string_view key = it.key();
      for (; e != w.end() && e->key < key; ++e) member(*e);
      if (e != w.end() && e->key == key) continue;  // the modelled member replaces it
      if (!first) out.push_back(',');
      first = false;
      AppendJsonString(out, key);
      out.push_back(':');
      AppendJson(out, it.value());
    }
  }
  for (; e != w.end(); ++e) member(*e);
  out.push_back('}');
}

template <class T>
void WriteValue(std::string& out, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    out += v ? "true" : "false";
  } else if constexpr (std::is_integral_v<T>) {
    char buf[24];
    auto r = std::is_signed_v<T> ? std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v))
                                 : std::to_chars(buf, buf + sizeof buf, static_cast<uint64_t>(v));
    out.append(buf, r.ptr);
  } else if constexpr (std::is_same_v<T, std::string>) {
    AppendJsonString(out, v);
  } else if constexpr (IsOptional<T>::value) {
    if (v)
      WriteValue(out, *v);
    else
      out += "null";
  } else if constexpr (IsVector<T>::value) {
    out.push_back('[');
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out.push_back(',');
      WriteValue(out, v[i]);
    }
    out.push_back(']');
  } else if constexpr (IsMap<T>::value) {
    out.push_back('{');
    bool first = true;
    for (const auto& [k, e] : v) {
      if (!first) out.push_back(',');
      first = false;
      AppendJsonString(out, k);
      out.push_back(':');
      WriteValue(out, e);
    }
    out.push_back('}');
  } else {
    WriteObject(out, v);
  }
}

template <class T>
void DecodeValue(const json& j, const JsonPath& path, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) Fail(path, std::string("expected a boolean, got ") + TypeName(j));
    out = j.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    DecodeInteger(j, path, out);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) Fail(path, std::string("expected a string, got ") + TypeName(j));
    out = j.get_ref<const std::string&>();
  } else if constexpr (IsOptional<T>::value) {
    out.emplace();
    DecodeValue(j, path, *out);
  } else if constexpr (IsVector<T>::value) {
    if (!j.is_array()) Fail(path, std::string("expected an array, got ") + TypeName(j));
    out.clear();
    out.resize(j.size());
    for (size_t i = 0; i < j.size(); ++i) {
      if (j[i].is_null()) continue;  // Go decodes null elements as zero values
      DecodeValue(j[i], JsonPath(path, i), out[i]);
    }
  } else if constexpr (IsMap<T>::value) {
    if (!j.is_object()) Fail(path, std::string("expected an object, got ") + TypeName(j));
    out.clear();
    for (auto it = j.begin(); it != j.end(); ++it) {
      auto& slot = out[it.key()];
      if (!it.value().is_null())
        DecodeValue(it.value(), JsonPath(path, std::string_view(it.key())), slot);
    }
  } else {
    DecodeObject(j, path, out);
  }
}

template <class T>
json EncodeValue(const T& v) {
  if constexpr (std::is_same_v<T, bool> || std::is_integral_v<T> ||
                std::is_same_v<T, std::string>) {
    return json(v);
  } else if constexpr (IsOptional<T>::value) {
    return v ? EncodeValue(*v) : json(nullptr);
  } else if constexpr (IsVector<T>::value) {
    json a = json::array();
    for (const auto& e : v) a.push_back(EncodeValue(e));
    return a;
  } else if constexpr (IsMap<T>::value) {
    json o = json::object();
    for (const auto& [k, e] : v) o[k] = EncodeValue(e);
    return o;
  } else {
    return EncodeObject(v);
  }
}

}  // namespace libcontainerd::oci::detail
