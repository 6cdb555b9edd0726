// lcctl image pull|import|export|ls|inspect|rm|tag|prune: the image store of the namespace
// (ImageService, images.h), with docker-style pull progress.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/images.h"

namespace lcctl {

namespace lcd = libcontainerd;
namespace img = libcontainerd::images;

namespace {

void Write(FILE* f, const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), f);
  std::fflush(f);
}

// The 12 hex digits docker shows for a digest ("sha256:0123..." -> "0123456789ab").
std::string ShortDigest(const std::string& digest) {
  auto colon = digest.find(':');
  std::string hex = colon == std::string::npos ? digest : digest.substr(colon + 1);
  return hex.substr(0, 12);
}

// Seconds since the epoch of an RFC 3339 time; nullopt when it is not one.
std::optional<std::time_t> ParseRfc3339(const std::string& t) {
  std::tm tm{};
  const char* p = strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return std::nullopt;
  if (*p == '.')
    for (++p; *p >= '0' && *p <= '9'; ++p) {
    }
  long offset = 0;
  if (*p == '+' || *p == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    offset = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
  } else if (*p != 'Z' && *p != 'z') {
    return std::nullopt;
  }
  return timegm(&tm) - offset;
}

// docker's "2 hours ago".
std::string Ago(const std::string& rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  if (!t) return rfc3339;
  long d = static_cast<long>(std::time(nullptr) - *t);
  if (d < 0) d = 0;
  auto n = [](long v, const char* unit) {
    return std::to_string(v) + " " + unit + (v == 1 ? "" : "s") + " ago";
  };
  if (d < 1) return "Less than a second ago";
  if (d < 60) return n(d, "second");
  if (d < 120) return "About a minute ago";
  if (d < 3600) return n(d / 60, "minute");
  if (d < 7200) return "About an hour ago";
  if (d < 2 * 86400) return n(d / 3600, "hour");
  if (d < 14 * 86400) return n(d / 86400, "day");
  if (d < 60 * 86400) return n(d / (7 * 86400), "week");
  if (d < 365 * 86400) return n(d / (30 * 86400), "month");
  return n(d / (365 * 86400), "year");
}

std::vector<std::string> PlatformStrings(const std::vector<img::Platform>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.String());
  return out;
}

nlohmann::json ImageJson(const img::Image& i, bool full) {
  nlohmann::json j = {{"name", i.name},
                      {"digest", i.digest},
                      {"media_type", i.media_type},
                      {"size", i.size},
                      {"platforms", PlatformStrings(i.platforms)},
                      {"labels", i.labels},
                      {"created_at", i.created_at}};
  if (!full) return j;
  const auto& c = i.config;
  j["created"] = i.created;
  j["config_digest"] = i.config_digest;
  j["platform"] = i.platform.String();
  j["config"] = {
      {"entrypoint", c.entrypoint},       {"cmd", c.cmd},         {"env", c.env},
      {"working_dir", c.working_dir},     {"user", c.user},       {"labels", c.labels},
      {"exposed_ports", c.exposed_ports}, {"volumes", c.volumes}, {"stop_signal", c.stop_signal}};
  j["diff_ids"] = i.diff_ids;
  nlohmann::json h = nlohmann::json::array();
  for (const auto& e : i.history)
    h.push_back({{"created", e.created},
                 {"created_by", e.created_by},
                 {"comment", e.comment},
                 {"empty_layer", e.empty_layer}});
  j["history"] = h;
  j["unpacked"] = i.unpacked;
  return j;
}

// --- pull progress ---

// Renders per-layer progress: on a terminal one line per layer, rewritten in place (cursor up,
// clear, write, cursor down); otherwise one plain line per state change. Called from the pull's
// threads: one mutex orders the writes.
class PullProgress {
 public:
  explicit PullProgress(bool tty) : tty_(tty) {}

  void Update(const img::Progress& p) {
    if (p.kind != "layer") return;
    std::lock_guard l(mu_);
    auto it = lines_.find(p.id);
    if (it == lines_.end()) {
      it = lines_.emplace(p.id, Line{order_.size(), ""}).first;
      order_.push_back(p.id);
    }
    if (p.state == img::ProgressState::kExtracting) it->second.extracting = true;
    Show(p.id, it->second, Text(p, it->second.extracting));
  }

  // After the pull: a layer whose last line is not final ("Download complete" of a layer whose
  // snapshot was already there) becomes "Pull complete".
  void Finish() {
    std::lock_guard l(mu_);
    for (const auto& id : order_) {
      Line& line = lines_[id];
      if (line.text != kAlreadyExists) Show(id, line, kPullComplete);
    }
  }

