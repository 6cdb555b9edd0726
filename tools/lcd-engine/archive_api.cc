// lcd-engine: docker cp (HEAD/GET/PUT /containers/{id}/archive).
//
// Every path is resolved inside the container's root file system as the container sees it:
// lexically against "/" (a leading ".." stays at the root, as in the container) and with symlinks
// resolved relative to that root (openat2 with RESOLVE_IN_ROOT; without openat2, a walk of our
// own, one component at a time with O_NOFOLLOW). Files are then read and written through fds
// (openat/fchown/unlinkat relative to a directory fd, never a host path a container could
// redirect).
//   running container: /proc/<pid>/root (its mount namespace: volumes and binds included);
//   created or exited: its snapshot mounted read-write (ImageService::WithSnapshot) with its
//   volumes, binds and /etc/hosts, resolv.conf and hostname bound over it for the operation.
// GET streams a tar (libarchive) named as docker names it: a directory as "<base>/..." where base
// is the last element of the path ("." for a path ending in "/."), a file as its base name. PUT
// extracts a tar (gzip, bzip2, xz or zstd compressed too) into an existing directory; entries
// with an absolute name or a ".." component are refused. Ownership: root (0:0) unless
// copyUIDGID (docker cp -a), then the archive's.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <set>

#include "containers.h"
#include "libcontainerd/errors.h"

namespace lcde {

void RegisterArchiveRoutes(Router& router, Engine& engine);

namespace lcd = libcontainerd;

namespace {

// A file system error with errno and the container path it concerns.
class PathError : public std::runtime_error {
 public:
  PathError(int err, std::string path, const std::string& what)
      : std::runtime_error(what + " " + path + ": " + std::strerror(err)),
        err_(err),
        path_(std::move(path)) {}
  int err() const { return err_; }
  const std::string& path() const { return path_; }

