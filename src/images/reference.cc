// Image references and platforms (images.h): docker's normalisation of names, OCI platforms of
// this machine, and the progress vocabulary.
#include <sys/utsname.h>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "libcontainerd/errors.h"
#include "libcontainerd/images.h"

namespace libcontainerd::images {

namespace {

constexpr std::string_view kDockerDomain = "docker.io";
constexpr std::string_view kLegacyDockerDomain = "index.docker.io";
constexpr std::string_view kOfficialPrefix = "library/";
constexpr size_t kMaxNameLength = 255;

[[noreturn]] void Invalid(std::string_view text, const std::string& why) {
  std::string message = "invalid reference \"";
  message += text;
  message += "\": ";
  message += why;
  throw Error(ErrorKind::kInvalidArgument, std::move(message), {.op = "ParseReference"});
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsWord(char c) { return IsAlnum(c) || c == '_'; }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// One path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool ValidPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    // A separator run between alphanumerics.
    size_t j = i;
    while (j < c.size() && !IsLowerAlnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

bool ValidPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  for (char c : port)
    if (c < '0' || c > '9') return false;
  return true;
}

// domain-component ('.' domain-component)* [':' port]; domain-component is
// [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?. A bracketed IPv6 address is accepted as host.
bool ValidDomain(std::string_view d) {
  if (d.empty()) return false;
  if (d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : d.substr(1, close - 1))
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
    std::string_view rest = d.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && ValidPort(rest.substr(1)));
  }
  std::string_view host = d;
  if (size_t colon = d.find(':'); colon != std::string_view::npos) {
    if (!ValidPort(d.substr(colon + 1))) return false;
    host = d.substr(0, colon);
  }
  if (host.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    std::string_view comp =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (comp.empty() || !IsAlnum(comp.front()) || !IsAlnum(comp.back())) return false;
    for (char c : comp)
      if (!(IsAlnum(c) || c == '-')) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// [\w][\w.-]{0,127}
bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128 || !IsWord(t.front())) return false;
  for (char c : t)
    if (!(IsWord(c) || c == '.' || c == '-')) return false;
  return true;
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!IsHex(c)) return false;
  return true;
}

bool HasUpper(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Reference ParseReference(std::string_view text) {
  if (text.empty()) Invalid(text, "the reference is empty");
  for (char c : text)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      Invalid(text, "the reference contains white space or control characters");

  Reference ref;
  std::string_view rest = text;

  // Digest: after '@'.
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    size_t colon = digest.find(':');
    if (colon == std::string_view::npos || colon == 0)
      Invalid(text, "the digest \"" + std::string(digest) +
                        "\" is invalid: want sha256:<64 lower-case hex digits>");
    std::string_view algorithm = digest.substr(0, colon);
    std::string_view hex = digest.substr(colon + 1);
    if (algorithm != "sha256")
      Invalid(text, "the digest \"" + std::string(digest) + "\" uses algorithm \"" +
                        std::string(algorithm) + "\": only sha256 is supported");
    if (!IsHex64(hex))
      Invalid(text, "the digest \"" + std::string(digest) +
                        "\" is invalid: want sha256:<64 lower-case hex digits>");
    ref.digest = std::string(digest);
  }

  // Tag: after the last ':' that follows the last '/'.
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!ValidTag(tag))
      Invalid(text, "the tag \"" + std::string(tag) +
                        "\" is invalid: a tag is 1 to 128 letters, digits, '_', '.' or '-' and "
                        "does not start with '.' or '-'");
    ref.tag = std::string(tag);
  }

  if (rest.empty()) Invalid(text, "the repository name is empty");
  if (rest.size() > kMaxNameLength)
    Invalid(text, "the repository name is longer than 255 characters");

  // Domain: the first component when it looks like a host (docker's splitDockerDomain).
  std::string_view path = rest;
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    bool looks_like_host = first.find('.') != std::string_view::npos ||
                           first.find(':') != std::string_view::npos || first == "localhost" ||
                           HasUpper(first);
    if (looks_like_host) {
      if (!ValidDomain(first))
        Invalid(text, "the registry domain \"" + std::string(first) + "\" is invalid");
      ref.domain = std::string(first);
      path = rest.substr(slash + 1);
    }
  }
  if (ref.domain.empty()) {
    ref.domain = std::string(kDockerDomain);
    if (IsHex64(path) && ref.tag.empty() && ref.digest.empty())
      Invalid(text,
              "a 64-digit hexadecimal string is an image id, not a repository name: use "
              "<name>@sha256:<digest> to name an image by digest");
  }
  if (ref.domain == kLegacyDockerDomain) ref.domain = std::string(kDockerDomain);

  if (path.empty()) Invalid(text, "the repository path is empty");
  if (HasUpper(path))
    Invalid(text, "the repository name \"" + std::string(path) + "\" must be lower case (\"" +
                      Lower(path) + "\")");
  size_t start = 0;
  while (true) {
    size_t s = path.find('/', start);
    std::string_view comp =
        path.substr(start, s == std::string_view::npos ? std::string_view::npos : s - start);
    if (!ValidPathComponent(comp))
      Invalid(text, "the repository path component \"" + std::string(comp) +
                        "\" is invalid: use lower-case letters and digits separated by '.', "
                        "'_', '__' or '-'");
    if (s == std::string_view::npos) break;
    start = s + 1;
  }
  ref.path = std::string(path);
  if (ref.domain == kDockerDomain && ref.path.find('/') == std::string::npos)
    ref.path = std::string(kOfficialPrefix) + ref.path;
  if (ref.domain.size() + 1 + ref.path.size() > kMaxNameLength)
    Invalid(text, "the repository name is longer than 255 characters");

  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string Reference::Name() const { return domain + "/" + path; }