 private:
  static constexpr const char* kPullComplete = "Pull complete";
  static constexpr const char* kAlreadyExists = "Already exists";

  struct Line {
    std::size_t index = 0;
    std::string text;
    bool extracting = false;  // extraction started: done means pulled
  };

  void Show(const std::string& id, Line& line, const std::string& text) {
    if (line.text == text) return;
    const bool first = line.text.empty();
    line.text = text;
    if (!tty_ || first) {
      // A new layer gets the next line (the cursor is always below the last one).
      Write(stdout, id + ": " + text + "\n");
      return;
    }
    std::string n = std::to_string(order_.size() - line.index);
    Write(stdout, "\033[" + n + "A\r\033[2K" + id + ": " + text + "\033[" + n + "B\r");
  }

  std::string Text(const img::Progress& p, bool extracting) const {
    using S = img::ProgressState;
    switch (p.state) {
      case S::kResolving:
        return "Pulling fs layer";
      case S::kWaiting:
        return "Waiting";
      case S::kDownloading:
        if (!tty_) return p.total > 0 ? "Downloading " + HumanSize(p.total) : "Downloading";
        return "Downloading " + HumanSize(p.current) +
               (p.total > 0 ? "/" + HumanSize(p.total) : std::string());
      case S::kVerifying:
        return "Verifying Checksum";
      case S::kExtracting:
        return "Extracting";
      case S::kDone:
        return extracting ? kPullComplete : "Download complete";
      case S::kAlreadyExists:
        return kAlreadyExists;
    }
    return std::string(img::ToString(p.state));
  }

  const bool tty_;
  std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Line> lines_;
};

// A password from stdin: prompted without echo on a terminal, else its first line.
std::string ReadPassword(const std::string& user) {
  std::string pw;
  const bool tty = isatty(STDIN_FILENO);
  termios saved{};
  bool restore = false;
  if (tty) {
    Write(stderr, "Password for " + user + ": ");
    if (tcgetattr(STDIN_FILENO, &saved) == 0) {
      termios t = saved;
      t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      restore = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
    }
  }
  std::getline(std::cin, pw);
  if (restore) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (tty) Write(stderr, "\n");
  while (!pw.empty() && (pw.back() == '\r' || pw.back() == '\n')) pw.pop_back();
  if (pw.empty())
    throw UsageError("no password for -u " + user +
                     ": give it as -u USER:PASS or on stdin (echo PASS | lcctl image pull -u " +
                     user + " REF)");
  return pw;
}

int Pull(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "image reference (REF)");
  const std::string ref = a.positionals[0];
  const bool quiet = a.Has("quiet");
  const bool json = s.globals().json;
  img::Reference parsed = ParseImageRef(ref);
  img::PullOptions o;
  if (a.Has("platform")) {
    try {
      o.platform = img::ParsePlatform(a.Get("platform"));
    } catch (const lcd::Error& e) {
      throw UsageError("invalid value \"" + a.Get("platform") +
                       "\" for --platform: expected OS/ARCH[/VARIANT] (e.g. linux/arm64)");
    }
  }
  o.plain_http = a.Has("plain-http");
  if (a.Has("user")) {
    std::string u = a.Get("user");
    auto colon = u.find(':');
    img::Credentials c;
    c.username = u.substr(0, colon);
    if (c.username.empty())
      throw UsageError("invalid value \"" + u + "\" for -u: expected USER[:PASS]");
    c.password = colon == std::string::npos ? ReadPassword(c.username) : u.substr(colon + 1);
    o.credentials = c;
  }
  auto images = s.client().Images();
  std::optional<std::string> before;
  try {
    before = images->Inspect(s.Ctx(), parsed.String()).digest;
  } catch (const lcd::Error&) {
    // Not there yet (or not readable): the pull says what is wrong, if anything.
  }
  PullProgress progress(isatty(STDOUT_FILENO));
  if (!quiet && !json) {
    Write(stdout, (parsed.tag.empty() ? parsed.digest : parsed.tag) + ": Pulling from " +
                      parsed.path + "\n");
    o.progress = [&progress](const img::Progress& p) { progress.Update(p); };
  }
  img::Image image = images->Pull(s.Ctx(), parsed.String(), o);
  if (o.progress) progress.Finish();
  if (json) {
    PrintJson(ImageJson(image, true));
    return 0;
  }
  Write(stdout, "Digest: " + image.digest + "\n");
  if (quiet) return 0;
  bool fresh = !before || *before != image.digest;
  Write(stdout, std::string("Status: ") +
                    (fresh ? "Downloaded newer image for " : "Image is up to date for ") +
                    parsed.Familiar() + "\n");
  return 0;
}

