#include "cio/fifo.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <random>
#include <utility>

#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"

namespace libcontainerd::cio {
namespace fs = std::filesystem;

void MakePrivateDirs(const std::string& dir) {
  if (dir.empty() || dir[0] != '/')
    throw Error(ErrorKind::kInvalidArgument, "state directory must be an absolute path",
                {.path = dir});
  std::string cur;
  size_t pos = 1;
  int restarts = 0;
  while (pos <= dir.size()) {
    size_t next = dir.find('/', pos);
    if (next == std::string::npos) next = dir.size();
    cur = dir.substr(0, next);
    pos = next + 1;
    if (cur.empty() || cur == "/") continue;
    if (::mkdir(cur.c_str(), 0700) == 0) continue;
    int err = errno;
    // ENOENT: a parent made (or found) a moment ago was removed meanwhile, e.g. the namespace
    // directory as another container's last one went (RemoveContainerStateDir): start again.
    if (err == ENOENT && restarts++ < 5) {
      pos = 1;
      continue;
    }
    if (err != EEXIST)
      ThrowErrno(ErrorKind::kUnknown, err, "create directory " + cur, {.path = cur});
    struct stat st {};
    if (::lstat(cur.c_str(), &st) != 0)
      ThrowErrno(ErrorKind::kUnknown, errno, "stat " + cur, {.path = cur});
    // Parents above the state dir may be symlinks (e.g. /var/run); the dirs we own may not.
    if (S_ISLNK(st.st_mode) && next == dir.size())
      throw Error(ErrorKind::kFailedPrecondition, cur + " is a symlink; refusing to use it",
                  {.path = cur});
  }
}

namespace {
std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<uint64_t>(::getpid())
                                                                       << 32};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string s(10, '0');
  for (auto& c : s) {
    c = kHex[v & 0xf];
    v >>= 4;
  }
  return s;
}

UniqueFd OpenFifo(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) ThrowErrno(ErrorKind::kUnknown, errno, "open fifo " + path, {.path = path});
  return UniqueFd(fd);
}
}  // namespace

FifoSet& FifoSet::operator=(FifoSet&& o) noexcept {
  if (this != &o) {
    Reset();
    dir_ = std::move(o.dir_);
    io_ = std::move(o.io_);
    o.dir_.clear();
  }
  return *this;
}

std::string FifoSet::Release() noexcept {
  io_.reset();
  return std::exchange(dir_, std::string());
}

void FifoSet::Reset() noexcept {
  if (auto io = std::move(io_)) {
    try {
      io->Close();
    } catch (const std::exception& e) {
      Log(LogLevel::kWarning, std::string("closing a FIFO set failed: ") + e.what());
    }
  }
  RemoveFifoDir(std::exchange(dir_, std::string()));
}

FifoSet CreateFifoSet(const std::string& parent, const std::string& name, bool with_stdin,
                      bool terminal) {
  MakePrivateDirs(parent);
  std::string dir;
  for (int attempt = 0;; ++attempt) {
    dir = parent + "/" + name + "-" + RandomSuffix();
    if (::mkdir(dir.c_str(), 0700) == 0) break;
    const int err = errno;
    // ENOENT: the namespace directory was removed under us as another container's last one
    // went (RemoveContainerStateDir): make the parents again.
    if (err == ENOENT && attempt <= 5) {
      MakePrivateDirs(parent);
      continue;
    }
    if (err != EEXIST || attempt > 5)
      ThrowErrno(ErrorKind::kUnknown, err, "create fifo directory", {.path = dir});
  }
  FifoSet owner(dir, nullptr);  // removes the directory if anything below fails
  FifoConfig cfg;
  cfg.terminal = terminal;
  auto make = [&](const char* file) {
    std::string p = dir + "/" + file;
    if (::mkfifo(p.c_str(), 0700) != 0)
      ThrowErrno(ErrorKind::kUnknown, errno, "mkfifo", {.path = p});
    return p;
  };
  if (with_stdin) cfg.stdin_path = make("stdin");
  cfg.stdout_path = make("stdout");
  if (!terminal) cfg.stderr_path = make("stderr");
  // Our ends first: the shim blocks opening stdout/stderr for writing until a reader exists.
  UniqueFd out = OpenFifo(cfg.stdout_path, O_RDONLY | O_NONBLOCK);
  UniqueFd err = terminal ? UniqueFd() : OpenFifo(cfg.stderr_path, O_RDONLY | O_NONBLOCK);
  UniqueFd in = with_stdin ? OpenFifo(cfg.stdin_path, O_RDWR) : UniqueFd();
  auto io =
      std::make_shared<DirectIO>(std::move(cfg), std::move(in), std::move(out), std::move(err));
  return FifoSet(owner.Release(), std::move(io));
}

