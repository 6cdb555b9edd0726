// Persistent network namespaces (src/net/netns): made on the real kernel, checked with
// nsenter and ip, and removed without a trace. Needs root (CAP_SYS_ADMIN).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "libcontainerd/errors.h"
#include "net/netns.h"
#include "test_util.h"

namespace {
using libcontainerd::Error;
using libcontainerd::ErrorKind;
using namespace libcontainerd::net;
using ::testing::HasSubstr;

// Mount points in /proc/self/mountinfo equal to `path`, and whether the last is shared.
struct MountState {
  int count = 0;
  bool shared = false;
};
MountState MountsAt(const std::string& path) {
  MountState st;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point, opts, field;
    f >> id >> parent >> dev >> root >> point >> opts;
    if (point != path) continue;
    ++st.count;
    st.shared = false;
    while (f >> field && field != "-") st.shared = st.shared || field.rfind("shared:", 0) == 0;
  }
  return st;
}

ino_t Inode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool MountedIn(pid_t pid, const std::string& path) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/mountinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.find(" " + path + " ") != std::string::npos) return true;
  return false;
}

// The kind and message of what f() throws.
template <typename F>
std::pair<ErrorKind, std::string> Failure(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.kind(), e.message()};
  }
  return {lcdtest::kNoError, ""};
}

// A netns directory prepared with PrepareNetnsDir whose mount is undone at the end.
class NetnsDir {
 public:
  NetnsDir() : dir_(scratch_.path() + "/netns") {}
  ~NetnsDir() {
    ::umount2(dir_.c_str(), MNT_DETACH);
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return dir_; }

 private:
  lcdtest::ScratchDir scratch_{"lcd-netns"};
  std::string dir_;
};

TEST(NetNetns, CreateGivesAPersistentNamespaceWithOnlyLoUpAndRemoveLeavesNothing) {
  ASSERT_EQ(::geteuid(), 0u) << "the netns tests need root";
  int fds_before = lcdtest::CountEntries("/proc/self/fd");
  ino_t own_before = Inode("/proc/self/ns/net");
  std::string prepared;
  {
    NetnsDir dir;
    prepared = dir.path();
    PrepareNetnsDir(dir.path());
    PrepareNetnsDir(dir.path());  // idempotent: no second mount stacked on the first
    MountState m = MountsAt(dir.path());
    EXPECT_EQ(m.count, 1);
    EXPECT_TRUE(m.shared) << "the netns directory must have shared propagation";
    struct stat st {};
    ASSERT_EQ(::stat(dir.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);

    const std::string path = dir.path() + "/ns1";
    CreateNetns(path);
    EXPECT_TRUE(IsNetns(path));
    EXPECT_FALSE(IsNetns(dir.path()));
    EXPECT_FALSE(IsNetns("/proc/self/mountinfo"));
    EXPECT_EQ(MountsAt(path).count, 1);
    ino_t ns = Inode(path);
    EXPECT_NE(ns, 0u);
    EXPECT_NE(ns, own_before) << "the namespace must not be the host's";
    EXPECT_EQ(Inode("/proc/self/ns/net"), own_before) << "the caller's namespace changed";
    EXPECT_EQ(Inode("/proc/thread-self/ns/net"), own_before);

    // Inside: only lo, and it is up.
    std::string links = lcdtest::RunCommand(("nsenter --net=" + path + " ip -o link").c_str());
    std::istringstream lines(links);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      ++n;
      EXPECT_THAT(line, HasSubstr(": lo: "));
      EXPECT_THAT(line, HasSubstr(",UP,"));
    }
    EXPECT_EQ(n, 1) << links;

    // Twice: kAlreadyExists, the first one intact.
    auto [kind, msg] = Failure([&] { CreateNetns(path); });
    EXPECT_EQ(kind, ErrorKind::kAlreadyExists) << msg;
    EXPECT_THAT(msg, HasSubstr(path));
    EXPECT_TRUE(IsNetns(path));
    EXPECT_EQ(Inode(path), ns);
    EXPECT_EQ(MountsAt(path).count, 1);

    // Two namespaces are distinct.
    const std::string path2 = dir.path() + "/ns2";
    CreateNetns(path2);
    EXPECT_TRUE(IsNetns(path2));
    EXPECT_NE(Inode(path2), ns);

    RemoveNetns(path);
    EXPECT_FALSE(Exists(path));
    EXPECT_EQ(MountsAt(path).count, 0);
    EXPECT_NO_THROW(RemoveNetns(path));  // twice is fine
    RemoveNetns(path2);
    EXPECT_FALSE(Exists(path2));
    EXPECT_EQ(MountsAt(path2).count, 0);

    // A file left by a setup cut short (never mounted) is removed too.
    const std::string plain = dir.path() + "/plain";
    { std::ofstream(plain) << ""; }
    EXPECT_NO_THROW(RemoveNetns(plain));
    EXPECT_FALSE(Exists(plain));
    EXPECT_EQ(lcdtest::CountEntries(dir.path()), 0);
  }
  EXPECT_EQ(MountsAt(prepared).count, 0) << "the test's own clean-up left the dir mounted";
  EXPECT_EQ(lcdtest::CountEntries("/proc/self/fd"), fds_before) << "fd leaked";
}