int Import(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "archive FILE or - for stdin");
  const std::string file = a.positionals[0];
  img::ImportOptions o;
  if (a.Has("no-unpack")) o.snapshotter.clear();
  if (a.Has("snapshotter")) o.snapshotter = a.Get("snapshotter");
  auto images = s.client().Images();
  std::vector<img::Image> got;
  if (file == "-") {
    if (isatty(STDIN_FILENO))
      throw UsageError("stdin is a terminal: pipe an archive into 'lcctl image import -'");
    got = images->Import(s.Ctx(), std::cin, o);
  } else {
    if (access(file.c_str(), R_OK) != 0)
      throw ExitError(kExitFailure,
                      "cannot read archive \"" + file + "\": " + std::strerror(errno));
    got = images->Import(s.Ctx(), file, o);
  }
  if (s.globals().json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& i : got) arr.push_back(ImageJson(i, false));
    PrintJson(arr);
    return 0;
  }
  for (const auto& i : got) Write(stdout, i.name + "\n");
  return 0;
}

int Export(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, SIZE_MAX, "image reference (REF...)");
  if (!a.Has("output"))
    throw UsageError("missing -o FILE (where to write the archive; - for stdout)");
  const std::string out = a.Get("output");
  auto images = s.client().Images();
  std::vector<std::string> refs;
  for (const auto& r : a.positionals) refs.push_back(ParseImageRef(r).String());
  if (out == "-") {
    if (isatty(STDOUT_FILENO))
      throw UsageError("stdout is a terminal: redirect it, or give -o FILE");
    WithImageHint(s, a.positionals.size() == 1 ? a.positionals[0] : "",
                  [&] { images->Export(s.Ctx(), refs, std::cout); });
    std::cout.flush();
    if (!std::cout) throw ExitError(kExitFailure, "writing the archive to stdout failed");
    return 0;
  }
  WithImageHint(s, a.positionals.size() == 1 ? a.positionals[0] : "",
                [&] { images->Export(s.Ctx(), refs, out); });
  return 0;
}

int Ls(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 0, 0, "no arguments");
  auto list = s.client().Images()->List(s.Ctx());
  std::sort(list.begin(), list.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
  if (a.Has("quiet")) {
    for (const auto& i : list) Write(stdout, i.name + "\n");
    return 0;
  }
  if (s.globals().json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& i : list) arr.push_back(ImageJson(i, false));
    PrintJson(arr);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "DIGEST", "SIZE", "PLATFORMS", "CREATED"}};
  for (const auto& i : list) {
    std::string platforms;
    for (const auto& p : i.platforms) platforms += (platforms.empty() ? "" : ",") + p.String();
    rows.push_back(
        {i.name, ShortDigest(i.digest), HumanSize(i.size), platforms, Ago(i.created_at)});
  }
  PrintTable(rows);
  return 0;
}

int Inspect(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "image reference (REF)");
  PrintJson(ImageJson(InspectImage(s, a.positionals[0]), true));
  return 0;
}

int Rm(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, SIZE_MAX, "image reference (REF...)");
  auto images = s.client().Images();
  img::RemoveOptions o;
  o.force = a.Has("force");
  o.sync = a.Has("sync");
  int rc = 0;
  for (const auto& r : a.positionals) {
    try {
      std::string name = ParseImageRef(r).String();
      WithImageHint(s, r, [&] { images->Remove(s.Ctx(), name, o); });
      Write(stdout, name + "\n");
    } catch (const std::exception& e) {  // one line per failed REF; the others still go
      Write(stderr, "lcctl: " + OneLine(e.what()) + "\n");
      rc = kExitFailure;
    }
  }
  return rc;
}

int Tag(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 2, 2, "SOURCE and TARGET references");
  std::string src = ParseImageRef(a.positionals[0]).String();
  std::string dst = ParseImageRef(a.positionals[1]).String();
  auto images = s.client().Images();
  img::Image i;
  WithImageHint(s, a.positionals[0], [&] { i = images->Tag(s.Ctx(), src, dst); });
  if (s.globals().json)
    PrintJson(ImageJson(i, false));
  else
    Write(stdout, i.name + "\n");
  return 0;
}

int Prune(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 0, 0, "no arguments");
  auto gone = s.client().Images()->Prune(s.Ctx());
  if (s.globals().json) {
    PrintJson(gone);
    return 0;
  }
  for (const auto& n : gone) Write(stdout, n + "\n");
  return 0;
}

}  // namespace

