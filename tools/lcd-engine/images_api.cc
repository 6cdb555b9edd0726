// lcd-engine: the images area of the Docker Engine API (docker pull, images, image inspect,
// history, tag, rmi, save, load, image prune) over libcontainerd's ImageService.
//
// docker's image model is one image per ID (the config digest) with any number of names; the
// library's is one record per name. The handlers group records by ID where docker shows images
// (list, delete by ID, prune) and work on records where docker works on names (tag, untag).
#include <fnmatch.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <exception>
#include <istream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "engine.h"
#include "libcontainerd/errors.h"

namespace lcde {
namespace {

namespace img = libcontainerd::images;
using libcontainerd::Context;
using libcontainerd::Error;
using libcontainerd::ErrorKind;
using json = nlohmann::json;

constexpr const char* kSha256 = "sha256:";

// --- names -------------------------------------------------------------------------------------

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The 12-hex short form docker prints of an ID or digest.
std::string ShortId(std::string_view id) {
  if (id.starts_with(kSha256)) id.remove_prefix(7);
  return std::string(id.substr(0, 12));
}

// A record name that is a normalised reference (as pulls, tags and named loads record them);
// unnamed imports ("import-<date>@sha256:...") are not.
std::optional<img::Reference> RecordRef(const std::string& name) {
  try {
    img::Reference r = img::ParseReference(name);
    if (r.String() == name) return r;
  } catch (const Error&) {
  }
  return std::nullopt;
}

bool IsTagged(const std::string& record_name) {
  auto r = RecordRef(record_name);
  return r && !r->tag.empty();
}

// "busybox:latest" for a tagged record, nullopt otherwise.
std::optional<std::string> FamiliarTag(const std::string& record_name) {
  auto r = RecordRef(record_name);
  if (!r || r->tag.empty()) return std::nullopt;
  r->digest.clear();
  return r->Familiar();
}

// "busybox" (the repository, familiar) of a record name.
std::string FamiliarName(const img::Reference& r) {
  img::Reference n = r;
  n.tag.clear();
  n.digest.clear();
  return n.Familiar();
}

// "busybox@sha256:..." for a named record whose target is digest.
std::optional<std::string> FamiliarDigest(const std::string& record_name,
                                          const std::string& digest) {
  auto r = RecordRef(record_name);
  if (!r) return std::nullopt;
  r->tag.clear();
  if (r->digest.empty()) r->digest = digest;
  return r->Familiar();
}

// Seconds since the epoch of an RFC 3339 time ("2024-01-02T03:04:05.123Z", "...+01:00");
// 0 when it is not one.
int64_t UnixSeconds(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t t = static_cast<int64_t>(timegm(&tm));
  size_t i = static_cast<size_t>(consumed);
  if (i < text.size() && text[i] == '.')
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9';) ++i;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int hh = 0, mm = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d", &hh, &mm) == 2) {
      int64_t off = hh * 3600 + mm * 60;
      t += text[i] == '+' ? -off : off;
    }
  }
  return t;
}

void PublishImageEvent(Engine& engine, const std::string& action, const std::string& id,
                       const std::string& name) {
  Event e;
  e.type = "image";
  e.action = action;
  e.id = id;
  e.attributes["name"] = name;
  engine.events().Publish(std::move(e));
}

[[noreturn]] void NotImplemented(const std::string& feature, const std::string& cmd,
                                 const std::string& instead) {
  throw HttpError(501,
                  "lcd-engine does not implement " + feature + " (docker " + cmd + "): " + instead);
}

// --- images grouped by ID ----------------------------------------------------------------------

struct ImageGroup {
  std::string id;                   // "sha256:<config hex>"
  img::Image full;                  // Inspect of one record (a tagged one when there is one)
  std::vector<img::Image> records;  // every record with this ID (from List)
  int64_t created = 0;              // unix seconds

  std::vector<std::string> RepoTags() const {
    std::vector<std::string> tags;
    for (const auto& r : records)
      if (auto t = FamiliarTag(r.name)) tags.push_back(*t);
    std::sort(tags.begin(), tags.end());
    return tags;
  }
  std::vector<std::string> RepoDigests() const {
    std::set<std::string> digests;
    for (const auto& r : records)
      if (auto d = FamiliarDigest(r.name, r.digest)) digests.insert(*d);
    return {digests.begin(), digests.end()};
  }
  bool Dangling() const {
    return std::none_of(records.begin(), records.end(),
                        [](const img::Image& r) { return IsTagged(r.name); });
  }
};

