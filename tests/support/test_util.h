// Small helpers shared by the test tiers: error kinds of a call, polling, /proc counts, and
// the cleanup of a client's containers.
#pragma once

#include <dirent.h>
#include <ftw.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "libcontainerd/client.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/supervisor.h"

namespace lcdtest {

// What KindOf returns when the call did not throw.
inline constexpr auto kNoError = static_cast<libcontainerd::ErrorKind>(-1);

// The kind of the Error f() throws, or kNoError.
template <typename F>
libcontainerd::ErrorKind KindOf(F&& f) {
  try {
    f();
  } catch (const libcontainerd::Error& e) {
    return e.kind();
  }
  return kNoError;
}

// Expects `stmt` to throw a libcontainerd::Error of `kind` (EXPECT_THROW(stmt, Error) would
// pass for any kind).
#define EXPECT_ERROR_KIND(stmt, kind) \
  EXPECT_EQ(::lcdtest::KindOf([&] { stmt; }), (kind)) << "of: " #stmt

// The kinds a caller retries while the daemon restarts.
inline bool Retryable(libcontainerd::ErrorKind k) {
  using libcontainerd::ErrorKind;
  return k == ErrorKind::kUnavailable || k == ErrorKind::kDeadlineExceeded ||
         k == ErrorKind::kCancelled;
}

// The factor test wall-clock bounds and sleeps are multiplied by: LCD_TEST_TIME_SCALE (default
// 1; the tsan test preset sets it, as instrumented code runs several times slower).
inline double TimeScale() {
  const char* v = std::getenv("LCD_TEST_TIME_SCALE");
  double f = v ? std::atof(v) : 1.0;
  return f >= 1.0 ? f : 1.0;
}
inline std::chrono::milliseconds Scaled(std::chrono::milliseconds d) {
  return std::chrono::milliseconds(
      static_cast<long long>(static_cast<double>(d.count()) * TimeScale()));
}
// Seconds for a shell `sleep` in a test's command, scaled.
inline std::string ScaledSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s * TimeScale());
  return buf;
}

// Polls pred every 20 ms until it holds or timeout passes; its last answer.
template <typename P>
bool Eventually(P pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// ReadUntilDone reads fd into `got` until done(got) holds or timeout passes (EOF ends it too);
// done's last answer. A handshake with a child's output, instead of sleeping.
template <typename D>
bool ReadUntilDone(int fd, D done, std::string& got, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!done(got)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return done(got);
    got.append(buf, static_cast<size_t>(n));
  }
  return true;
}
inline bool ReadUntil(int fd, const std::string& what, std::string& got,
                      std::chrono::milliseconds timeout) {
  return ReadUntilDone(
      fd, [&](const std::string& g) { return g.find(what) != std::string::npos; }, got, timeout);
}

// The process is gone or a zombie.
inline bool Gone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  return s.empty() || close == std::string::npos || s.substr(close + 2, 1) == "Z";
}

// Entries of a directory, without the dot entries.
inline int CountEntries(const std::string& dir) {
  int n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// Removes a directory tree, depth first, not following links (tear-down of a private root).
inline void RemoveTree(const std::string& root) {
  nftw(
      root.c_str(),
      [](const char* p, const struct stat*, int flag, struct FTW*) {
        flag == FTW_DP ? rmdir(p) : unlink(p);
        return 0;
      },
      16, FTW_DEPTH | FTW_PHYS);
}

// The stdout of a fixed shell command (the test's own text, never user input).
inline std::string RunCommand(const char* cmd) {
  std::array<char, 256> buf{};
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd, "r"), pclose);
  while (p && fgets(buf.data(), buf.size(), p.get())) out += buf.data();
  return out;
}

// The machine mounts the unified cgroup v2 hierarchy at /sys/fs/cgroup (else v1 or hybrid,
// where containerd uses v1).
inline bool CgroupV2() {
  struct statfs s {};
  return ::statfs("/sys/fs/cgroup", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
}

// The cgroup file of a container the library made (cgroupsPath "/<ns>/<id>", cgroupfs driver):
// v2 `/sys/fs/cgroup/<ns>/<id>/<v2_file>`, v1 `/sys/fs/cgroup/<controller>/<ns>/<id>/<v1_file>`.
inline std::string ContainerCgroupFile(const std::string& ns, const std::string& id,
                                       const std::string& controller, const std::string& v1_file,
                                       const std::string& v2_file) {
  return CgroupV2() ? "/sys/fs/cgroup/" + ns + "/" + id + "/" + v2_file
                    : "/sys/fs/cgroup/" + controller + "/" + ns + "/" + id + "/" + v1_file;
}

inline int ThreadCount() { return CountEntries("/proc/self/task"); }

// This process's resident set (VmRSS), kB; -1 when it cannot be read.
inline long RssKb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// Force-deletes every task and deletes every container the client lists (test tear-down);
// returns the first failure's text, empty when all went.
inline std::string DeleteAllContainers(libcontainerd::Client& client) {
  using namespace libcontainerd;
  try {
    for (const auto& id : client.ListContainers(Context())) {
      auto c = client.LoadContainer(Context(), id);
      try {
        c->GetTask(Context())->ForceDelete(Context());
      } catch (const Error&) {
      }
      c->Delete(Context());
    }
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

// Tear-down of a test that runs its own daemon: deletes the client's containers, drops the
// client, stops the daemon and removes its root. Returns the cleanup failure, if any.
inline std::string TearDownPrivateDaemon(std::shared_ptr<libcontainerd::Client>& client,
                                         std::unique_ptr<libcontainerd::Supervisor>& sup,
                                         const std::string& root) {
  std::string err = client ? DeleteAllContainers(*client) : std::string();
  client.reset();
  if (sup) sup->Stop();
  sup.reset();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return err;
}

// A private directory /tmp/<prefix>-XXXXXX (mode 0700), removed with its content at the end.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "lcd-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + " failed");
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A file's whole content ("" when it cannot be read).
inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace lcdtest
