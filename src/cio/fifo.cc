#include "cio/fifo.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>

#include "libcontainerd/errors.h"

namespace libcontainerd::cio {
namespace fs = std::filesystem;

void MakePrivateDirs(const std::string& dir) {
  if (dir.empty() || dir[0] != '/')
    throw Error(ErrorKind::kInvalidArgument, "state directory must be an absolute path",
                {.path = dir});
  std::string cur;
  size_t pos = 1;
  while (pos <= dir.size()) {
    size_t next = dir.find('/', pos);
    if (next == std::string::npos) next = dir.size();
    cur = dir.substr(0, next);
    pos = next + 1;
    if (cur.empty() || cur == "/") continue;
    if (::mkdir(cur.c_str(), 0700) == 0) continue;
    int err = errno;
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

NewFifos CreateFifos(const std::string& parent, const std::string& name, bool with_stdin,
                     bool terminal) {
  MakePrivateDirs(parent);
  std::string dir;
  for (int attempt = 0;; ++attempt) {
    dir = parent + "/" + name + "-" + RandomSuffix();
    if (::mkdir(dir.c_str(), 0700) == 0) break;
    if (errno != EEXIST || attempt > 5)
      ThrowErrno(ErrorKind::kUnknown, errno, "create fifo directory", {.path = dir});
  }
  try {
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
    return {dir, std::make_shared<DirectIO>(std::move(cfg), std::move(in), std::move(out),
                                            std::move(err))};
  } catch (...) {
    RemoveFifoDir(dir);
    throw;
  }
}

std::shared_ptr<DirectIO> OpenFifos(const FifoConfig& config) {
  UniqueFd out =
      config.stdout_path.empty() ? UniqueFd() : OpenFifo(config.stdout_path, O_RDONLY | O_NONBLOCK);
  UniqueFd err =
      config.stderr_path.empty() ? UniqueFd() : OpenFifo(config.stderr_path, O_RDONLY | O_NONBLOCK);
  UniqueFd in = config.stdin_path.empty() ? UniqueFd() : OpenFifo(config.stdin_path, O_RDWR);
  return std::make_shared<DirectIO>(config, std::move(in), std::move(out), std::move(err));
}

void RemoveFifoDir(const std::string& dir) noexcept {
  if (dir.empty()) return;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace libcontainerd::cio
