// lcd-engine: volumes of the local driver (volumes.h). A volume is ROOT/volumes/<name>/_data
// with its record ROOT/volumes/<name>/volume.json (written atomically: temp file, fsync, rename).
// Who uses a volume is read from the containers' records (Containers::All()), plus the
// containers being created right now (a reservation from Mount until their record is listed or
// Release drops it), so nothing kept here can drift from the records.
#include "volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "common.h"
#include "containers.h"
#include "engine.h"
#include "http.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"

namespace lcde {

namespace fs = std::filesystem;
namespace lcd = libcontainerd;
using json = nlohmann::json;

json ToJson(const VolumeMount& m) {
  return {{"Name", m.name},
          {"Source", m.source},
          {"Destination", m.destination},
          {"RW", m.rw},
          {"Anonymous", m.anonymous}};
}

VolumeMount VolumeMountFromJson(const json& j) {
  VolumeMount m;
  if (!j.is_object()) return m;
  m.name = j.value("Name", "");
  m.source = j.value("Source", "");
  m.destination = j.value("Destination", "");
  m.rw = j.value("RW", true);
  m.anonymous = j.value("Anonymous", false);
  return m;
}

namespace {

// docker 23+ marks anonymous volumes with this label (prune without all=true takes only them).
constexpr const char* kAnonymousLabel = "com.docker.volume.anonymous";
// A reservation older than this belongs to a create that failed without Release.
constexpr auto kReservationTtl = std::chrono::minutes(10);

struct VolumeRecord {
  std::string name;
  std::string created;  // RFC 3339, seconds, UTC
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;
  bool anonymous = false;
  bool filled = false;  // the image's files were copied in once (never again)
};

// docker's rule for local volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two characters at least).
bool ValidVolumeName(const std::string& n) {
  if (n.size() < 2) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(n[0])) return false;
  return std::all_of(n.begin() + 1, n.end(),
                     [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

void CheckName(const std::string& name) {
  if (!ValidVolumeName(name))
    throw HttpError(400, "invalid volume name \"" + name +
                             "\": a local volume's name is [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two "
                             "characters at least); to mount a host directory, give an absolute "
                             "path");
}

std::string Rfc3339Seconds(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Errno(const std::string& what, const std::string& path, int err) {
  return what + " " + path + ": " + std::strerror(err);
}

// ---- copying the image's files into a new volume -----------------------------------------------

std::vector<std::string> Components(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(path);
  for (std::string c; std::getline(in, c, '/');)
    if (!c.empty() && c != ".") out.push_back(c);
  return out;
}

// `path` inside the root file system `root`, its symlinks resolved inside root (as the container
// would see them); nullopt when it does not exist there.
std::optional<std::string> ResolveInRoot(const std::string& root, const std::string& path) {
  std::vector<std::string> todo = Components(path);
  std::reverse(todo.begin(), todo.end());  // a stack: the next component last
  std::vector<std::string> cur;
  int hops = 0;
  auto join = [&](const std::vector<std::string>& parts) {
    std::string s = root;
    for (const auto& p : parts) s += "/" + p;
    return s;
  };
  while (!todo.empty()) {
    std::string c = todo.back();
    todo.pop_back();
    if (c == "..") {
      if (!cur.empty()) cur.pop_back();
      continue;
    }
    cur.push_back(c);
    const std::string p = join(cur);
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return std::nullopt;
    if (!S_ISLNK(st.st_mode)) continue;
    if (++hops > 40) return std::nullopt;
    std::vector<char> buf(PATH_MAX + 1);
    ssize_t n = ::readlink(p.c_str(), buf.data(), PATH_MAX);
    if (n < 0) return std::nullopt;
    std::string target(buf.data(), static_cast<size_t>(n));
    cur.pop_back();
    if (!target.empty() && target[0] == '/') cur.clear();
    auto parts = Components(target);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
  }
  return join(cur);
}

void CopyMetadata(const std::string& dst, const struct stat& st, bool symlink) {
  if (::lchown(dst.c_str(), st.st_uid, st.st_gid) != 0)
    throw std::runtime_error(Errno("cannot chown", dst, errno));
  if (!symlink && ::chmod(dst.c_str(), st.st_mode & 07777) != 0)
    throw std::runtime_error(Errno("cannot chmod", dst, errno));
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  ::utimensat(AT_FDCWD, dst.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

void CopyFile(const std::string& src, const std::string& dst, const struct stat& st) {
  int in = ::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) throw std::runtime_error(Errno("cannot open", src, errno));
  int out = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    int err = errno;
    ::close(in);
    throw std::runtime_error(Errno("cannot create", dst, err));
  }
  std::vector<char> buf(128 * 1024);
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(in);
      ::close(out);
      throw std::runtime_error(Errno("cannot read", src, err));
    }
    if (n == 0) break;
    ssize_t off = 0;
    while (off < n) {
      ssize_t w = ::write(out, buf.data() + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        int err = errno;
        ::close(in);
        ::close(out);
        throw std::runtime_error(Errno("cannot write", dst, err));
      }
      off += w;
    }
  }
  ::close(in);
  ::close(out);
  CopyMetadata(dst, st, false);
}

// Copies the contents of directory src into the existing directory dst: directories, regular
// files (hard links become copies), symlinks as they are, device nodes and FIFOs; owners, modes
// and times kept. Sockets are skipped.
void CopyTree(const std::string& src, const std::string& dst) {
  DIR* d = ::opendir(src.c_str());
  if (d == nullptr) throw std::runtime_error(Errno("cannot read the directory", src, errno));
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    const std::string s = src + "/" + n, t = dst + "/" + n;
    struct stat st {};
    if (::lstat(s.c_str(), &st) != 0) throw std::runtime_error(Errno("cannot stat", s, errno));
    if (S_ISDIR(st.st_mode)) {
      if (::mkdir(t.c_str(), 0700) != 0 && errno != EEXIST)
        throw std::runtime_error(Errno("cannot create the directory", t, errno));
      CopyTree(s, t);
      CopyMetadata(t, st, false);
    } else if (S_ISREG(st.st_mode)) {
      CopyFile(s, t, st);
    } else if (S_ISLNK(st.st_mode)) {
      std::vector<char> buf(PATH_MAX + 1);
      ssize_t len = ::readlink(s.c_str(), buf.data(), PATH_MAX);
      if (len < 0) throw std::runtime_error(Errno("cannot read the link", s, errno));
      if (::symlink(std::string(buf.data(), static_cast<size_t>(len)).c_str(), t.c_str()) != 0)
        throw std::runtime_error(Errno("cannot create the link", t, errno));
      CopyMetadata(t, st, true);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      if (::mknod(t.c_str(), st.st_mode, st.st_rdev) != 0)
        throw std::runtime_error(Errno("cannot create the node", t, errno));
      CopyMetadata(t, st, false);
    }
  }
}

// Bytes of the regular files under dir (each inode once), as docker reports SpaceReclaimed.
int64_t DirSize(const std::string& dir) {
  int64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (seen.insert({st.st_dev, st.st_ino}).second) total += st.st_size;
  }
  return total;
}

bool DirEmpty(const std::string& dir) {
  std::error_code ec;
  return fs::is_empty(dir, ec) || ec;
}

json StringMap(const std::map<std::string, std::string>& m) {
  json j = json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

std::map<std::string, std::string> StringMapFrom(const json& j, const std::string& field) {
  std::map<std::string, std::string> m;
  if (j.is_null()) return m;
  if (!j.is_object()) throw HttpError(400, field + " must be an object of strings");
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) throw HttpError(400, field + "." + k + " must be a string");
    m[k] = v.get<std::string>();
  }
  return m;
}