// Every image of the namespace grouped by ID. Records are inspected once per target digest; a
// record that cannot be inspected (content missing, another platform only) is shown with its
// target digest as ID, as the list knows it.
std::vector<ImageGroup> LoadGroups(Engine& engine, const Context& ctx) {
  std::vector<img::Image> list = engine.images().List(ctx);
  // Tagged records first, so a group's full image is a tagged one when there is one.
  std::stable_sort(list.begin(), list.end(), [](const img::Image& a, const img::Image& b) {
    bool ta = IsTagged(a.name), tb = IsTagged(b.name);
    if (ta != tb) return ta;
    return a.name < b.name;
  });
  std::map<std::string, std::string> id_of_target;  // target digest -> ID
  std::map<std::string, size_t> index_of_id;
  std::vector<ImageGroup> groups;
  for (auto& rec : list) {
    std::string id;
    std::optional<img::Image> full;
    auto known = id_of_target.find(rec.digest);
    if (known != id_of_target.end()) {
      id = known->second;
    } else {
      try {
        full = engine.images().Inspect(ctx, rec.name);
        id = Engine::ImageId(*full);
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kUnavailable || e.kind() == ErrorKind::kDeadlineExceeded ||
            e.kind() == ErrorKind::kCancelled)
          throw;
        full = rec;
        id = rec.digest;
      }
      if (id.empty()) id = rec.digest;
      id_of_target[rec.digest] = id;
    }
    auto at = index_of_id.find(id);
    if (at == index_of_id.end()) {
      ImageGroup g;
      g.id = id;
      g.full = full ? *full : rec;
      g.created = UnixSeconds(g.full.created);
      index_of_id[id] = groups.size();
      groups.push_back(std::move(g));
      at = index_of_id.find(id);
    }
    groups[at->second].records.push_back(std::move(rec));
  }
  return groups;
}

const ImageGroup* FindGroup(const std::vector<ImageGroup>& groups, const std::string& id) {
  for (const auto& g : groups)
    if (g.id == id) return &g;
  return nullptr;
}

// --- JSON shapes -------------------------------------------------------------------------------

json StringsOrNull(const std::vector<std::string>& v) {
  return v.empty() ? json(nullptr) : json(v);
}

json LabelsOrNull(const std::map<std::string, std::string>& m) {
  return m.empty() ? json(nullptr) : json(m);
}

json SetObject(const std::vector<std::string>& keys) {
  if (keys.empty()) return nullptr;
  json o = json::object();
  for (const auto& k : keys) o[k] = json::object();
  return o;
}

// docker's container.Config of an image.
json ConfigJson(const img::ImageConfig* c) {
  json j;
  j["Hostname"] = "";
  j["Domainname"] = "";
  j["User"] = c ? c->user : "";
  j["AttachStdin"] = false;
  j["AttachStdout"] = false;
  j["AttachStderr"] = false;
  if (c && !c->exposed_ports.empty()) j["ExposedPorts"] = SetObject(c->exposed_ports);
  j["Tty"] = false;
  j["OpenStdin"] = false;
  j["StdinOnce"] = false;
  j["Env"] = c ? StringsOrNull(c->env) : json(nullptr);
  j["Cmd"] = c ? StringsOrNull(c->cmd) : json(nullptr);
  j["Image"] = "";
  j["Volumes"] = c ? SetObject(c->volumes) : json(nullptr);
  j["WorkingDir"] = c ? c->working_dir : "";
  j["Entrypoint"] = c ? StringsOrNull(c->entrypoint) : json(nullptr);
  j["OnBuild"] = nullptr;
  j["Labels"] = c ? LabelsOrNull(c->labels) : json(nullptr);
  if (c && !c->stop_signal.empty()) j["StopSignal"] = c->stop_signal;
  if (c && c->healthcheck)
    j["Healthcheck"] = {{"Test", c->healthcheck->test},
                        {"Interval", c->healthcheck->interval},
                        {"Timeout", c->healthcheck->timeout},
                        {"StartPeriod", c->healthcheck->start_period},
                        {"Retries", c->healthcheck->retries}};
  return j;
}

// With a reference filter, only_tags and only_digests are the names that matched it.
json SummaryJson(const ImageGroup& g, bool old_api, const std::vector<std::string>* only_tags,
                 const std::vector<std::string>* only_digests) {
  json j;
  std::vector<std::string> tags = only_tags ? *only_tags : g.RepoTags();
  std::vector<std::string> digests = only_digests ? *only_digests : g.RepoDigests();
  if (old_api && tags.empty() && digests.empty()) {
    tags.push_back("<none>:<none>");
    digests.push_back("<none>@<none>");
  }
  j["Id"] = g.id;
  j["ParentId"] = "";
  j["RepoTags"] = tags;
  j["RepoDigests"] = digests;
  j["Created"] = g.created;
  j["Size"] = g.full.size;
  j["SharedSize"] = -1;
  j["VirtualSize"] = g.full.size;
  j["Labels"] = LabelsOrNull(g.full.config.labels);
  j["Containers"] = -1;
  return j;
}

json InspectJson(const ImageGroup& g) {
  const img::Image& im = g.full;
  json j;
  j["Id"] = g.id;
  j["RepoTags"] = g.RepoTags();
  j["RepoDigests"] = g.RepoDigests();
  j["Parent"] = "";
  j["Comment"] = "";
  j["Created"] = im.created.empty() ? "0001-01-01T00:00:00Z" : im.created;
  j["Container"] = "";
  j["ContainerConfig"] = ConfigJson(nullptr);
  j["DockerVersion"] = "";
  j["Author"] = "";
  j["Config"] = ConfigJson(&im.config);
  j["Architecture"] = im.platform.architecture;
  if (!im.platform.variant.empty()) j["Variant"] = im.platform.variant;
  j["Os"] = im.platform.os;
  j["Size"] = im.size;
  j["VirtualSize"] = im.size;
  j["GraphDriver"] = {{"Name", "overlayfs"}, {"Data", nullptr}};
  j["RootFS"] = {{"Type", "layers"}, {"Layers", im.diff_ids}};
  std::string last_tag;
  for (const auto& r : g.records)
    if (IsTagged(r.name) && r.created_at > last_tag) last_tag = r.created_at;
  j["Metadata"] = {{"LastTagTime", last_tag.empty() ? "0001-01-01T00:00:00Z" : last_tag}};
  return j;
}

