#include "net/netns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>

#include "cio/fifo.h"
#include "libcontainerd/errors.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

namespace libcontainerd::net {
namespace {

ErrorKind KindOfErrno(int err) {
  return err == EPERM || err == EACCES ? ErrorKind::kFailedPrecondition : ErrorKind::kUnknown;
}

// Runs on a thread of its own that exits afterwards: unshare(CLONE_NEWNET) moves only the
// calling thread into the new namespace, and that thread never runs anything else, so no other
// code of the process (gRPC's threads, the caller) ever sees it. Chosen over fork(): forking a
// large multi-threaded process copies its page tables and runs every library's atfork handlers
// (gRPC registers some), and the child could only make async-signal-safe calls; a thread costs
// tens of microseconds and may use the ordinary library. Returns the errno and names the step.
int MakeNamespace(const std::string& path, const char*& step) {
  step = "unshare(CLONE_NEWNET)";
  if (::unshare(CLONE_NEWNET) != 0) return errno;
  // `lo` up first, so that once the bind mount exists nothing can fail any more.
  step = "bring lo up";
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return errno;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  int err = 0;
  if (::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) {
    err = errno;
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) err = errno;
  }
  ::close(sock);
  if (err) return err;
  // /proc/thread-self: this thread's namespace (/proc/self would be the main thread's).
  step = "bind-mount the namespace";
  if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return errno;
  return 0;
}

}  // namespace

namespace {
std::mutex& DirMutex() {
  static std::mutex mu;  // two first calls at once must not stack two bind mounts
  return mu;
}

void PrepareNetnsDirLocked(const std::string& dir) {
  cio::MakePrivateDirs(dir);
  // As `ip netns` does for /run/netns: making a directory shared only works on a mount point
  // (EINVAL otherwise), so bind-mount it on itself first and try again.
  if (::mount("", dir.c_str(), nullptr, MS_SHARED | MS_REC, nullptr) == 0) return;
  if (errno != EINVAL)
    ThrowErrno(KindOfErrno(errno), errno, "make " + dir + " a shared mount", {.path = dir});
  if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    ThrowErrno(KindOfErrno(errno), errno, "bind-mount " + dir + " on itself", {.path = dir});
  if (::mount("", dir.c_str(), nullptr, MS_SHARED | MS_REC, nullptr) != 0) {
    int err = errno;
    ::umount2(dir.c_str(), MNT_DETACH);
    ThrowErrno(KindOfErrno(err), err, "make " + dir + " a shared mount", {.path = dir});
  }
}
}  // namespace

void PrepareNetnsDir(const std::string& dir) {
  std::lock_guard lock(DirMutex());
  PrepareNetnsDirLocked(dir);
}

void CreateNetnsIn(const std::string& dir, const std::string& path) {
  std::lock_guard lock(DirMutex());
  PrepareNetnsDirLocked(dir);
  CreateNetns(path);
}

void ReleaseNetnsDir(const std::string& dir) {
  std::lock_guard lock(DirMutex());
  std::error_code ec;
  if (!std::filesystem::is_empty(dir, ec) || ec) return;
  // EINVAL: not a mount point (released already, or never prepared).
  ::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
}

void CreateNetns(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST)
      throw Error(ErrorKind::kAlreadyExists, "network namespace file " + path + " exists already",
                  {.path = path, .sys_errno = err});
    ThrowErrno(KindOfErrno(err), err, "create network namespace file " + path, {.path = path});
  }
  ::close(fd);
  int err = 0;
  const char* step = "";
  try {
    std::thread t([&] { err = MakeNamespace(path, step); });
    t.join();
  } catch (const std::system_error& e) {
    err = e.code().value();
    step = "start a thread";
  }
  if (err) {
    ::unlink(path.c_str());
    std::string hint = err == EPERM ? " (needs CAP_SYS_ADMIN: run as root)" : "";
    ThrowErrno(KindOfErrno(err), err, "create network namespace " + path + ": " + step + hint,
               {.path = path});
  }
}

void RemoveNetns(const std::string& path) {
  // EINVAL: not a mount point (a file left by a setup cut short); ENOENT: gone already.
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    ThrowErrno(KindOfErrno(errno), errno, "unmount network namespace " + path, {.path = path});
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    ThrowErrno(KindOfErrno(errno), errno, "remove network namespace file " + path, {.path = path});
}

bool IsNetns(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == NSFS_MAGIC;
}

}  // namespace libcontainerd::net