// A label filter value "key" or "key=value" against a volume's labels.
bool LabelMatches(const std::map<std::string, std::string>& labels, const std::string& want) {
  size_t eq = want.find('=');
  auto it = labels.find(want.substr(0, eq));
  if (it == labels.end()) return false;
  return eq == std::string::npos || it->second == want.substr(eq + 1);
}

bool FilterBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw HttpError(400, "invalid filter '" + key + "=" + v + "': expected true or false");
}

// The minor number of "1.NN".
int ApiMinor(const std::string& v) {
  if (v.rfind("1.", 0) != 0) return 0;
  try {
    return std::stoi(v.substr(2));
  } catch (...) {
    return 0;
  }
}

}  // namespace

// ---- Impl -------------------------------------------------------------------------------------

struct Volumes::Impl {
  explicit Impl(Engine& e) : engine(e), dir(e.options().root + "/volumes") {}

  Engine& engine;
  const std::string dir;  // ROOT/volumes
  std::mutex mu;          // vols, pending; taken before Containers' locks, never after
  std::map<std::string, VolumeRecord> vols;
  struct Reservation {
    std::set<std::string> names;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, Reservation> pending;  // container id (being created) -> volume names
  std::mutex fill_mu;                          // one copy from an image at a time

  std::string VolumeDir(const std::string& name) const { return dir + "/" + name; }
  std::string DataDir(const std::string& name) const { return VolumeDir(name) + "/_data"; }