// The group of the image a name or ID resolves to.
ImageGroup ResolveGroup(Engine& engine, const std::string& name, const Context& ctx) {
  img::Image im = engine.ResolveImage(name);
  const std::string id = Engine::ImageId(im);
  auto groups = LoadGroups(engine, ctx);
  if (const ImageGroup* g = FindGroup(groups, id.empty() ? im.digest : id)) return *g;
  throw HttpError(404, "No such image: " + name);
}

// --- pull --------------------------------------------------------------------------------------

// docker's HumanSize: decimal units, four significant digits.
std::string HumanSize(double bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  size_t u = 0;
  while (bytes >= 1000.0 && u + 1 < std::size(kUnits)) {
    bytes /= 1000.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%s", bytes, kUnits[u]);
  return buf;
}

// The progress text docker sends next to progressDetail: a 50-column bar and the byte counts.
std::string ProgressBar(int64_t current, int64_t total) {
  if (total <= 0) return HumanSize(static_cast<double>(current));
  int filled = static_cast<int>(static_cast<double>(current) / static_cast<double>(total) * 50.0);
  filled = std::clamp(filled, 0, 50);
  std::string bar = "[" + std::string(static_cast<size_t>(filled), '=') + ">" +
                    std::string(static_cast<size_t>(50 - filled), ' ') + "] ";
  std::string cur = HumanSize(static_cast<double>(current));
  if (cur.size() < 8) cur.insert(0, 8 - cur.size(), ' ');
  if (current > total) return bar + cur;
  return bar + cur + "/" + HumanSize(static_cast<double>(total));
}

std::string Line(const json& j) { return j.dump() + "\n"; }

std::string StatusLine(const std::string& status, const std::string& id = "",
                       bool with_detail = false) {
  json j;
  j["status"] = status;
  if (with_detail) j["progressDetail"] = json::object();
  if (!id.empty()) j["id"] = id;
  return Line(j);
}

std::string ErrorLine(const std::string& message) {
  json j;
  j["errorDetail"] = {{"message", message}};
  j["error"] = message;
  return Line(j);
}

// Standard or URL-safe base64, padding optional. nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else if (c == '=' || c == '\n' || c == '\r')
      continue;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// X-Registry-Auth: base64url JSON {username, password, identitytoken, ...}. Credentials only
// when it names some; a malformed header is refused (the client would expect it to be used).
std::optional<img::Credentials> RegistryAuth(const Request& req) {
  const std::string header = req.Header("x-registry-auth");
  if (header.empty()) return std::nullopt;
  auto decoded = Base64Decode(header);
  json j = decoded ? json::parse(*decoded, nullptr, false) : json();
  if (!decoded || j.is_discarded() || !j.is_object())
    throw HttpError(400,
                    "the X-Registry-Auth header is not base64url-encoded JSON: log in again "
                    "(docker login) or drop the header");
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  img::Credentials c{str("username"), str("password")};
  if (std::string token = str("identitytoken"); !token.empty()) {
    if (c.username.empty()) c.username = "<token>";
    c.password = token;
  }
  if (c.username.empty() && c.password.empty()) return std::nullopt;
  return c;
}

// What a pull reports, in docker's words, collected from the library's threads.
struct PullStream {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> lines;
  bool resolved = false;
  bool done = false;
  std::exception_ptr error;
  img::Image result;
  struct Layer {
    bool extracting = false;
    std::string last;
  };
  std::map<std::string, Layer> layers;
  std::string back_download;  // the layer whose Downloading line is last in lines, if any

  void OnProgress(const img::Progress& p) {
    std::lock_guard l(mu);
    if (p.state != img::ProgressState::kResolving) resolved = true;
    if (p.kind != "layer") {
      cv.notify_all();
      return;
    }
    Layer& layer = layers[p.id];
    std::string status;
    json j;
    switch (p.state) {
      case img::ProgressState::kResolving:
        return;
      case img::ProgressState::kWaiting:
        status = "Pulling fs layer";
        break;
      case img::ProgressState::kDownloading:
        status = "Downloading";
        j["progressDetail"] = {{"current", p.current}, {"total", p.total}};
        j["progress"] = ProgressBar(p.current, p.total);
        break;
      case img::ProgressState::kVerifying:
        status = "Verifying Checksum";
        break;
      case img::ProgressState::kExtracting:
        status = "Extracting";
        layer.extracting = true;
        break;
      case img::ProgressState::kDone:
        status = layer.extracting ? "Pull complete" : "Download complete";
        break;
      case img::ProgressState::kAlreadyExists:
        status = "Already exists";
        break;
    }
    if (status != "Downloading" && status == layer.last) return;
    layer.last = status;
    j["status"] = status;
    if (!j.contains("progressDetail")) j["progressDetail"] = json::object();
    j["id"] = p.id;
    // A download's progress not yet written is replaced by its newer one.
    const bool download = status == "Downloading";
    if (download && !lines.empty() && back_download == p.id)
      lines.back() = Line(j);
    else
      lines.push_back(Line(j));
    back_download = download ? p.id : "";
    cv.notify_all();
  }
  // The lines reported since the last call.
  std::deque<std::string> Take() {
    std::deque<std::string> out;
    out.swap(lines);
    back_download.clear();
    return out;
  }
};

// docker's words for a pull refused before anything was fetched.
[[noreturn]] void ThrowPullError(const Error& e, const img::Reference& ref) {
  if (e.kind() == ErrorKind::kNotFound) {
    img::Reference shown = ref;
    throw HttpError(404, "manifest for " + shown.Familiar() + " not found: " + e.message());
  }
  if (e.kind() == ErrorKind::kFailedPrecondition &&
      e.message().find("was denied") != std::string::npos)
    throw HttpError(
        404, "pull access denied for " + FamiliarName(ref) +
                 ", repository does not exist or may require 'docker login': " + e.message());
  throw e;
}

void HandlePull(Engine& engine, Request& req, Response& res) {
  if (req.Has("fromSrc"))
    NotImplemented("importing a root file system from a URL or stdin", "import",
                   "load an image archive with docker load instead");
  std::string from = req.Query("fromImage");
  if (from.empty())
    throw HttpError(400, "fromImage is missing: name the image to pull (fromImage=busybox)");
  const std::string tag = req.Query("tag");
  std::string text = from;
  if (!tag.empty()) text += (tag.find(':') != std::string::npos ? "@" : ":") + tag;
  img::Reference ref;
  try {
    ref = img::ParseReference(text);
  } catch (const Error& e) {
    throw HttpError(400, "invalid reference format: " + e.message());
  }
  const std::string name = ref.String();

  img::PullOptions options;
  options.insecure_registries = engine.options().insecure_registries;
  options.credentials = RegistryAuth(req);
  if (std::string p = req.Query("platform"); !p.empty()) options.platform = img::ParsePlatform(p);

  std::string previous_digest;
  try {
    previous_digest = engine.images().Inspect(Engine::Ctx(), name).digest;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNotFound && e.kind() != ErrorKind::kInvalidArgument) throw;
  }

  PullStream stream;
  options.progress = [&stream](const img::Progress& p) { stream.OnProgress(p); };
  const Context ctx = Context::Background();
  std::jthread worker([&engine, &stream, &options, name, ctx] {
    try {
      img::Image im = engine.images().Pull(ctx, name, options);
      std::lock_guard l(stream.mu);
      stream.result = std::move(im);
    } catch (...) {
      std::lock_guard l(stream.mu);
      stream.error = std::current_exception();
    }
    std::lock_guard l(stream.mu);
    stream.done = true;
    stream.cv.notify_all();
  });
  // Runs before the thread is joined: an early return or a throw stops the pull.
  struct CancelGuard {
    const Context& ctx;
    PullStream& s;
    ~CancelGuard() {
      bool done;
      {
        std::lock_guard l(s.mu);
        done = s.done;
      }
      if (!done) ctx.Cancel();
    }
  } guard{ctx, stream};

  // Until the reference resolves (or the pull fails), nothing is answered: a refusal then is
  // an HTTP error, as docker's.
  {
    std::unique_lock l(stream.mu);
    while (!stream.resolved && !stream.done) {
      stream.cv.wait_for(l, std::chrono::seconds(1));
      if (!stream.resolved && !stream.done) {
        l.unlock();
        if (res.ClientGone()) return;
        l.lock();
      }
    }
    if (stream.done && stream.error && !stream.resolved) {
      std::exception_ptr err = stream.error;
      l.unlock();
      try {
        std::rethrow_exception(err);
      } catch (const Error& e) {
        ThrowPullError(e, ref);
      }
    }
  }

  res.BeginStream(200, "application/json");
  const std::string first_id = ref.digest.empty() ? ref.tag : ref.digest;
  if (!res.Write(StatusLine("Pulling from " + ref.path, first_id))) return;
  for (;;) {
    std::deque<std::string> batch;
    bool finished;
    {
      std::unique_lock l(stream.mu);
      stream.cv.wait_for(l, std::chrono::seconds(1),
                         [&] { return stream.done || !stream.lines.empty(); });
      batch = stream.Take();
      finished = stream.done;
    }
    std::string chunk;
    for (auto& s : batch) chunk += s;
    if (!chunk.empty() && !res.Write(chunk)) return;
    if (chunk.empty() && res.ClientGone()) return;
    if (finished) break;
  }

  std::unique_lock l(stream.mu);
  if (stream.error) {
    std::string message;
    try {
      std::rethrow_exception(stream.error);
    } catch (const std::exception& e) {
      message = e.what();
    }
    l.unlock();
    res.Write(ErrorLine(message));
    return;
  }
  const img::Image result = stream.result;
  l.unlock();
  std::string out = StatusLine("Digest: " + result.digest);
  const std::string familiar = ref.Familiar();
  out += StatusLine(previous_digest == result.digest
                        ? "Status: Image is up to date for " + familiar
                        : "Status: Downloaded newer image for " + familiar);
  res.Write(out);
  PublishImageEvent(engine, "pull", familiar, FamiliarName(ref));
}

