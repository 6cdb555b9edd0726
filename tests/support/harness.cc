#include "harness.h"

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "libcontainerd/rootfs.h"
#include "libcontainerd/supervisor.h"

namespace lcdtest {

const std::string& Rootfs() {
  static std::once_flag once;
  static std::string path = LCD_TEST_ROOTFS;
  std::call_once(once, [] { libcontainerd::BuildBusyboxRootfs(path); });
  return path;
}

std::string DaemonRoot() {
  const char* env = std::getenv("LCD_TEST_ROOT");
  return env && *env ? env : LCD_TEST_ROOT;
}

// The fixture's daemon is a Supervisor on DaemonRoot() (tests/fixture/lcd_test_daemon.cc).
std::string DaemonAddress() { return libcontainerd::Supervisor::AddressFor(DaemonRoot()); }
std::string RuncRoot() { return libcontainerd::Supervisor::RuncRootFor(DaemonRoot()); }
std::string ClientStateDir() { return DaemonRoot() + "/clients/" + std::to_string(getpid()); }

std::string UniqueId(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

int OpenFdCount() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    --n;  // the DIR's own fd
  }
  return n;
}

}  // namespace lcdtest