  void Save(const VolumeRecord& r) {
    json j = {{"Name", r.name},
              {"CreatedAt", r.created},
              {"Labels", StringMap(r.labels)},
              {"Options", StringMap(r.options)},
              {"Anonymous", r.anonymous},
              {"Filled", r.filled}};
    WriteFileAtomic(VolumeDir(r.name) + "/volume.json", j.dump(2) + "\n");
  }

  void Load() {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create " + dir + ": " + ec.message());
    ::chmod(dir.c_str(), 0701);
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(".trash-", 0) == 0) {  // a removal cut short
        fs::remove_all(e.path(), ec);
        continue;
      }
      if (!e.is_directory(ec) || !ValidVolumeName(name)) continue;
      VolumeRecord r;
      r.name = name;
      const std::string rec_path = VolumeDir(name) + "/volume.json";
      std::ifstream in(rec_path);
      json j = in ? json::parse(in, nullptr, false) : json();
      if (j.is_object()) {
        r.created = j.value("CreatedAt", "");
        try {
          r.labels = StringMapFrom(j.value("Labels", json::object()), "Labels");
          r.options = StringMapFrom(j.value("Options", json::object()), "Options");
        } catch (const std::exception&) {
        }
        r.anonymous = j.value("Anonymous", false);
        r.filled = j.value("Filled", false);
      } else {
        // A directory without a readable record (a create cut short, or put there by hand):
        // adopted as a volume, as docker adopts the directories under its volumes/.
        lcd::Log(lcd::LogLevel::kWarning,
                 "lcd-engine: volume " + name + " has no readable record: adopted");
        fs::create_directories(DataDir(name), ec);
        r.filled = !DirEmpty(DataDir(name));
      }
      if (r.created.empty()) {
        struct stat st {};
        r.created = Rfc3339Seconds(::stat(e.path().c_str(), &st) == 0
                                       ? std::chrono::system_clock::from_time_t(st.st_mtime)
                                       : std::chrono::system_clock::now());
      }
      if (!j.is_object()) {
        try {
          Save(r);
        } catch (const std::exception& ex) {
          lcd::Log(lcd::LogLevel::kWarning, std::string("lcd-engine: ") + ex.what());
        }
      }
      vols[name] = r;
    }
  }

  json VolumeJson(const VolumeRecord& r) const {
    return {{"Name", r.name},
            {"Driver", "local"},
            {"Mountpoint", DataDir(r.name)},
            {"CreatedAt", r.created},
            {"Labels", StringMap(r.labels)},
            {"Scope", "local"},
            {"Options", StringMap(r.options)}};
  }

  void Publish(const std::string& action, const std::string& name,
               std::map<std::string, std::string> attrs = {}) {
    Event e;
    e.type = "volume";
    e.action = action;
    e.id = name;
    attrs["driver"] = "local";
    e.attributes = std::move(attrs);
    engine.events().Publish(std::move(e));
  }

  // Makes the volume's directories and record (mu held).
  VolumeRecord& CreateLocked(const std::string& name, std::map<std::string, std::string> labels,
                             std::map<std::string, std::string> options, bool anonymous) {
    VolumeRecord r;
    r.name = name;
    r.created = Rfc3339Seconds(std::chrono::system_clock::now());
    r.labels = std::move(labels);
    r.options = std::move(options);
    r.anonymous = anonymous;
    if (anonymous) r.labels[kAnonymousLabel] = "";
    std::error_code ec;
    fs::create_directories(DataDir(name), ec);
    if (ec) throw std::runtime_error("cannot create the volume " + name + ": " + ec.message());
    ::chmod(VolumeDir(name).c_str(), 0701);
    ::chmod(DataDir(name).c_str(), 0755);
    try {
      Save(r);
    } catch (...) {
      fs::remove_all(VolumeDir(name), ec);
      throw;
    }
    auto& ref = vols[name] = r;
    Publish("create", name);
    return ref;
  }

  // Volume name -> the containers that mount it: every container record (running or not) and
  // the containers being created (mu held). Reservations of containers now listed, or stale, go.
  std::map<std::string, std::vector<std::string>> UsersLocked(
      const std::string& except_container = "") {
    std::map<std::string, std::vector<std::string>> users;
    std::set<std::string> listed;
    for (const auto& c : engine.containers().All()) {
      std::lock_guard l(c->mu);
      listed.insert(c->rec.id);
      if (c->removed || c->rec.id == except_container) continue;
      for (const auto& v : c->rec.volumes) {
        auto& ids = users[v.name];
        if (std::find(ids.begin(), ids.end(), c->rec.id) == ids.end()) ids.push_back(c->rec.id);
      }
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto it = pending.begin(); it != pending.end();) {
      if (listed.count(it->first) || now - it->second.at > kReservationTtl) {
        it = pending.erase(it);
        continue;
      }
      if (it->first != except_container)
        for (const auto& n : it->second.names) {
          auto& ids = users[n];
          if (std::find(ids.begin(), ids.end(), it->first) == ids.end()) ids.push_back(it->first);
        }
      ++it;
    }
    return users;
  }

  // Removes the volume's directory and record (mu held): renamed away first, so a crash midway
  // leaves no half volume (Load deletes what is left).
  void RemoveLocked(const std::string& name) {
    const std::string trash = dir + "/.trash-" + name + "-" + RandomHex(4);
    if (::rename(VolumeDir(name).c_str(), trash.c_str()) != 0 && errno != ENOENT)
      throw std::runtime_error(Errno("cannot remove the volume", VolumeDir(name), errno));
    vols.erase(name);
    std::error_code ec;
    fs::remove_all(trash, ec);
    if (ec)
      lcd::Log(lcd::LogLevel::kWarning,
               "lcd-engine: leftovers of volume " + name + " in " + trash + ": " + ec.message());
    Publish("destroy", name);
  }

  // The image's files at destination into the volume, once (docker copies into a volume only
  // while it is new and empty).
  void Fill(const std::string& name, const std::string& destination, const std::string& image_ref) {
    std::lock_guard fl(fill_mu);
    {
      std::lock_guard l(mu);
      auto it = vols.find(name);
      if (it == vols.end() || it->second.filled) return;
    }
    const std::string data = DataDir(name);
    if (!DirEmpty(data)) return;
    bool copied = false;
    engine.images().WithRootfs(Engine::Ctx(), image_ref, [&](const std::string& root) {
      auto src = ResolveInRoot(root, destination);
      if (!src) return;
      struct stat st {};
      if (::stat(src->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
      try {
        CopyTree(*src, data);
        if (::chown(data.c_str(), st.st_uid, st.st_gid) != 0 ||
            ::chmod(data.c_str(), st.st_mode & 07777) != 0)
          throw std::runtime_error(Errno("cannot set the owner and mode of", data, errno));
      } catch (...) {
        // A partial copy is not kept: the volume stays empty and unfilled.
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(data, ec)) fs::remove_all(e.path(), ec);
        throw;
      }
      copied = true;
    });
    if (!copied) return;
    std::lock_guard l(mu);
    auto it = vols.find(name);
    if (it == vols.end()) return;
    it->second.filled = true;
    Save(it->second);
  }

  // ---- handlers ----

  void List(Request& req, Response& res) {
    auto f = ParseFilters(req.Query("filters"));
    for (const auto& [k, v] : f)
      if (k != "name" && k != "label" && k != "dangling" && k != "driver")
        throw HttpError(400, "invalid filter '" + k + "'");
    std::optional<bool> dangling;
    if (auto it = f.find("dangling"); it != f.end())
      for (const auto& v : it->second) dangling = FilterBool("dangling", v);
    json out = json::array();
    std::lock_guard l(mu);
    std::map<std::string, std::vector<std::string>> users;
    if (dangling) users = UsersLocked();
    for (const auto& [name, r] : vols) {
      if (auto it = f.find("name"); it != f.end()) {
        bool any = false;
        for (const auto& v : it->second) any = any || name.find(v) != std::string::npos;
        if (!any) continue;
      }
      if (auto it = f.find("driver"); it != f.end()) {
        bool any = false;
        for (const auto& v : it->second) any = any || std::string("local").find(v) == 0;
        if (!any) continue;
      }
      if (auto it = f.find("label"); it != f.end()) {
        bool all = true;
        for (const auto& v : it->second) all = all && LabelMatches(r.labels, v);
        if (!all) continue;
      }
      if (dangling && (users.count(name) == 0) != *dangling) continue;
      out.push_back(VolumeJson(r));
    }
    SendJson(res, 200, json{{"Volumes", out}, {"Warnings", nullptr}}.dump());
  }

  void Create(Request& req, Response& res) {
    json body = ParseJsonBody(req);
    auto str = [&](const char* k) -> std::string {
      if (!body.contains(k) || body[k].is_null()) return "";
      if (!body[k].is_string()) throw HttpError(400, std::string(k) + " must be a string");
      return body[k].get<std::string>();
    };
    std::string name = str("Name");
    const std::string driver = str("Driver");
    if (!driver.empty() && driver != "local")
      throw HttpError(
          501, "lcd-engine does not support the volume driver \"" + driver + "\" (only local)");
    auto opts = StringMapFrom(body.value("DriverOpts", json()), "DriverOpts");
    if (!opts.empty())
      throw HttpError(501, "lcd-engine does not support the local driver's option \"" +
                               opts.begin()->first +
                               "\" (volumes are plain directories: no -o type/device/o)");
    auto labels = StringMapFrom(body.value("Labels", json()), "Labels");
    if (body.contains("ClusterVolumeSpec") && !body["ClusterVolumeSpec"].is_null() &&
        !(body["ClusterVolumeSpec"].is_object() && body["ClusterVolumeSpec"].empty()))
      throw HttpError(501, "lcd-engine does not support cluster volumes (swarm)");
    std::lock_guard l(mu);
    if (name.empty()) {
      do name = RandomHex(32);
      while (vols.count(name));
    } else {
      CheckName(name);
    }
    auto it = vols.find(name);
    const VolumeRecord& r = it != vols.end() ? it->second : CreateLocked(name, labels, opts, false);
    SendJson(res, 201, VolumeJson(r).dump());
  }

  void Inspect(Request& req, Response& res) {
    const std::string& name = req.Param("name");
    std::lock_guard l(mu);
    auto it = vols.find(name);
    if (it == vols.end()) throw HttpError(404, "get " + name + ": no such volume");
    SendJson(res, 200, VolumeJson(it->second).dump());
  }

  void Remove(Request& req, Response& res) {
    const std::string& name = req.Param("name");
    const bool force = req.QueryBool("force");
    std::lock_guard l(mu);
    if (vols.find(name) == vols.end()) {
      if (force) return SendNoContent(res);
      throw HttpError(404, "get " + name + ": no such volume");
    }
    auto users = UsersLocked();
    if (auto u = users.find(name); u != users.end()) {
      std::string ids;
      for (const auto& id : u->second) ids += (ids.empty() ? "" : ", ") + id;
      throw HttpError(409, "remove " + name + ": volume is in use - [" + ids + "]");
    }
    RemoveLocked(name);
    SendNoContent(res);
  }

  void Prune(Request& req, Response& res) {
    auto f = ParseFilters(req.Query("filters"));
    bool all = ApiMinor(req.api_version) < 42;  // API 1.41 and older: every unused volume
    for (const auto& [k, vs] : f) {
      if (k == "all") {
        for (const auto& v : vs) all = all || FilterBool("all", v);
      } else if (k != "label" && k != "label!") {
        throw HttpError(400, "invalid filter '" + k + "'");
      }
    }
    json deleted = json::array();
    int64_t reclaimed = 0;
    std::lock_guard l(mu);
    auto users = UsersLocked();
    std::vector<std::string> names;
    for (const auto& [name, r] : vols) {
      if (users.count(name)) continue;
      if (!all && r.labels.count(kAnonymousLabel) == 0) continue;
      if (auto it = f.find("label"); it != f.end()) {
        bool ok = true;
        for (const auto& v : it->second) ok = ok && LabelMatches(r.labels, v);
        if (!ok) continue;
      }
      if (auto it = f.find("label!"); it != f.end()) {
        bool hit = false;
        for (const auto& v : it->second) hit = hit || LabelMatches(r.labels, v);
        if (hit) continue;
      }
      names.push_back(name);
    }
    for (const auto& name : names) {
      int64_t size = DirSize(DataDir(name));
      try {
        RemoveLocked(name);
      } catch (const std::exception& e) {
        lcd::Log(lcd::LogLevel::kWarning, std::string("lcd-engine: volume prune: ") + e.what());
        continue;
      }
      deleted.push_back(name);
      reclaimed += size;
    }
    Publish("prune", "", {{"reclaimed", std::to_string(reclaimed)}});
    SendJson(res, 200, json{{"VolumesDeleted", deleted}, {"SpaceReclaimed", reclaimed}}.dump());
  }
};