// --- list, inspect, history --------------------------------------------------------------------

bool FilterBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw HttpError(400, "invalid filter '" + key + "=" + v + "': use true or false");
}

bool LabelsMatch(const std::map<std::string, std::string>& labels,
                 const std::vector<std::string>& wanted) {
  for (const auto& w : wanted) {
    auto eq = w.find('=');
    if (eq == std::string::npos) {
      if (!labels.contains(w)) return false;
    } else {
      auto it = labels.find(w.substr(0, eq));
      if (it == labels.end() || it->second != w.substr(eq + 1)) return false;
    }
  }
  return true;
}

void HandleList(Engine& engine, Request& req, Response& res) {
  const auto filters = ParseFilters(req.Query("filters"));
  for (const auto& [key, values] : filters) {
    static const std::set<std::string> kKnown = {"dangling", "reference", "label",
                                                 "before",   "since",     "until"};
    if (!kKnown.contains(key))
      throw HttpError(400, "invalid filter '" + key +
                               "': images filter by dangling, reference, label, before, since "
                               "or until");
    (void)values;
  }
  // The legacy "filter" parameter is a reference pattern.
  std::vector<std::string> patterns;
  if (auto it = filters.find("reference"); it != filters.end()) patterns = it->second;
  if (std::string f = req.Query("filter"); !f.empty()) patterns.push_back(f);

  const Context ctx = Engine::Ctx();
  auto groups = LoadGroups(engine, ctx);
  std::optional<bool> dangling;
  if (auto it = filters.find("dangling"); it != filters.end() && !it->second.empty())
    dangling = FilterBool("dangling", it->second.front());
  std::optional<int64_t> before, since, until;
  auto created_of = [&](const std::string& name) {
    img::Image im = engine.ResolveImage(name);
    return UnixSeconds(im.created);
  };
  if (auto it = filters.find("before"); it != filters.end() && !it->second.empty())
    before = created_of(it->second.front());
  if (auto it = filters.find("since"); it != filters.end() && !it->second.empty())
    since = created_of(it->second.front());
  if (auto it = filters.find("until"); it != filters.end() && !it->second.empty())
    until = ParseDockerTime(it->second.front()) / 1000000000;
  std::vector<std::string> labels;
  if (auto it = filters.find("label"); it != filters.end()) labels = it->second;

  const bool old_api = req.api_version < "1.43" && req.api_version.size() == 4;
  std::sort(groups.begin(), groups.end(),
            [](const ImageGroup& a, const ImageGroup& b) { return a.created > b.created; });
  json out = json::array();
  for (const auto& g : groups) {
    if (dangling && g.Dangling() != *dangling) continue;
    if (before && g.created >= *before) continue;
    if (since && g.created <= *since) continue;
    if (until && g.created > *until) continue;
    if (!labels.empty() && !LabelsMatch(g.full.config.labels, labels)) continue;
    if (!patterns.empty()) {
      // Only the names that match stay (docker's rule): tags and digests alike.
      std::vector<std::string> tags;
      std::set<std::string> digests;
      for (const auto& r : g.records) {
        auto ref = RecordRef(r.name);
        if (!ref) continue;
        const std::string full = ref->Familiar();
        const std::string repo = FamiliarName(*ref);
        bool ok = false;
        for (const auto& p : patterns)
          if (fnmatch(p.c_str(), full.c_str(), FNM_PATHNAME) == 0 ||
              fnmatch(p.c_str(), repo.c_str(), FNM_PATHNAME) == 0)
            ok = true;
        if (!ok) continue;
        if (auto t = FamiliarTag(r.name)) tags.push_back(*t);
        if (auto d = FamiliarDigest(r.name, r.digest)) digests.insert(*d);
      }
      if (tags.empty() && digests.empty()) continue;
      std::sort(tags.begin(), tags.end());
      const std::vector<std::string> digest_list(digests.begin(), digests.end());
      out.push_back(SummaryJson(g, old_api, &tags, &digest_list));
      continue;
    }
    out.push_back(SummaryJson(g, old_api, nullptr, nullptr));
  }
  SendJson(res, 200, out.dump());
}

