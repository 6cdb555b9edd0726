#include "libcontainerd/rootfs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "libcontainerd/errors.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace libcontainerd;

namespace {
std::string Slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("lcd-rootfs-test-" + std::to_string(getpid()));
  ~TempDir() { fs::remove_all(path); }
};
}  // namespace

TEST(BusyboxRootfs, HasAppletsDirectoriesAndUsers) {
  TempDir t;
  fs::path dir = t.path / "busybox";
  BuildBusyboxRootfs(dir.string());
  EXPECT_TRUE(fs::is_regular_file(dir / "bin/busybox"));
  EXPECT_EQ(fs::read_symlink(dir / "bin/sh"), "busybox");
  EXPECT_TRUE(fs::is_symlink(dir / "bin/cat"));
  for (const char* d : {"proc", "sys", "dev", "tmp", "etc"})
    EXPECT_TRUE(fs::is_directory(dir / d)) << d;
  EXPECT_NE(Slurp(dir / "etc/passwd").find("nobody:x:65534:65534:"), std::string::npos);
  EXPECT_NE(Slurp(dir / "etc/group").find("root:x:0:"), std::string::npos);
  // The applet runs: the binary is static, so it works from the rootfs as-is.
  std::string cmd = (dir / "bin/busybox").string() + " true";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST(BusyboxRootfs, SecondBuildIsANoOp) {
  TempDir t;
  fs::path dir = t.path / "busybox";
  BuildBusyboxRootfs(dir.string());
  struct stat before {};
  ASSERT_EQ(stat((dir / "bin").c_str(), &before), 0);
  std::ofstream(dir / "etc/touched") << "x";
  BuildBusyboxRootfs(dir.string());
  EXPECT_TRUE(fs::exists(dir / "etc/touched")) << "an up-to-date rootfs was rebuilt";
}

TEST(BusyboxRootfs, MissingBusyboxIsNotFoundAndLeavesNothing) {
  TempDir t;
  fs::path dir = t.path / "busybox";
  try {
    BuildBusyboxRootfs(dir.string(), {.busybox = "/nonexistent/busybox"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("busybox-static"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(dir));
}

TEST(BusyboxRootfs, RelativeDirIsInvalid) {
  EXPECT_ERROR_KIND(BuildBusyboxRootfs("relative/dir"), ErrorKind::kInvalidArgument);
}
