// A container from DefaultSpec + options, run by the real runc (a bundle and `runc run`, no
// containerd): what the options say is what the process sees from inside.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "harness.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/spec.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace libcontainerd::oci;

namespace {

struct RunResult {
  int status = -1;
  std::string output;
};

RunResult Shell(const std::string& cmd) {
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  r.status = ::pclose(p);
  return r;
}

// Per process: the tests run in parallel, and each Bundle removes the parent when it goes.
const std::string kCgroupParent = "lcd-oci-test-" + std::to_string(::getpid());

// A bundle directory and a private runc root; the container is force-deleted on exit.
struct Bundle {
  fs::path dir;
  fs::path runc_root;
  std::string id;
  explicit Bundle(const std::string& prefix) : id(lcdtest::UniqueId(prefix)) {
    dir = fs::temp_directory_path() / ("lcd-oci-bundle-" + id);
    runc_root = fs::temp_directory_path() / ("lcd-oci-runc-" + id);
    fs::create_directories(dir);
    fs::create_directories(runc_root);
  }
  ~Bundle() {
    std::string cmd = "runc --root " + runc_root.string() + " delete -f " + id + " >/dev/null 2>&1";
    [[maybe_unused]] int rc = std::system(cmd.c_str());
    fs::remove_all(dir);
    fs::remove_all(runc_root);
    // runc removed the container's cgroups; remove the (now empty) parent of our namespace.
    std::error_code ec;
    for (const auto& c : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      ::rmdir((c.path() / kCgroupParent).c_str());  // v1: one per controller
    }
    ::rmdir((fs::path("/sys/fs/cgroup") / kCgroupParent).c_str());  // v2: the one hierarchy
  }
  RunResult RunContainer(const Spec& spec) {
    std::ofstream(dir / "config.json") << EncodeSpec(spec);
    return Shell("runc --root " + runc_root.string() + " run --bundle " + dir.string() + " " + id +
                 " </dev/null 2>&1");
  }
};

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

TEST(OciRunc, DefaultSpecWithOptionsIsWhatTheContainerSees) {
  ASSERT_EQ(Shell("runc --version >/dev/null 2>&1").status, 0)
      << "runc is not installed (scripts/setup installs it; it is required)";
  Bundle b("ocirunc");
  SpecOptions o;
  o.id = b.id;
  o.ns = kCgroupParent;
  o.rootfs = lcdtest::Rootfs();
  o.readonly_rootfs = true;
  o.hostname = "lcd-box";
  o.env = {"FOO=bar from env"};
  o.cwd = "/tmp";
  o.user = "nobody";
  o.memory_limit = 64 << 20;
  o.args = {"sh", "-c",
            "hostname; id -u; id -g; pwd; echo \"$FOO\"; "
            "touch /x 2>&1 || true; "
                // runc mounts the container's own cgroup at /sys/fs/cgroup (v2: one directory).
                + std::string("cat /sys/fs/cgroup/") +
                (lcdtest::CgroupV2() ? "memory.max" : "memory/memory.limit_in_bytes") + "; " +
                "grep -c ' / .* ro,' /proc/self/mounts"};
  Spec spec = DefaultSpec(o);
  ASSERT_NO_THROW(Validate(spec));
  EXPECT_EQ(spec.process->user.uid, 65534u) << "nobody comes from the rootfs /etc/passwd";

  RunResult r = b.RunContainer(spec);
  ASSERT_EQ(r.status, 0) << r.output;
  auto lines = Lines(r.output);
  ASSERT_EQ(lines.size(), 8u) << r.output;
  EXPECT_EQ(lines[0], "lcd-box");
  EXPECT_EQ(lines[1], "65534");
  EXPECT_EQ(lines[2], "65534");
  EXPECT_EQ(lines[3], "/tmp");
  EXPECT_EQ(lines[4], "bar from env");
  EXPECT_NE(lines[5].find("Read-only file system"), std::string::npos) << lines[5];
  EXPECT_EQ(lines[6], std::to_string(64 << 20));
  EXPECT_EQ(lines[7], "1") << "the root mount is not read-only";
}

TEST(OciRunc, ExitStatusAndCpuQuotaReachTheContainer) {
  ASSERT_EQ(Shell("runc --version >/dev/null 2>&1").status, 0)
      << "runc is not installed (scripts/setup installs it; it is required)";
  Bundle b("ocicpu");
  SpecOptions o;
  o.id = b.id;
  o.ns = kCgroupParent;
  o.rootfs = lcdtest::Rootfs();
  o.cpus = 0.5;
  o.pids_limit = 32;
  o.args = {
      "sh", "-c",
      std::string(lcdtest::CgroupV2()
                      ? "cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max; "
                      : "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max; ") +
          "ulimit -n; exit 3"};
  RunResult r = b.RunContainer(DefaultSpec(o));
  ASSERT_TRUE(WIFEXITED(r.status)) << r.output;
  EXPECT_EQ(WEXITSTATUS(r.status), 3) << r.output;
  auto lines = Lines(r.output);
  ASSERT_EQ(lines.size(), 3u) << r.output;
  // v2 cpu.max is "$MAX $PERIOD"; v1 has the quota alone (period 100000 in both).
  EXPECT_EQ(lines[0], lcdtest::CgroupV2() ? "50000 100000" : "50000");
  EXPECT_EQ(lines[1], "32");
  EXPECT_EQ(lines[2], "1024");
}

TEST(OciRunc, PrivilegedGetsOurCapabilitiesAndHostDevices) {
  ASSERT_EQ(Shell("runc --version >/dev/null 2>&1").status, 0)
      << "runc is not installed (scripts/setup installs it; it is required)";
  std::string host_caps = Shell("grep CapEff /proc/self/status").output;
  Bundle b("ocipriv");
  SpecOptions o;
  o.id = b.id;
  o.ns = kCgroupParent;
  o.rootfs = lcdtest::Rootfs();
  o.privileged = true;
  // /dev/kmsg is a host device that the default spec does not create.
  o.args = {"sh", "-c",
            "grep CapEff /proc/self/status; test -c /dev/kmsg && echo kmsg; "
            "test -f /proc/keys && echo keys-unmasked; true"};
  RunResult r = b.RunContainer(DefaultSpec(o));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, host_caps + "kmsg\nkeys-unmasked\n");

  // And the default spec is confined: default capabilities, no /dev/kmsg, /proc/keys masked
  // (a bind of /dev/null, not a file).
  Bundle d("ocidflt");
  o.id = d.id;
  o.privileged = false;
  r = d.RunContainer(DefaultSpec(o));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("kmsg"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("keys-unmasked"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(host_caps), std::string::npos) << r.output;
}