void HandleInspect(Engine& engine, const std::string& name, Response& res) {
  ImageGroup g = ResolveGroup(engine, name, Engine::Ctx());
  SendJson(res, 200, InspectJson(g).dump());
}

void HandleHistory(Engine& engine, const std::string& name, Response& res) {
  ImageGroup g = ResolveGroup(engine, name, Engine::Ctx());
  const auto& history = g.full.history;
  json out = json::array();
  for (size_t i = history.size(); i-- > 0;) {
    const auto& h = history[i];
    json j;
    const bool top = i + 1 == history.size();
    j["Id"] = top ? g.id : "<missing>";
    j["Created"] = UnixSeconds(h.created);
    j["CreatedBy"] = h.created_by;
    j["Tags"] = top ? StringsOrNull(g.RepoTags()) : json(nullptr);
    j["Size"] = 0;
    j["Comment"] = h.comment;
    out.push_back(std::move(j));
  }
  if (history.empty())
    out.push_back({{"Id", g.id},
                   {"Created", g.created},
                   {"CreatedBy", ""},
                   {"Tags", StringsOrNull(g.RepoTags())},
                   {"Size", g.full.size},
                   {"Comment", ""}});
  SendJson(res, 200, out.dump());
}

// --- tag, delete, prune ------------------------------------------------------------------------