// ---- Volumes ----------------------------------------------------------------------------------

Volumes::Volumes(Engine& engine) : impl_(std::make_unique<Impl>(engine)) { impl_->Load(); }

Volumes::~Volumes() = default;

VolumeMount Volumes::Mount(const std::string& container_id, const std::string& name_in,
                           const std::string& destination_in, bool read_only,
                           const std::string& image_ref) {
  if (destination_in.empty() || destination_in[0] != '/')
    throw HttpError(400, "invalid volume destination \"" + destination_in +
                             "\": the path in the container must be absolute");
  std::string destination = fs::path(destination_in).lexically_normal().string();
  while (destination.size() > 1 && destination.back() == '/') destination.pop_back();
  if (destination == "/")
    throw HttpError(400, "invalid volume destination \"" + destination_in +
                             "\": a volume cannot be mounted over the container's root (/)");
  std::string name = name_in;
  const bool anonymous = name.empty();
  if (!anonymous) CheckName(name);
  {
    std::lock_guard l(impl_->mu);
    if (anonymous) {
      do name = RandomHex(32);
      while (impl_->vols.count(name));
    }
    if (impl_->vols.find(name) == impl_->vols.end()) impl_->CreateLocked(name, {}, {}, anonymous);
    auto& res = impl_->pending[container_id];
    res.names.insert(name);
    res.at = std::chrono::steady_clock::now();
  }
  VolumeMount m;
  m.name = name;
  m.source = impl_->DataDir(name);
  m.destination = destination;
  m.rw = !read_only;
  m.anonymous = anonymous;
  if (!image_ref.empty()) {
    auto drop_anonymous = [&] {
      if (!anonymous) return;  // a named volume stays, empty, as docker leaves it
      std::lock_guard l(impl_->mu);
      if (auto it = impl_->pending.find(container_id); it != impl_->pending.end())
        it->second.names.erase(name);
      try {
        impl_->RemoveLocked(name);
      } catch (const std::exception& e) {
        lcd::Log(lcd::LogLevel::kWarning, std::string("lcd-engine: ") + e.what());
      }
    };
    try {
      impl_->Fill(name, destination, image_ref);
    } catch (const HttpError&) {
      drop_anonymous();
      throw;
    } catch (const std::exception& e) {
      drop_anonymous();
      throw HttpError(500, "cannot copy the image's " + destination + " into the volume " + name +
                               ": " + e.what());
    }
  }
  return m;
}