TEST(NetNetns, FailedCreateLeavesNoFile) {
  ASSERT_EQ(::geteuid(), 0u) << "the netns tests need root";
  int fds_before = lcdtest::CountEntries("/proc/self/fd");
  NetnsDir dir;
  PrepareNetnsDir(dir.path());

  // Without CAP_SYS_ADMIN unshare fails after the file was made. Capabilities are per thread
  // (raw capset), and the thread CreateNetns starts inherits this one's.
  const std::string path = dir.path() + "/nocap";
  std::pair<ErrorKind, std::string> result;
  std::thread t([&] {
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    ASSERT_EQ(::syscall(SYS_capget, &h, d), 0);
    d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
    ASSERT_EQ(::syscall(SYS_capset, &h, d), 0);
    result = Failure([&] { CreateNetns(path); });
  });
  t.join();
  EXPECT_EQ(result.first, ErrorKind::kFailedPrecondition) << result.second;
  EXPECT_THAT(result.second, HasSubstr("unshare"));
  EXPECT_THAT(result.second, HasSubstr("CAP_SYS_ADMIN"));
  EXPECT_FALSE(Exists(path));
  EXPECT_EQ(MountsAt(path).count, 0);

  // A directory that does not exist: an error naming the path, nothing made.
  const std::string missing = dir.path() + "/no/such/dir/ns";
  auto [kind, msg] = Failure([&] { CreateNetns(missing); });
  EXPECT_EQ(kind, ErrorKind::kUnknown) << msg;
  EXPECT_THAT(msg, HasSubstr(missing));
  EXPECT_EQ(lcdtest::CountEntries(dir.path()), 0);

  // This thread's own capabilities are untouched: creating still works.
  CreateNetns(dir.path() + "/ok");
  RemoveNetns(dir.path() + "/ok");
  EXPECT_EQ(lcdtest::CountEntries(dir.path()), 0);
  EXPECT_EQ(lcdtest::CountEntries("/proc/self/fd"), fds_before) << "fd leaked";
}

TEST(NetNetns, RemoveUnmountsTheCopyInAnotherMountNamespace) {
  // A container's or shim's mount namespace copies the netns mount (runc makes its root rslave):
  // the directory's shared propagation carries the unmount there too, so the namespace dies.
  ASSERT_EQ(::geteuid(), 0u) << "the netns tests need root";
  NetnsDir dir;
  PrepareNetnsDir(dir.path());
  const std::string path = dir.path() + "/ns1";
  CreateNetns(path);
  std::string mnt = "/proc/self/ns/mnt";
  const char* argv[] = {"unshare", "--mount", "--propagation", "slave", "sleep", "600", nullptr};
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawnp(&pid, "unshare", nullptr, nullptr, const_cast<char**>(argv), environ),
            0);
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{pid};
  std::string other_mnt = "/proc/" + std::to_string(pid) + "/ns/mnt";
  ASSERT_TRUE(
      lcdtest::Eventually([&] { return Inode(other_mnt) != Inode(mnt) && MountedIn(pid, path); },
                          lcdtest::Scaled(std::chrono::seconds(10))))
      << "the other mount namespace never showed the netns mount";
  RemoveNetns(path);
  EXPECT_TRUE(lcdtest::Eventually([&] { return !MountedIn(pid, path); },
                                  lcdtest::Scaled(std::chrono::seconds(5))))
      << "the netns mount is still held in the other mount namespace";
}

}  // namespace