void HandleTag(Engine& engine, const std::string& name, Request& req, Response& res) {
  const std::string repo = req.Query("repo");
  if (repo.empty())
    throw HttpError(400, "repo is missing: name the new reference (repo=myimage&tag=v1)");
  const std::string tag = req.Query("tag");
  img::Reference target;
  try {
    target = img::ParseReference(tag.empty() ? repo : repo + ":" + tag);
  } catch (const Error& e) {
    throw HttpError(400, "invalid reference format: " + e.message());
  }
  if (!target.digest.empty())
    throw HttpError(400, "refusing to create a tag with a digest reference: give a tag instead");
  img::Image source = engine.ResolveImage(name);
  engine.images().Tag(Engine::Ctx(), source.name, target.String());
  PublishImageEvent(engine, "tag", Engine::ImageId(source), target.Familiar());
  SendNoContent(res, 201);
}

bool IsRunningState(const std::string& state) {
  return state == "running" || state == "paused" || state == "restarting";
}

const ContainerSummary* UserOf(const std::vector<ContainerSummary>& containers,
                               const std::string& id, bool running_only) {
  for (const auto& c : containers)
    if (c.image_id == id && (!running_only || IsRunningState(c.state))) return &c;
  return nullptr;
}

// One record removed; "Untagged" for a named one.
void RemoveRecord(Engine& engine, const Context& ctx, const ImageGroup& g, const img::Image& rec,
                  json& out) {
  engine.images().Remove(ctx, rec.name, img::RemoveOptions{.force = true});
  if (auto r = RecordRef(rec.name)) {
    out.push_back({{"Untagged", r->Familiar()}});
    PublishImageEvent(engine, "untag", g.id, g.id);
  }
}

void HandleDelete(Engine& engine, const std::string& name, Request& req, Response& res) {
  const bool force = req.QueryBool("force");
  const Context ctx = Engine::Ctx();
  img::Image resolved = engine.ResolveImage(name);
  const std::string id = Engine::ImageId(resolved);
  auto groups = LoadGroups(engine, ctx);
  const ImageGroup* gp = FindGroup(groups, id.empty() ? resolved.digest : id);
  if (!gp) throw HttpError(404, "No such image: " + name);
  const ImageGroup& g = *gp;
  const auto containers = engine.ContainerSummaries();

  std::string hex = name.starts_with(kSha256) ? name.substr(7) : name;
  const bool by_id = !hex.empty() && IsLowerHex(hex) && g.id.size() > 7 &&
                     std::string_view(g.id).substr(7).starts_with(hex);
  json out = json::array();

  if (!by_id) {
    if (!force && g.records.size() == 1)
      if (const ContainerSummary* c = UserOf(containers, g.id, false))
        throw HttpError(409, "conflict: unable to remove repository reference \"" + name +
                                 "\" (must force) - container " + ShortId(c->id) +
                                 " is using its referenced image " + ShortId(g.id));
    const img::Image* rec = nullptr;
    for (const auto& r : g.records)
      if (r.name == resolved.name) rec = &r;
    if (!rec) throw HttpError(404, "No such image: " + name);
    RemoveRecord(engine, ctx, g, *rec, out);
    if (g.records.size() > 1 || UserOf(containers, g.id, true)) {
      SendJson(res, 200, out.dump());
      return;
    }
  } else {
    if (const ContainerSummary* c = UserOf(containers, g.id, true))
      throw HttpError(409, "conflict: unable to delete " + ShortId(g.id) +
                               " (cannot be forced) - image is being used by running container " +
                               ShortId(c->id));
    if (!force) {
      if (const ContainerSummary* c = UserOf(containers, g.id, false))
        throw HttpError(409, "conflict: unable to delete " + ShortId(g.id) +
                                 " (must be forced) - image is being used by stopped container " +
                                 ShortId(c->id));
      // Without force, an ID removes its names only when they are one tag of one repository
      // (and digest references of that repository).
      std::set<std::string> repos;
      size_t tags = 0;
      for (const auto& r : g.records) {
        if (auto ref = RecordRef(r.name)) repos.insert(ref->Name());
        if (IsTagged(r.name)) ++tags;
      }
      if (repos.size() > 1 || tags > 1)
        throw HttpError(409, "conflict: unable to delete " + ShortId(g.id) +
                                 " (must be forced) - image is referenced in multiple "
                                 "repositories");
    }
    for (const auto& r : g.records) RemoveRecord(engine, ctx, g, r, out);
  }
  out.push_back({{"Deleted", g.id}});
  PublishImageEvent(engine, "delete", g.id, g.id);
  SendJson(res, 200, out.dump());
}

void HandlePrune(Engine& engine, Request& req, Response& res) {
  const auto filters = ParseFilters(req.Query("filters"));
  bool dangling_only = true;
  std::optional<int64_t> until;
  std::vector<std::string> labels, not_labels;
  for (const auto& [key, values] : filters) {
    if (key == "dangling") {
      if (!values.empty()) dangling_only = FilterBool("dangling", values.front());
    } else if (key == "until") {
      if (!values.empty()) until = ParseDockerTime(values.front()) / 1000000000;
    } else if (key == "label") {
      labels = values;
    } else if (key == "label!") {
      not_labels = values;
    } else {
      throw HttpError(400, "invalid filter '" + key +
                               "': image prune filters by dangling, until, label or label!");
    }
  }
  const Context ctx = Context::WithTimeout(std::chrono::minutes(5));
  auto groups = LoadGroups(engine, ctx);
  const auto containers = engine.ContainerSummaries();
  json deleted = json::array();
  int64_t reclaimed = 0;
  for (const auto& g : groups) {
    if (dangling_only && !g.Dangling()) continue;
    if (UserOf(containers, g.id, false)) continue;
    if (until && g.created > *until) continue;
    if (!labels.empty() && !LabelsMatch(g.full.config.labels, labels)) continue;
    if (!not_labels.empty()) {
      bool any = false;
      for (const auto& l : not_labels) any = any || LabelsMatch(g.full.config.labels, {l});
      if (any) continue;
    }
    for (const auto& r : g.records) {
      try {
        RemoveRecord(engine, ctx, g, r, deleted);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kNotFound) throw;
      }
    }
    deleted.push_back({{"Deleted", g.id}});
    PublishImageEvent(engine, "delete", g.id, g.id);
    reclaimed += g.full.size;
  }
  json out;
  out["ImagesDeleted"] = deleted.empty() ? json(nullptr) : deleted;
  out["SpaceReclaimed"] = reclaimed;
  SendJson(res, 200, out.dump());
}