lcd::oci::Mount Volumes::OciMount(const VolumeMount& m) {
  lcd::oci::Mount o;
  o.destination = m.destination;
  o.type = "bind";
  o.source = m.source;
  o.options = {"rbind", m.rw ? "rw" : "ro", "rprivate"};
  return o;
}

void Volumes::Release(const std::string& container_id, const std::vector<VolumeMount>& mounts,
                      bool remove_anonymous) {
  std::lock_guard l(impl_->mu);
  impl_->pending.erase(container_id);
  if (!remove_anonymous) return;
  std::vector<std::string> candidates;
  for (const auto& m : mounts)
    if (m.anonymous && impl_->vols.count(m.name)) candidates.push_back(m.name);
  if (candidates.empty()) return;
  auto users = impl_->UsersLocked(container_id);
  for (const auto& name : candidates) {
    if (users.count(name) || !impl_->vols.count(name)) continue;
    try {
      impl_->RemoveLocked(name);
    } catch (const std::exception& e) {
      lcd::Log(lcd::LogLevel::kWarning, std::string("lcd-engine: ") + e.what());
    }
  }
}

void Volumes::RegisterRoutes(Router& router) {
  Impl* impl = impl_.get();
  router.Add("GET", "/volumes", [impl](Request& q, Response& r) { impl->List(q, r); });
  router.Add("POST", "/volumes/create", [impl](Request& q, Response& r) { impl->Create(q, r); });
  router.Add("POST", "/volumes/prune", [impl](Request& q, Response& r) { impl->Prune(q, r); });
  router.Add("GET", "/volumes/{name}", [impl](Request& q, Response& r) { impl->Inspect(q, r); });
  router.Add("DELETE", "/volumes/{name}", [impl](Request& q, Response& r) { impl->Remove(q, r); });
  router.Add("PUT", "/volumes/{name}", [](Request&, Response&) {
    throw HttpError(501, "lcd-engine does not support cluster volume updates (swarm)");
  });
}

}  // namespace lcde