img::Reference ParseImageRef(const std::string& ref) {
  try {
    return img::ParseReference(ref);
  } catch (const lcd::Error& e) {
    throw UsageError("invalid image reference \"" + ref + "\": " + OneLine(e.message()));
  }
}

std::string ImageNotFound(Session& s, const std::string& ref) {
  return "image " + ref + " not found in namespace " + s.globals().ns +
         ": pull it with 'lcctl image pull " + ref +
         "' (or import it with 'lcctl image import FILE')";
}

void WithImageHint(Session& s, const std::string& ref, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const lcd::Error& e) {
    if (!lcd::IsNotFound(e) || ref.empty()) throw;
    // Only when the image itself is missing: other missing things keep the library's message.
    try {
      s.client().Images()->Inspect(s.Ctx(), ParseImageRef(ref).String());
    } catch (const lcd::Error& e2) {
      if (lcd::IsNotFound(e2)) throw ExitError(kExitFailure, ImageNotFound(s, ref));
    }
    throw;
  }
}

img::Image InspectImage(Session& s, const std::string& ref) {
  std::string name = ParseImageRef(ref).String();
  try {
    return s.client().Images()->Inspect(s.Ctx(), name);
  } catch (const lcd::Error& e) {
    if (lcd::IsNotFound(e)) throw ExitError(kExitFailure, ImageNotFound(s, ref));
    throw;
  }
}

std::vector<Command> ImageCommands() {
  return {
      {"image pull",
       "image pull [--platform P] [--plain-http] [-u USER[:PASS]] [-q] REF",
       "pull an image from a registry, unpack it, and record it under REF",
       "  lcctl image pull busybox\n"
       "  lcctl image pull --platform linux/arm64 docker.io/library/alpine:3.19\n"
       "  lcctl image pull --plain-http -u tester 127.0.0.1:5000/app:1 <password.txt",
       {{"platform", 0, true, "OS/ARCH",
         "platform to pull from a multi-platform image (default: this machine's)"},
        {"plain-http", 0, false, "", "HTTP instead of HTTPS (always for 127.0.0.1 and localhost)"},
        {"user", 'u', true, "USER[:PASS]",
         "registry credentials; without :PASS the password is read from stdin"},
        {"quiet", 'q', false, "", "no progress: print only the digest line"}},
       SIZE_MAX,
       Pull},
      {"image import",
       "image import [--no-unpack] FILE|-",
       "import a docker-archive (docker save) or OCI layout archive; prints the names recorded",
       "  lcctl image import busybox.tar\n  skopeo copy oci:dir:latest docker-archive:/dev/stdout "
       "| lcctl image import -",
       {{"no-unpack", 0, false, "", "record the images without unpacking them"},
        {"snapshotter", 0, true, "NAME", "snapshotter to unpack into (default overlayfs)"}},
       SIZE_MAX,
       Import},
      {"image export",
       "image export -o FILE REF...",
       "write images as one archive that docker load and OCI layout readers accept",
       "  lcctl image export -o busybox.tar busybox\n  lcctl image export -o - app:1 app:2 | gzip "
       ">apps.tar.gz",
       {{"output", 'o', true, "FILE", "the archive to write (- for stdout)"}},
       SIZE_MAX,
       Export},
      {"image ls",
       "image ls [-q]",
       "list images: NAME DIGEST SIZE PLATFORMS CREATED",
       "  lcctl image ls\n  lcctl images ls -q\n  lcctl image ls --json",
       {{"quiet", 'q', false, "", "print only the names"}},
       SIZE_MAX,
       Ls},
      {"image inspect",
       "image inspect REF",
       "print an image as JSON: digest, size, platforms, config, diff ids, history",
       "  lcctl image inspect busybox | jq .config.cmd",
       {},
       SIZE_MAX,
       Inspect},
      {"image rm",
       "image rm [-f] [--sync] REF...",
       "remove images; one a container uses is refused unless -f",
       "  lcctl image rm busybox\n  lcctl image rm -f 127.0.0.1:5000/app:1",
       {{"force", 'f', false, "", "remove even when a container uses it"},
        {"sync", 0, false, "", "wait for containerd's garbage collection"}},
       SIZE_MAX,
       Rm},
      {"image tag",
       "image tag SOURCE TARGET",
       "record SOURCE's image under a second name TARGET",
       "  lcctl image tag busybox localhost/mybox:1",
       {},
       SIZE_MAX,
       Tag},
      {"image prune",
       "image prune",
       "remove dangling images (no tag, no container using them)",
       "  lcctl image prune",
       {},
       SIZE_MAX,
       Prune},
  };
}

}  // namespace lcctl