 private:
  int err_;
  std::string path_;
};

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string ProcFd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::vector<std::string> Components(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// "/" + path cleaned lexically (".." at the root stays at the root).
std::string CleanAbs(const std::string& path) {
  std::vector<std::string> done;
  for (const auto& c : Components(path)) {
    if (c == ".") continue;
    if (c == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    done.push_back(c);
  }
  std::string out;
  for (const auto& c : done) out += "/" + c;
  return out.empty() ? "/" : out;
}

// docker's PreserveTrailingDotOrSeparator: the cleaned path keeps a trailing "/." or "/" of the
// original.
std::string AbsPreserving(const std::string& path) {
  std::string abs = CleanAbs(path);
  auto ends = [&](const std::string& s) {
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  if ((ends("/.") || path == ".") && abs != "/") return abs + "/.";
  if (!path.empty() && path.back() == '/' && abs != "/") return abs + "/";
  return abs;
}

// Go's filepath.Base.
std::string Base(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "/") return "/";
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string Parent(const std::string& clean_abs) {
  auto s = clean_abs.rfind('/');
  if (s == 0 || s == std::string::npos) return "/";
  return clean_abs.substr(0, s);
}

// The container's root directory (an O_PATH fd) and path resolution inside it.
class Root {
 public:
  explicit Root(int fd) : fd_(fd) {}
  int fd() const { return fd_; }

  // Opens a container path (cleaned) with symlinks resolved inside the root; O_NOFOLLOW in flags
  // leaves the last element unresolved. Throws PathError.
  Fd Open(const std::string& path, int flags, mode_t mode = 0) const {
    std::string abs = CleanAbs(path);
    std::string rel = abs == "/" ? "." : abs.substr(1);
    static std::atomic<bool> no_openat2{false};
    if (!no_openat2.load()) {
      struct open_how how {};
      how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
      how.mode = (flags & O_CREAT) ? mode : 0;
      how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
      for (int attempt = 0; attempt < 16; ++attempt) {
        long r = ::syscall(SYS_openat2, fd_, rel.c_str(), &how, sizeof how);
        if (r >= 0) return Fd(static_cast<int>(r));
        if (errno == EAGAIN || errno == EINTR) continue;
        if (errno == ENOSYS) break;  // no openat2 (Linux < 5.6)
        throw PathError(errno, abs, "open");
      }
      if (errno == ENOSYS) no_openat2 = true;
      if (!no_openat2.load()) throw PathError(errno, abs, "open");
    }
    // Without openat2: resolve in user space, then walk the resolved path refusing symlinks.
    std::string resolved = Resolve(abs, (flags & O_NOFOLLOW) == 0);
    if (resolved == "/") {
      int r = ::openat(fd_, ".", flags | O_CLOEXEC);
      if (r < 0) throw PathError(errno, abs, "open");
      return Fd(r);
    }
    Fd dir = Walk(Parent(resolved));
    int r = ::openat(dir.get(), Base(resolved).c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
    if (r < 0) throw PathError(errno, abs, "open");
    return Fd(r);
  }

  // The container path that path resolves to, symlinks followed inside the root (the last one
  // when follow_last), as far as it exists (the rest appended lexically), like docker's
  // FollowSymlinkInScope.
  std::string Resolve(const std::string& path, bool follow_last) const {
    std::deque<std::string> todo;
    for (auto& c : Components(path)) todo.push_back(c);
    std::vector<std::string> done;
    int links = 0;
    bool missing = false;
    auto join = [&] {
      std::string out;
      for (const auto& c : done) out += "/" + c;
      return out.empty() ? std::string("/") : out;
    };
    while (!todo.empty()) {
      std::string c = todo.front();
      todo.pop_front();
      if (c == ".") continue;
      if (c == "..") {
        if (!done.empty()) done.pop_back();
        continue;
      }
      if (missing || (todo.empty() && !follow_last)) {
        done.push_back(c);
        continue;
      }
      Fd dir;
      try {
        dir = Walk(join());
      } catch (const PathError&) {
        missing = true;
        done.push_back(c);
        continue;
      }
      struct stat st {};
      if (::fstatat(dir.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        missing = true;
        done.push_back(c);
        continue;
      }
      if (!S_ISLNK(st.st_mode)) {
        done.push_back(c);
        continue;
      }
      if (++links > 255) throw PathError(ELOOP, path, "resolve");
      std::string target(4096, '\0');
      ssize_t n = ::readlinkat(dir.get(), c.c_str(), target.data(), target.size());
      if (n < 0) throw PathError(errno, join() + "/" + c, "readlink");
      target.resize(static_cast<size_t>(n));
      if (!target.empty() && target[0] == '/') done.clear();
      auto parts = Components(target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
    }
    return join();
  }

 private:
  // Opens a symlink-free container path (O_PATH directory), one component at a time.
  Fd Walk(const std::string& clean_abs) const {
    Fd cur(::openat(fd_, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (cur.get() < 0) throw PathError(errno, "/", "open");
    for (const auto& c : Components(clean_abs)) {
      int r = ::openat(cur.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (r < 0) throw PathError(errno, clean_abs, "open");
      cur = Fd(r);
    }
    return cur;
  }

  int fd_;
};

// A mount of the container other than its root file system: where it is and whether writable.
struct MountPoint {
  std::string source;  // host path; empty for tmpfs
  std::string destination;
  bool rw = true;
};

std::vector<MountPoint> MountPoints(const ContainerRecord& rec) {
  std::vector<MountPoint> out;
  for (const auto& v : rec.volumes) out.push_back({v.source, CleanAbs(v.destination), v.rw});
  const json& hc = rec.host_config;
  if (hc.contains("Binds") && hc["Binds"].is_array()) {
    for (const auto& b : hc["Binds"]) {
      if (!b.is_string()) continue;
      const BindSpec bind = ParseBind(b.get<std::string>());  // accepted at create
      if (!bind.host_path()) continue;                        // volumes: in rec.volumes
      out.push_back({bind.source, CleanAbs(bind.destination), !bind.read_only});
    }
  }
  if (hc.contains("Mounts") && hc["Mounts"].is_array()) {
    for (const auto& m : hc["Mounts"]) {
      if (!m.is_object()) continue;
      std::string type = m.value("Type", "");
      if (type != "bind" && type != "tmpfs") continue;  // volumes are in rec.volumes
      out.push_back({type == "bind" ? m.value("Source", "") : "",
                     CleanAbs(m.value("Target", m.value("Destination", ""))),
                     !m.value("ReadOnly", false)});
    }
  }
  if (hc.contains("Tmpfs") && hc["Tmpfs"].is_object())
    for (const auto& [dst, opts] : hc["Tmpfs"].items()) out.push_back({"", CleanAbs(dst), true});
  return out;
}

// docker's checkWritablePath: a read-only volume or bind, or a read-only root file system.
void CheckWritable(const ContainerRecord& rec, const std::string& container_path) {
  std::string dest;
  bool rw = true, found = false;
  for (const auto& m : MountPoints(rec)) {
    bool under = m.destination == "/" || container_path == m.destination ||
                 container_path.rfind(m.destination + "/", 0) == 0;
    if (under && (!found || m.destination.size() > dest.size())) {
      dest = m.destination;
      rw = m.rw;
      found = true;
    }
  }
  if (found) {
    if (!rw) throw HttpError(400, "mounted volume is marked read-only");
    return;
  }
  if (rec.host_config.value("ReadonlyRootfs", false))
    throw HttpError(400, "container rootfs is marked read-only");
}

// mkdir -p of a container path inside the root; the directory's O_PATH fd.
Fd MkdirAll(const Root& root, const std::string& clean_abs, mode_t mode = 0755) {
  try {
    return root.Open(clean_abs, O_PATH | O_DIRECTORY);
  } catch (const PathError& e) {
    if (e.err() != ENOENT || clean_abs == "/") throw;
  }
  Fd parent = MkdirAll(root, Parent(clean_abs), mode);
  std::string base = Base(clean_abs);
  if (::mkdirat(parent.get(), base.c_str(), mode) != 0 && errno != EEXIST)
    throw PathError(errno, clean_abs, "mkdir");
  return root.Open(clean_abs, O_PATH | O_DIRECTORY);
}

// Binds a host path over a container path (the mount point made as docker makes it); the host
// path of the mount for its unmount.
std::string BindInto(const Root& root, const std::string& rootdir, const MountPoint& m) {
  struct stat st {};
  if (::stat(m.source.c_str(), &st) != 0) throw PathError(errno, m.source, "stat of the mount");
  if (S_ISDIR(st.st_mode)) {
    MkdirAll(root, m.destination);
  } else {
    Fd parent = MkdirAll(root, Parent(m.destination));
    int f = ::openat(parent.get(), Base(m.destination).c_str(),
                     O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f >= 0) ::close(f);
  }
  Fd target = root.Open(m.destination, O_PATH);
  if (::mount(m.source.c_str(), ProcFd(target.get()).c_str(), nullptr, MS_BIND | MS_REC, nullptr) !=
      0)
    throw PathError(errno, m.destination, "bind mount of " + m.source + " on");
  std::string host = rootdir + root.Resolve(m.destination, true);
  if (!m.rw &&
      ::mount(nullptr, host.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
    int err = errno;
    ::umount2(host.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    throw PathError(err, m.destination, "read-only remount of");
  }
  return host;
}

// Calls fn with the container's root as the container sees it (see the file comment).
void WithContainerRoot(Engine& engine, const std::shared_ptr<Ctr>& c,
                       const std::function<void(const Root&)>& fn) {
  int pid = 0;
  ContainerRecord rec;
  {
    std::lock_guard l(c->mu);
    if (c->running()) pid = c->rec.pid;
    rec = c->rec;
  }
  if (pid > 0) {
    Fd rootfd(::open(("/proc/" + std::to_string(pid) + "/root").c_str(),
                     O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (rootfd.get() >= 0) {
      fn(Root(rootfd.get()));
      return;
    }
    // It exited meanwhile: its snapshot then.
  }
  try {
    engine.images().WithSnapshot(Engine::Ctx(), "overlayfs", rec.id, [&](const std::string& dir) {
      Fd rootfd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (rootfd.get() < 0) throw PathError(errno, dir, "open of the snapshot mount");
      Root root(rootfd.get());
      std::vector<MountPoint> binds;
      for (const auto& m : MountPoints(rec))
        if (!m.source.empty()) binds.push_back(m);
      auto add_file = [&](const std::string& src, const char* dst) {
        struct stat st {};
        if (!src.empty() && ::stat(src.c_str(), &st) == 0) binds.push_back({src, dst, true});
      };
      add_file(rec.hosts_path, "/etc/hosts");
      add_file(rec.resolv_conf_path, "/etc/resolv.conf");
      add_file(rec.hostname_path, "/etc/hostname");
      std::stable_sort(binds.begin(), binds.end(), [](const MountPoint& a, const MountPoint& b) {
        return Components(a.destination).size() < Components(b.destination).size();
      });
      std::vector<std::string> mounted;
      auto unmount = [&] {
        for (auto it = mounted.rbegin(); it != mounted.rend(); ++it)
          ::umount2(it->c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
      };
      try {
        for (const auto& m : binds) mounted.push_back(BindInto(root, dir, m));
        fn(root);
      } catch (...) {
        unmount();
        throw;
      }
      unmount();
    });
  } catch (const lcd::Error& e) {
    if (e.kind() == lcd::ErrorKind::kNotFound)
      throw HttpError(409, "container " + rec.id + " has no root file system (" + e.message() +
                               "): it is being removed or was created outside the engine");
    throw;
  }
}

// Go's os.FileMode bits, as docker's PathStat carries them.
uint32_t GoMode(mode_t m) {
  uint32_t r = m & 0777;
  switch (m & S_IFMT) {
    case S_IFDIR:
      r |= 1u << 31;
      break;
    case S_IFLNK:
      r |= 1u << 27;
      break;
    case S_IFBLK:
      r |= 1u << 26;
      break;
    case S_IFCHR:
      r |= (1u << 26) | (1u << 21);
      break;
    case S_IFIFO:
      r |= 1u << 25;
      break;
    case S_IFSOCK:
      r |= 1u << 24;
      break;
    default:
      break;
  }
  if (m & S_ISUID) r |= 1u << 23;
  if (m & S_ISGID) r |= 1u << 22;
  if (m & S_ISVTX) r |= 1u << 20;
  return r;
}

std::string Base64(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// What a path is, as docker's Lstat sees it: the directory that holds it and its name there
// ("." when the path itself is a directory opened through a trailing "/", "/." or the root).
struct Located {
  Fd dir;
  std::string name;
  struct stat st {};
  std::string abs;  // the path as resolved lexically (trailing "/." or "/" kept)
};

std::string NotFound(const std::string& path, const std::string& ctr) {
  return "Could not find the file " + path + " in container " + ctr;
}

[[noreturn]] void ThrowPath(const PathError& e, const std::string& path, const std::string& ctr) {
  if (e.err() == ENOENT) throw HttpError(404, NotFound(path, ctr));
  if (e.err() == ENOTDIR || e.err() == ELOOP || e.err() == EXDEV)
    throw HttpError(400, std::string(e.what()) + " (in container " + ctr + ")");
  if (e.err() == EROFS) throw HttpError(400, std::string(e.what()) + " (a read-only mount)");
  if (e.err() == EACCES || e.err() == EPERM) throw HttpError(403, e.what());
  throw HttpError(500, e.what());
}

Located Locate(const Root& root, const std::string& path) {
  Located l;
  l.abs = AbsPreserving(path);
  bool whole = l.abs == "/" || l.abs.back() == '/' ||
               (l.abs.size() >= 2 && l.abs.compare(l.abs.size() - 2, 2, "/.") == 0);
  if (whole) {
    l.dir = root.Open(l.abs, O_PATH | O_DIRECTORY);
    l.name = ".";
  } else {
    l.dir = root.Open(Parent(l.abs), O_PATH | O_DIRECTORY);
    l.name = Base(l.abs);
  }
  if (::fstatat(l.dir.get(), l.name.c_str(), &l.st, AT_SYMLINK_NOFOLLOW) != 0)
    throw PathError(errno, l.abs, "lstat");
  return l;
}

std::string StatHeader(const Root& root, const Located& l) {
  std::string link;
  if (S_ISLNK(l.st.st_mode)) link = root.Resolve(CleanAbs(l.abs), true);
  auto mtime = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(l.st.st_mtim.tv_sec) +
          std::chrono::nanoseconds(l.st.st_mtim.tv_nsec)));
  json j = {{"name", Base(l.abs)},
            {"size", static_cast<int64_t>(l.st.st_size)},
            {"mode", GoMode(l.st.st_mode)},
            {"mtime", Rfc3339Nano(mtime)},
            {"linkTarget", link}};
  return Base64(j.dump());
}

// ---- GET: the tar writer -------------------------------------------------------------------

struct ClientGone {};

class TarWriter {
 public:
  explicit TarWriter(Response& res) : res_(res), a_(archive_write_new()) {
    if (!a_) throw HttpError(500, "libarchive: out of memory");
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_in_last_block(a_, 1);
    if (archive_write_open(a_, this, nullptr, &TarWriter::OnWrite, nullptr) != ARCHIVE_OK)
      throw HttpError(500, std::string("libarchive: ") + archive_error_string(a_));
  }
  ~TarWriter() { archive_write_free(a_); }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Adds the entry `name` of directory fd `dir` as tar name `tarname` (a directory with its tree).
  void Add(int dir, const std::string& name, const struct stat& st, const std::string& tarname) {
    archive_entry* e = archive_entry_new();
    struct Free {
      archive_entry* e;
      ~Free() { archive_entry_free(e); }
    } free_entry{e};
    archive_entry_copy_stat(e, &st);
    archive_entry_set_uname(e, "");
    archive_entry_set_gname(e, "");
    std::string tn = tarname;
    Fd file;
    if (S_ISDIR(st.st_mode)) {
      if (tn.empty() || tn.back() != '/') tn += "/";
      archive_entry_set_size(e, 0);
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      ssize_t n = ::readlinkat(dir, name.c_str(), target.data(), target.size());
      if (n < 0) throw PathError(errno, tarname, "readlink");
      target.resize(static_cast<size_t>(n));
      archive_entry_copy_symlink(e, target.c_str());
      archive_entry_set_size(e, 0);
    } else if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        auto it = links_.find(key);
        if (it != links_.end()) {
          archive_entry_copy_hardlink(e, it->second.c_str());
          archive_entry_set_size(e, 0);
        } else {
          links_[key] = tn;
        }
      }
      if (archive_entry_size(e) > 0) {
        file = Fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (file.get() < 0) throw PathError(errno, tarname, "open");
      }
    } else if (S_ISSOCK(st.st_mode)) {
      return;  // tar has no sockets (docker skips them too)
    } else {
      archive_entry_set_size(e, 0);
    }
    archive_entry_copy_pathname(e, tn.c_str());
    Check(archive_write_header(a_, e), tn);
    if (file.get() >= 0) {
      std::string buf(256 * 1024, '\0');
      int64_t left = st.st_size;
      while (left > 0) {
        ssize_t n = ::read(file.get(), buf.data(),
                           static_cast<size_t>(std::min<int64_t>(left, buf.size())));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw PathError(errno, tarname, "read");
        if (n == 0) break;  // shrank meanwhile: libarchive pads the entry
        if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0)
          Check(ARCHIVE_FATAL, tn);
        left -= n;
      }
    }
    Check(archive_write_finish_entry(a_), tn);
    if (S_ISDIR(st.st_mode)) {
      Fd d(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (d.get() < 0) throw PathError(errno, tarname, "open");
      for (const auto& child : List(d.get(), tarname)) {
        struct stat cst {};
        if (::fstatat(d.get(), child.c_str(), &cst, AT_SYMLINK_NOFOLLOW) != 0) {
          if (errno == ENOENT) continue;  // removed meanwhile
          throw PathError(errno, tarname + "/" + child, "lstat");
        }
        std::string prefix = tn;  // ends with "/"
        Add(d.get(), child, cst, prefix + child);
      }
    }
  }

  void Finish() {
    Check(archive_write_close(a_), "the end of the archive");
    Flush();
  }

 private:
  static std::vector<std::string> List(int dirfd, const std::string& what) {
    int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) throw PathError(errno, what, "open");
    DIR* d = ::fdopendir(dup);
    if (!d) {
      int err = errno;
      ::close(dup);
      throw PathError(err, what, "opendir");
    }
    std::vector<std::string> names;
    while (dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  void Check(int r, const std::string& what) {
    if (gone_) throw ClientGone{};
    if (r < ARCHIVE_WARN)
      throw HttpError(500, "writing " + what + " to the archive: " +
                               (archive_error_string(a_) ? archive_error_string(a_) : "failed"));
  }

  static la_ssize_t OnWrite(struct archive*, void* self, const void* buf, size_t n) {
    auto* w = static_cast<TarWriter*>(self);
    w->buf_.append(static_cast<const char*>(buf), n);
    if (w->buf_.size() >= (1u << 20)) w->Flush();
    return w->gone_ ? -1 : static_cast<la_ssize_t>(n);
  }

  void Flush() {
    if (buf_.empty() || gone_) return;
    if (!res_.Write(buf_)) gone_ = true;
    buf_.clear();
  }

  Response& res_;
  archive* a_;
  std::string buf_;
  bool gone_ = false;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

// ---- PUT: extraction -----------------------------------------------------------------------

// Removes name (a tree when a directory) from directory fd dir, never following symlinks.
void RemoveAll(int dir, const std::string& name, const std::string& what) {
  if (::unlinkat(dir, name.c_str(), 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR && errno != EPERM) throw PathError(errno, what, "remove");
  Fd d(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (d.get() < 0) throw PathError(errno, what, "open");
  int dup = ::openat(d.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* dd = dup >= 0 ? ::fdopendir(dup) : nullptr;
  if (!dd) {
    if (dup >= 0) ::close(dup);
    throw PathError(errno, what, "opendir");
  }
  std::vector<std::string> names;
  while (dirent* de = ::readdir(dd)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(dd);
  for (const auto& n : names) RemoveAll(d.get(), n, what + "/" + n);
  if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    throw PathError(errno, what, "remove");
}

// An entry's name relative to the destination: "./a/b" -> "a/b", "./" -> ""; refuses absolute
// names and ".." components (400 naming the entry).
std::string EntryName(const char* raw, const char* what) {
  std::string n = raw ? raw : "";
  if (!n.empty() && n[0] == '/')
    throw HttpError(400, std::string("the archive's ") + what + " \"" + n +
                             "\" is an absolute path: entries must be relative to the "
                             "destination directory");
  std::string out;
  for (const auto& c : Components(n)) {
    if (c == ".") continue;
    if (c == "..")
      throw HttpError(400, std::string("the archive's ") + what + " \"" + n +
                               "\" has a \"..\" component that could leave the destination "
                               "directory: refused");
    out += (out.empty() ? "" : "/") + c;
  }
  return out;
}

struct ExtractOptions {
  bool no_overwrite_dir_non_dir = false;
  bool copy_uid_gid = false;
};

void Extract(const Root& root, const std::string& dest, const std::string& body,
             const ExtractOptions& opt) {
  archive* a = archive_read_new();
  struct Free {
    archive* a;
    ~Free() { archive_read_free(a); }
  } free_archive{a};
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_empty(a);
  if (archive_read_open_memory(a, body.data(), body.size()) != ARCHIVE_OK)
    throw HttpError(
        400, std::string("the request body is not a tar archive: ") + archive_error_string(a));
  struct DirTimes {
    std::string path;
    struct timespec ts[2];
  };
  std::vector<DirTimes> dir_times;
  auto times_of = [](archive_entry* e, struct timespec ts[2]) {
    ts[0].tv_sec = archive_entry_atime_is_set(e) ? archive_entry_atime(e) : archive_entry_mtime(e);
    ts[0].tv_nsec =
        archive_entry_atime_is_set(e) ? archive_entry_atime_nsec(e) : archive_entry_mtime_nsec(e);
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
  };
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      throw HttpError(400, std::string("reading the archive: ") + archive_error_string(a));
    const std::string name = EntryName(archive_entry_pathname(e), "entry");
    const mode_t type = archive_entry_filetype(e);
    const char* hardlink = archive_entry_hardlink(e);
    const bool is_dir = type == AE_IFDIR && !hardlink;
    uid_t uid = opt.copy_uid_gid ? static_cast<uid_t>(archive_entry_uid(e)) : 0;
    gid_t gid = opt.copy_uid_gid ? static_cast<gid_t>(archive_entry_gid(e)) : 0;
    mode_t perm = archive_entry_perm(e) & 07777;
    struct timespec ts[2];
    times_of(e, ts);
    const std::string cpath = CleanAbs(dest + "/" + name);

    if (name.empty()) {  // "." : the destination itself
      if (!is_dir) throw HttpError(400, "the archive's entry \".\" is not a directory");
      Fd d = root.Open(dest, O_RDONLY | O_DIRECTORY);
      if (::fchown(d.get(), uid, gid) != 0 || ::fchmod(d.get(), perm) != 0)
        throw PathError(errno, dest, "chown/chmod");
      dir_times.push_back({dest, {ts[0], ts[1]}});
      continue;
    }
    Fd parent = MkdirAll(root, Parent(cpath));
    const std::string base = Base(cpath);
    struct stat st {};
    bool exists = ::fstatat(parent.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists) {
      if (opt.no_overwrite_dir_non_dir && S_ISDIR(st.st_mode) && !is_dir)
        throw HttpError(400, "cannot overwrite directory \"" + cpath + "\" with non-directory \"" +
                                 name + "\"");
      if (opt.no_overwrite_dir_non_dir && !S_ISDIR(st.st_mode) && is_dir)
        throw HttpError(400, "cannot overwrite non-directory \"" + cpath + "\" with directory \"" +
                                 name + "\"");
      if (!(S_ISDIR(st.st_mode) && is_dir)) {
        RemoveAll(parent.get(), base, cpath);
        exists = false;
      }
    }
    if (hardlink) {
      std::string tname = EntryName(hardlink, "hard link target");
      std::string tpath = CleanAbs(dest + "/" + tname);
      Fd tparent = root.Open(Parent(tpath), O_PATH | O_DIRECTORY);
      if (::linkat(tparent.get(), Base(tpath).c_str(), parent.get(), base.c_str(), 0) != 0)
        throw PathError(errno, cpath, "hard link to " + tpath + " as");
      continue;  // the inode has its metadata already
    }
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(e);
      if (::symlinkat(target ? target : "", parent.get(), base.c_str()) != 0)
        throw PathError(errno, cpath, "symlink");
      if (::fchownat(parent.get(), base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
        throw PathError(errno, cpath, "chown");
      ::utimensat(parent.get(), base.c_str(), ts, AT_SYMLINK_NOFOLLOW);
      continue;
    }
    Fd obj;
    if (is_dir) {
      if (!exists && ::mkdirat(parent.get(), base.c_str(), 0700) != 0)
        throw PathError(errno, cpath, "mkdir");
      obj =
          Fd(::openat(parent.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (obj.get() < 0) throw PathError(errno, cpath, "open");
      dir_times.push_back({cpath, {ts[0], ts[1]}});
    } else if (type == AE_IFREG) {
      obj = Fd(::openat(parent.get(), base.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (obj.get() < 0) throw PathError(errno, cpath, "create");
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      for (;;) {
        int rr = archive_read_data_block(a, &buf, &size, &offset);
        if (rr == ARCHIVE_EOF) break;
        if (rr < ARCHIVE_WARN)
          throw HttpError(
              400, "reading the archive's entry \"" + name + "\": " + archive_error_string(a));
        const char* p = static_cast<const char*>(buf);
        while (size > 0) {
          ssize_t n = ::pwrite(obj.get(), p, size, offset);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) throw PathError(errno, cpath, "write");
          p += n;
          offset += n;
          size -= static_cast<size_t>(n);
        }
      }
      if (::ftruncate(obj.get(), archive_entry_size(e)) != 0)
        throw PathError(errno, cpath, "truncate");
    } else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
      dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
      if (::mknodat(parent.get(), base.c_str(), type | 0600, dev) != 0)
        throw PathError(errno, cpath, "mknod");
      obj = Fd(::openat(parent.get(), base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (obj.get() < 0) throw PathError(errno, cpath, "open");
    } else {
      throw HttpError(400, "the archive's entry \"" + name + "\" has an unsupported type");
    }
    // Metadata through the fd (a path could be swapped for a symlink meanwhile).
    if (::fchownat(obj.get(), "", uid, gid, AT_EMPTY_PATH) != 0)
      throw PathError(errno, cpath, "chown");
    if (::chmod(ProcFd(obj.get()).c_str(), perm) != 0) throw PathError(errno, cpath, "chmod");
    if (!is_dir) ::utimensat(AT_FDCWD, ProcFd(obj.get()).c_str(), ts, 0);
  }
  // Directory times last (their entries changed them).
  for (auto it = dir_times.rbegin(); it != dir_times.rend(); ++it) {
    try {
      Fd d = root.Open(it->path, O_PATH | O_DIRECTORY | O_NOFOLLOW);
      ::utimensat(AT_FDCWD, ProcFd(d.get()).c_str(), it->ts, 0);
    } catch (const PathError&) {
      // replaced by a later entry: its times are its own
    }
  }
}

// ---- handlers ------------------------------------------------------------------------------

std::string PathParam(const Request& req) {
  if (!req.Has("path") || req.Query("path").empty())
    throw HttpError(400, "the path parameter is required: the path in the container to copy");
  return req.Query("path");
}

void StatOrGet(Engine& engine, Request& req, Response& res) {
  const std::string ref = req.Param("id");
  const std::string path = PathParam(req);
  auto c = engine.containers().Get(ref);
  bool head = req.method == "HEAD";
  WithContainerRoot(engine, c, [&](const Root& root) {
    Located l;
    try {
      l = Locate(root, path);
    } catch (const PathError& e) {
      ThrowPath(e, path, ref);
    }
    std::string stat;
    try {
      stat = StatHeader(root, l);
    } catch (const PathError& e) {
      ThrowPath(e, path, ref);
    }
    if (head) {
      res.Send(200, "", std::string(), {{"X-Docker-Container-Path-Stat", stat}});
      return;
    }
    res.BeginStreamWithHeaders(200, "application/x-tar", {{"X-Docker-Container-Path-Stat", stat}});
    try {
      TarWriter w(res);
      std::string tarname = S_ISDIR(l.st.st_mode) ? Base(l.abs) : l.name;
      if (tarname == "/") tarname = ".";
      w.Add(l.dir.get(), l.name, l.st, tarname);
      w.Finish();
    } catch (const ClientGone&) {
      return;
    } catch (const std::exception& e) {
      // The answer has started: the client sees a truncated archive; say why in the log.
      std::fprintf(stderr, "lcd-engine: docker cp from %s:%s stopped: %s\n", ref.c_str(),
                   path.c_str(), e.what());
      return;
    }
    engine.containers().Publish(*c, "archive-path");
  });
}

void Put(Engine& engine, Request& req, Response& res) {
  const std::string ref = req.Param("id");
  const std::string path = PathParam(req);
  ExtractOptions opt;
  opt.no_overwrite_dir_non_dir = req.QueryBool("noOverwriteDirNonDir", false);
  opt.copy_uid_gid = req.QueryBool("copyUIDGID", false);
  auto c = engine.containers().Get(ref);
  ContainerRecord rec;
  {
    std::lock_guard l(c->mu);
    rec = c->rec;
  }
  WithContainerRoot(engine, c, [&](const Root& root) {
    std::string dest;
    try {
      Fd d = root.Open(AbsPreserving(path), O_PATH);
      struct stat st {};
      if (::fstat(d.get(), &st) != 0) throw PathError(errno, path, "stat");
      if (!S_ISDIR(st.st_mode)) throw HttpError(400, "extraction point is not a directory");
      dest = root.Resolve(CleanAbs(path), true);
    } catch (const PathError& e) {
      ThrowPath(e, path, ref);
    }
    CheckWritable(rec, dest);
    try {
      Extract(root, dest, req.body, opt);
    } catch (const PathError& e) {
      ThrowPath(e, e.path(), ref);
    }
  });
  engine.containers().Publish(*c, "extract-to-dir");
  res.Send(200, "", std::string());
}

}  // namespace

void RegisterArchiveRoutes(Router& router, Engine& engine) {
  // GET serves HEAD too (the router maps it); StatOrGet answers a HEAD with the stat only.
  router.Add("GET", "/containers/{id}/archive",
             [&engine](Request& req, Response& res) { StatOrGet(engine, req, res); });
  router.Add("PUT", "/containers/{id}/archive",
             [&engine](Request& req, Response& res) { Put(engine, req, res); });
}

}  // namespace lcde