// --- save and load -----------------------------------------------------------------------------

// A read-only streambuf over memory (the request body), so the import copies nothing.
class MemoryBuf : public std::streambuf {
 public:
  MemoryBuf(const char* data, size_t size) {
    char* p = const_cast<char*>(data);
    setg(p, p, p + size);
  }
};

// An ostream's buffer that sends its bytes as the chunks of a streamed answer. The answer
// starts with the first bytes, so an export that fails before writing anything is still
// answered as a JSON error.
class ResponseBuf : public std::streambuf {
 public:
  ResponseBuf(Response& res, std::string content_type)
      : res_(res), content_type_(std::move(content_type)) {
    buf_.resize(256 << 10);
    setp(buf_.data(), buf_.data() + buf_.size());
  }
  bool Finish() { return Flush(); }

 protected:
  int_type overflow(int_type ch) override {
    if (!Flush()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return Flush() ? 0 : -1; }

 private:
  bool Flush() {
    if (failed_) return false;
    const size_t n = static_cast<size_t>(pptr() - pbase());
    if (n == 0) return true;
    if (!res_.Started()) res_.BeginStream(200, content_type_);
    if (!res_.Write(std::string_view(pbase(), n))) failed_ = true;
    setp(buf_.data(), buf_.data() + buf_.size());
    return !failed_;
  }

  Response& res_;
  std::string content_type_;
  std::vector<char> buf_;
  bool failed_ = false;
};

// The record names a save of `name` exports: a repository name without tag means all its
// tags (docker's rule), anything else the one image it resolves to.
std::vector<std::string> SaveNames(Engine& engine, const std::string& name) {
  std::string_view last = name;
  if (auto slash = last.rfind('/'); slash != std::string_view::npos) last.remove_prefix(slash + 1);
  if (last.find(':') == std::string_view::npos && last.find('@') == std::string_view::npos) {
    try {
      img::Reference ref = img::ParseReference(name);
      std::vector<std::string> names;
      for (const auto& im : engine.images().List(Engine::Ctx())) {
        auto r = RecordRef(im.name);
        if (r && !r->tag.empty() && r->Name() == ref.Name()) names.push_back(im.name);
      }
      if (!names.empty()) return names;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kInvalidArgument) throw;
    }
  }
  return {engine.ResolveImage(name).name};
}

void HandleSave(Engine& engine, const std::vector<std::string>& names, Response& res) {
  if (names.empty()) throw HttpError(400, "no image to save: name at least one (names=busybox)");
  std::vector<std::string> refs;
  std::set<std::string> seen;
  for (const auto& n : names)
    for (auto& r : SaveNames(engine, n))
      if (seen.insert(r).second) refs.push_back(std::move(r));
  const Context ctx = Context::WithTimeout(std::chrono::hours(1));
  ResponseBuf buf(res, "application/x-tar");
  std::ostream out(&buf);
  try {
    engine.images().Export(ctx, refs, out);
  } catch (...) {
    if (!res.Started()) throw;
    return;  // the client gets a cut archive, which tar refuses
  }
  if (!buf.Finish()) return;
  if (!res.Started()) res.Send(200, "application/x-tar", "");
  for (const auto& n : names) {
    std::string id;
    try {
      id = Engine::ImageId(engine.ResolveImage(n));
    } catch (const std::exception&) {
      continue;
    }
    PublishImageEvent(engine, "save", id, n);
  }
}

void HandleLoad(Engine& engine, Request& req, Response& res) {
  if (req.body.empty())
    throw HttpError(400, "the request has no body: send the archive docker save wrote");
  MemoryBuf buf(req.body.data(), req.body.size());
  std::istream in(&buf);
  const Context ctx = Context::WithTimeout(std::chrono::hours(1));
  std::vector<img::Image> loaded = engine.images().Import(ctx, in);
  std::string out;
  for (const auto& im : loaded) {
    const std::string id = Engine::ImageId(im);
    std::string text;
    if (auto tag = FamiliarTag(im.name))
      text = "Loaded image: " + *tag + "\n";
    else
      text = "Loaded image ID: " + (id.empty() ? im.digest : id) + "\n";
    out += Line(json{{"stream", text}});
    PublishImageEvent(engine, "load", id.empty() ? im.digest : id,
                      FamiliarTag(im.name).value_or(id));
  }
  res.Send(200, "application/json", out);
}

[[noreturn]] void NotSearch() {
  NotImplemented("registry search", "search", "look the image up on the registry's own site");
}