NewFifos CreateFifos(const std::string& parent, const std::string& name, bool with_stdin,
                     bool terminal) {
  FifoSet set = CreateFifoSet(parent, name, with_stdin, terminal);
  NewFifos out{.dir = set.dir(), .io = set.io()};
  set.Release();
  return out;
}

std::shared_ptr<DirectIO> OpenFifos(const FifoConfig& config) {
  UniqueFd out =
      config.stdout_path.empty() ? UniqueFd() : OpenFifo(config.stdout_path, O_RDONLY | O_NONBLOCK);
  UniqueFd err =
      config.stderr_path.empty() ? UniqueFd() : OpenFifo(config.stderr_path, O_RDONLY | O_NONBLOCK);
  UniqueFd in = config.stdin_path.empty() ? UniqueFd() : OpenFifo(config.stdin_path, O_RDWR);
  return std::make_shared<DirectIO>(config, std::move(in), std::move(out), std::move(err));
}

void CloseProcessIO(std::shared_ptr<IO> io, std::shared_ptr<DirectIO> fifos,
                    const std::string& dir) noexcept {
  try {
    if (io) {
      io->Cancel();
      io->Close();
    }
    if (fifos) fifos->Close();
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, std::string("closing process IO failed: ") + e.what());
  }
  RemoveFifoDir(dir);
}

void RemoveFifoDir(const std::string& dir) noexcept {
  if (dir.empty()) return;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

namespace {
// rmdir that only removes an empty directory; "not empty" and "gone" are not errors.
void RemoveIfEmpty(const std::string& dir) noexcept {
  if (::rmdir(dir.c_str()) == 0) return;
  const int err = errno;
  if (err != ENOTEMPTY && err != EEXIST && err != ENOENT)
    Log(LogLevel::kDebug, "state directory " + dir + " left: " + std::strerror(err));
}

bool IsFifoDirName(const std::string& name) {
  // <name>-<10 hex>, as CreateFifos makes them.
  if (name.size() < 12 || name[name.size() - 11] != '-') return false;
  for (size_t i = name.size() - 10; i < name.size(); ++i) {
    const char c = name[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Whether `dir` looks like a container directory the library made, and when it (or one of its
// FIFO directories) last changed. Empty when it is something else.
std::optional<time_t> LibraryContainerDir(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
    return std::nullopt;
  time_t newest = st.st_mtime;
  std::error_code ec;
  for (const auto& sub : fs::directory_iterator(dir, ec)) {
    const std::string sub_path = sub.path().string();
    struct stat sst {};
    if (!IsFifoDirName(sub.path().filename().string()) || ::lstat(sub_path.c_str(), &sst) != 0 ||
        !S_ISDIR(sst.st_mode) || sst.st_uid != ::geteuid())
      return std::nullopt;
    newest = std::max(newest, sst.st_mtime);
    std::error_code fec;
    for (const auto& f : fs::directory_iterator(sub.path(), fec)) {
      const std::string fname = f.path().filename().string();
      struct stat fst {};
      if ((fname != "stdin" && fname != "stdout" && fname != "stderr") ||
          ::lstat(f.path().c_str(), &fst) != 0 || !S_ISFIFO(fst.st_mode))
        return std::nullopt;
    }
    if (fec) return std::nullopt;
  }
  if (ec) return std::nullopt;
  return newest;
}
}  // namespace

void RemoveContainerStateDir(const std::string& ns_dir, const std::string& id) noexcept {
  if (ns_dir.empty() || id.empty()) return;
  RemoveFifoDir(ns_dir + "/" + id);
  RemoveIfEmpty(ns_dir);
}

std::vector<std::string> ReconcileStateDir(const std::string& ns_dir,
                                           const std::set<std::string>& existing,
                                           std::chrono::seconds grace) noexcept {
  std::vector<std::string> removed;
  try {
    struct stat st {};
    if (::lstat(ns_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return removed;
    std::error_code ec;
    std::vector<std::string> ids;
    for (const auto& e : fs::directory_iterator(ns_dir, ec))
      ids.push_back(e.path().filename().string());
    if (ec) {
      Log(LogLevel::kWarning, "state directory " + ns_dir + " not reconciled: " + ec.message());
      return removed;
    }
    const time_t now = ::time(nullptr);
    for (const auto& id : ids) {
      if (existing.count(id)) continue;
      const std::string dir = ns_dir + "/" + id;
      auto changed = LibraryContainerDir(dir);
      if (!changed) continue;                                              // not ours to remove
      if (now - *changed <= static_cast<time_t>(grace.count())) continue;  // maybe being made
      std::error_code rec;
      fs::remove_all(dir, rec);
      if (rec)
        Log(LogLevel::kWarning,
            "state directory " + dir + " of a deleted container left: " + rec.message());
      else
        removed.push_back(id);
    }
    RemoveIfEmpty(ns_dir);
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, "state directory " + ns_dir + " not reconciled: " + e.what());
  }
  return removed;
}

}  // namespace libcontainerd::cio