std::string Reference::String() const {
  std::string s = Name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::Familiar() const {
  std::string s;
  if (domain == kDockerDomain) {
    std::string_view p = path;
    if (p.starts_with(kOfficialPrefix) &&
        p.substr(kOfficialPrefix.size()).find('/') == std::string_view::npos)
      p.remove_prefix(kOfficialPrefix.size());
    s = std::string(p);
  } else {
    s = Name();
  }
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

// --- platforms ----------------------------------------------------------------------------------

std::string Platform::String() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

namespace {

// Normalises an architecture and its variant to Go's names (containerd's rules, except that
// arm64's variant is kept as given: PlatformMatches treats "" and "v8" alike).
void NormaliseArch(std::string& arch, std::string& variant) {
  if (!variant.empty() && variant.front() != 'v' &&
      variant.find_first_not_of("0123456789.") == std::string::npos)
    variant = "v" + variant;
  if (arch == "x86_64" || arch == "x86-64" || arch == "amd64") {
    arch = "amd64";
    if (variant == "v1") variant.clear();
  } else if (arch == "i386" || arch == "i486" || arch == "i586" || arch == "i686" ||
             arch == "x86" || arch == "386") {
    arch = "386";
  } else if (arch == "aarch64" || arch == "arm64") {
    arch = "arm64";
    if (variant == "v8.0") variant = "v8";
  } else if (arch == "armhf") {
    arch = "arm";
    variant = "v7";
  } else if (arch == "armel") {
    arch = "arm";
    variant = "v6";
  } else if (arch.starts_with("armv") && arch.size() >= 5 && std::isdigit(arch[4])) {
    // uname's "armv7l", "armv6l", "armv5tel".
    variant = std::string("v") + arch[4];
    arch = "arm";
  } else if (arch == "arm") {
    if (variant.empty()) variant = "v7";
  } else if (arch == "ppc64el") {
    arch = "ppc64le";
  }
}

std::string NormaliseOs(std::string os) {
  if (os == "macos") return "darwin";
  return os;
}

bool ValidPlatformPart(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(IsAlnum(c) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

bool KnownOs(std::string_view s) {
  for (std::string_view os :
       {"linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos", "aix",
        "plan9", "android", "ios", "js", "wasip1", "dragonfly"})
    if (s == os) return true;
  return false;
}

}  // namespace

Platform DefaultPlatform() {
  Platform p{.os = "linux", .architecture = "", .variant = ""};
  struct utsname u {};
  std::string machine = "x86_64";
  if (uname(&u) == 0) machine = u.machine;
  if (machine == "aarch64" || machine == "arm64") {
    p.architecture = "arm64";
    p.variant = "v8";
    return p;
  }
  if (machine == "ppc64le" || machine == "s390x" || machine == "riscv64" || machine == "mips64" ||
      machine == "loongarch64") {
    p.architecture = machine;
    return p;
  }
  std::string arch = machine;
  std::string variant;
  NormaliseArch(arch, variant);
  p.architecture = arch;
  p.variant = variant;
  return p;
}

Platform ParsePlatform(std::string_view text) {
  auto invalid = [&](const std::string& why) -> Error {
    return Error(ErrorKind::kInvalidArgument,
                 "invalid platform \"" + std::string(text) + "\": " + why +
                     " (want os/arch[/variant], e.g. linux/arm64/v8)",
                 {.op = "ParsePlatform"});
  };
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = text.find('/', start);
    parts.emplace_back(Lower(text.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start)));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() > 3) throw invalid("too many components");
  for (const auto& part : parts)
    if (!ValidPlatformPart(part))
      throw invalid(part.empty() ? "a component is empty"
                                 : "the component \"" + part + "\" has invalid characters");
  Platform p;
  if (parts.size() == 1) {
    if (KnownOs(parts[0])) {
      Platform def = DefaultPlatform();
      p.os = parts[0];
      p.architecture = def.architecture;
      p.variant = def.variant;
      return p;
    }
    p.os = "linux";
    p.architecture = parts[0];
  } else {
    p.os = NormaliseOs(parts[0]);
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
    if (!KnownOs(p.os)) throw invalid("unknown operating system \"" + p.os + "\"");
  }
  if (KnownOs(p.architecture))
    throw invalid("\"" + p.architecture + "\" is an operating system, not an architecture");
  NormaliseArch(p.architecture, p.variant);
  return p;
}

std::string_view ToString(ProgressState state) noexcept {
  switch (state) {
    case ProgressState::kResolving:
      return "Resolving";
    case ProgressState::kWaiting:
      return "Waiting";
    case ProgressState::kDownloading:
      return "Downloading";
    case ProgressState::kVerifying:
      return "Verifying Checksum";
    case ProgressState::kExtracting:
      return "Extracting";
    case ProgressState::kDone:
      return "Done";
    case ProgressState::kAlreadyExists:
      return "Already exists";
  }
  return "Unknown";
}

}  // namespace libcontainerd::images