std::vector<std::string> QueryAll(const Request& req, const std::string& key) {
  std::vector<std::string> out;
  auto range = req.query.equal_range(key);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

// Splits "<name>/<suffix>" when the suffix is one of the given; else the whole is the name.
std::pair<std::string, std::string> SplitSuffix(const std::string& path,
                                                std::initializer_list<const char*> suffixes) {
  for (const char* s : suffixes) {
    const std::string tail = std::string("/") + s;
    if (path.size() > tail.size() && path.ends_with(tail))
      return {path.substr(0, path.size() - tail.size()), s};
  }
  return {path, ""};
}

}  // namespace

// --- Engine's image helpers --------------------------------------------------------------------

std::string Engine::ImageId(const libcontainerd::images::Image& image) {
  if (image.config_digest.empty()) return "";
  if (image.config_digest.starts_with(kSha256)) return image.config_digest;
  return kSha256 + image.config_digest;
}

libcontainerd::images::Image Engine::ResolveImage(const std::string& name_or_id) {
  if (name_or_id.empty()) throw HttpError(404, "No such image: " + name_or_id);
  const Context ctx = Ctx();
  const std::string hex = name_or_id.starts_with(kSha256) ? name_or_id.substr(7) : name_or_id;
  const bool is_hex = !hex.empty() && hex.size() <= 64 && IsLowerHex(hex);
  const bool full_id = is_hex && hex.size() == 64;

  if (!full_id && !name_or_id.starts_with(kSha256)) {
    try {
      return images().Inspect(ctx, name_or_id);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound && e.kind() != ErrorKind::kInvalidArgument) throw;
    }
    // name@digest where the digest is the target of another record of that repository.
    try {
      img::Reference ref = img::ParseReference(name_or_id);
      if (!ref.digest.empty())
        for (const auto& im : images().List(ctx)) {
          auto r = RecordRef(im.name);
          if (r && r->Name() == ref.Name() && im.digest == ref.digest)
            return images().Inspect(ctx, im.name);
        }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound && e.kind() != ErrorKind::kInvalidArgument) throw;
    }
  }
  if (is_hex) {
    auto groups = LoadGroups(*this, ctx);
    std::vector<const ImageGroup*> matches;
    for (const auto& g : groups)
      if (g.id.starts_with(kSha256) && std::string_view(g.id).substr(7).starts_with(hex))
        matches.push_back(&g);
    if (matches.size() > 1)
      throw HttpError(400, "the image ID prefix " + name_or_id + " matches " +
                               std::to_string(matches.size()) +
                               " images: give more digits of the ID");
    if (matches.size() == 1) return matches.front()->full;
  }
  throw HttpError(404, "No such image: " + name_or_id);
}

void RegisterImageRoutes(Router& router, Engine& engine) {
  Engine* e = &engine;
  router.Add("POST", "/images/create",
             [e](Request& req, Response& res) { HandlePull(*e, req, res); });
  router.Add("GET", "/images/json", [e](Request& req, Response& res) { HandleList(*e, req, res); });
  router.Add("POST", "/images/load",
             [e](Request& req, Response& res) { HandleLoad(*e, req, res); });
  router.Add("GET", "/images/get",
             [e](Request& req, Response& res) { HandleSave(*e, QueryAll(req, "names"), res); });
  router.Add("POST", "/images/prune",
             [e](Request& req, Response& res) { HandlePrune(*e, req, res); });
  router.Add("GET", "/images/search", [](Request&, Response&) { NotSearch(); });
  // POST /build is refused by system_api.cc (with the other refused areas).
  router.Add("POST", "/commit", [](Request&, Response&) {
    NotImplemented("committing containers to images", "commit",
                   "build the image with another tool and load it with docker load");
  });

  // Image names hold slashes and a port: the greedy {name*} takes the rest of the path (the
  // router decodes it), and the action is the last segment. The fixed paths above come first; they
  // are also answered here when a router prefers the pattern.
  router.Add("GET", "/images/{name*}", [e](Request& req, Response& res) {
    const std::string path = req.Param("name");
    if (path == "json") return HandleList(*e, req, res);
    if (path == "get") return HandleSave(*e, QueryAll(req, "names"), res);
    if (path == "search") NotSearch();
    auto [name, action] = SplitSuffix(path, {"json", "history", "get"});
    if (action == "json") return HandleInspect(*e, name, res);
    if (action == "history") return HandleHistory(*e, name, res);
    if (action == "get") return HandleSave(*e, {name}, res);
    throw HttpError(404, "page not found");
  });
  router.Add("POST", "/images/{name*}", [e](Request& req, Response& res) {
    const std::string path = req.Param("name");
    if (path == "create") return HandlePull(*e, req, res);
    if (path == "load") return HandleLoad(*e, req, res);
    if (path == "prune") return HandlePrune(*e, req, res);
    auto [name, action] = SplitSuffix(path, {"tag", "push"});
    if (action == "tag") return HandleTag(*e, name, req, res);
    if (action == "push")
      NotImplemented("image push", "push",
                     "save the image (docker save) and copy the archive to the registry with "
                     "skopeo copy docker-archive:FILE docker://REGISTRY/NAME:TAG");
    throw HttpError(404, "page not found");
  });
  router.Add("DELETE", "/images/{name*}",
             [e](Request& req, Response& res) { HandleDelete(*e, req.Param("name"), req, res); });
}

}  // namespace lcde
