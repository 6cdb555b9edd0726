// Registry helpers without I/O: WWW-Authenticate challenges, docker config.json credentials,
// loopback hosts (registry.h).
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "images/registry.h"
#include "libcontainerd/errors.h"

namespace libcontainerd::images {

namespace detail {
// Shared with registry.cc, which declares them again (no header of their own).
std::string Base64Encode(std::string_view in);
std::optional<std::string> Base64Decode(std::string_view in);  // standard or URL alphabet
}  // namespace detail

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::strchr("!#$%&'*+-.^_`|~/", c) != nullptr && c != '\0';
}

}  // namespace

std::vector<Challenge> ParseChallenges(std::string_view header) {
  std::vector<Challenge> out;
  size_t i = 0;
  const size_t n = header.size();
  auto skip_ws = [&] {
    while (i < n && (header[i] == ' ' || header[i] == '\t')) ++i;
  };
  auto read_token = [&] {
    size_t start = i;
    while (i < n && IsTokenChar(header[i])) ++i;
    return header.substr(start, i - start);
  };
  while (i < n) {
    // Skip separators between challenges.
    while (i < n && (header[i] == ' ' || header[i] == '\t' || header[i] == ',')) ++i;
    std::string_view scheme = read_token();
    if (scheme.empty()) {
      if (i < n) ++i;  // an unexpected character: skip it
      continue;
    }
    Challenge ch;
    ch.scheme = Lower(scheme);
    // Parameters: name=value or name="quoted", separated by commas, until a token that is not
    // followed by '=' (the next challenge's scheme).
    while (true) {
      while (i < n && (header[i] == ' ' || header[i] == '\t' || header[i] == ',')) ++i;
      size_t mark = i;
      std::string_view name = read_token();
      skip_ws();
      if (name.empty() || i >= n || header[i] != '=') {
        // A token68 (e.g. "Negotiate abc==") has '=' only as padding at its end; treat a bare
        // token as the next scheme.
        i = mark;
        break;
      }
      ++i;  // '='
      skip_ws();
      std::string value;
      if (i < n && header[i] == '"') {
        ++i;
        while (i < n && header[i] != '"') {
          if (header[i] == '\\' && i + 1 < n) ++i;
          value += header[i++];
        }
        if (i < n) ++i;  // closing quote
      } else {
        size_t start = i;
        while (i < n && header[i] != ',' && header[i] != ' ' && header[i] != '\t') ++i;
        value = std::string(header.substr(start, i - start));
      }
      ch.params[Lower(name)] = std::move(value);
    }
    out.push_back(std::move(ch));
  }
  return out;
}

namespace {

// docker's ConvertToHostname: strips the scheme and any path.
std::string HostOfConfigKey(std::string_view key) {
  if (size_t p = key.find("://"); p != std::string_view::npos) key.remove_prefix(p + 3);
  if (size_t slash = key.find('/'); slash != std::string_view::npos) key = key.substr(0, slash);
  return Lower(key);
}

bool IsDockerHubHost(std::string_view host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

}  // namespace

std::optional<Credentials> CredentialsFromDockerConfig(std::string_view config_json,
                                                       std::string_view host) {
  nlohmann::json doc = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    throw Error(ErrorKind::kInvalidArgument,
                "docker config is not a JSON object: fix or remove the file",
                {.op = "CredentialsFromDockerConfig"});
  auto auths = doc.find("auths");
  if (auths == doc.end() || !auths->is_object()) return std::nullopt;

  const std::string want = Lower(host);
  const nlohmann::json* entry = nullptr;
  // An exact key first, then any key whose host part matches (docker's rule).
  if (auto it = auths->find(std::string(host)); it != auths->end()) entry = &*it;
  if (entry == nullptr && IsDockerHubHost(want)) {
    if (auto it = auths->find("https://index.docker.io/v1/"); it != auths->end()) entry = &*it;
  }
  if (entry == nullptr) {
    for (auto it = auths->begin(); it != auths->end(); ++it) {
      std::string h = HostOfConfigKey(it.key());
      if (h == want || (IsDockerHubHost(want) && IsDockerHubHost(h))) {
        entry = &*it;
        break;
      }
    }
  }
  if (entry == nullptr || !entry->is_object()) return std::nullopt;

  auto str = [&](const char* key) -> std::string {
    auto it = entry->find(key);
    return it != entry->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  Credentials creds;
  if (std::string auth = str("auth"); !auth.empty()) {
    std::optional<std::string> decoded = detail::Base64Decode(auth);
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (!decoded || colon == std::string::npos)
      throw Error(ErrorKind::kInvalidArgument,
                  "docker config: auths[\"" + std::string(host) +
                      "\"].auth is not base64 of \"user:password\": log in again",
                  {.op = "CredentialsFromDockerConfig"});
    creds.username = decoded->substr(0, colon);
    creds.password = decoded->substr(colon + 1);
  } else {
    creds.username = str("username");
    creds.password = str("password");
  }
  if (std::string token = str("identitytoken"); !token.empty()) {
    if (creds.username.empty()) creds.username = "<token>";
    creds.password = token;
  }
  if (creds.username.empty() && creds.password.empty()) return std::nullopt;
  return creds;
}

bool IsLoopbackHost(std::string_view host_port) {
  std::string host;
  if (!host_port.empty() && host_port.front() == '[') {
    size_t close = host_port.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(host_port.substr(1, close - 1));
  } else if (std::count(host_port.begin(), host_port.end(), ':') == 1) {
    host = std::string(host_port.substr(0, host_port.find(':')));
  } else {
    host = std::string(host_port);  // no port, or a bare IPv6 address
  }
  host = Lower(host);
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

namespace detail {

std::string Base64Encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (rest == 2) v |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits >= 6) return std::nullopt;  // a dangling sextet
  return out;
}

}  // namespace detail

}  // namespace libcontainerd::images
