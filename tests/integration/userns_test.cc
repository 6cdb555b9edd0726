// User namespaces: a spec with uid/gid mappings gets the runc shim's IO uid/gid from the host ids
// container root maps to, so the process's stdio belongs to its root inside the namespace.
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "test_util.h"

using namespace libcontainerd;
using namespace std::chrono_literals;

namespace {

constexpr uint32_t kHostRoot = 100000;
constexpr uint32_t kRange = 65536;

// "" when this kernel lets a process make a user namespace, else why not.
std::string UsernsUnavailable() {
  pid_t pid = fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) _exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : (errno & 0xff));
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return std::string("waitpid: ") + std::strerror(errno);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return std::string("unshare(CLONE_NEWUSER) fails: ") +
         std::strerror(WIFEXITED(status) ? WEXITSTATUS(status) : EINVAL);
}

void RemapRoot(oci::Spec& spec, uint32_t container_id = 0) {
  spec.linux->namespaces.push_back({.type = "user"});
  spec.linux->uid_mappings = {{.container_id = container_id, .host_id = kHostRoot, .size = kRange}};
  spec.linux->gid_mappings = {{.container_id = container_id, .host_id = kHostRoot, .size = kRange}};
}

class UsernsTest : public lcdtest::ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    char tmpl[] = "/tmp/lcd-userns-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
    tmp_ = tmpl;
    ASSERT_EQ(::chmod(tmp_.c_str(), 0755), 0) << std::strerror(errno);
    dir_ = tmp_ + "/out";
    ASSERT_EQ(::mkdir(dir_.c_str(), 0777), 0) << std::strerror(errno);
    ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0) << std::strerror(errno);
    // runc makes mount points (/out) as container root, host 100000: the container gets a
    // private copy of the busybox rootfs owned by the mapped ids.
    rootfs_ = tmp_ + "/rootfs";
    const std::string copy = "cp -a '" + lcdtest::Rootfs() + "' '" + rootfs_ + "' && chown -R " +
                             std::to_string(kHostRoot) + ":" + std::to_string(kHostRoot) + " '" +
                             rootfs_ + "'";
    ASSERT_EQ(std::system(copy.c_str()), 0) << copy;
    why_not_ = UsernsUnavailable();
  }
  void TearDown() override {
    ClientTest::TearDown();
    if (!tmp_.empty()) lcdtest::RemoveTree(tmp_);
  }

  // A remapped busybox container running `script`, /out bound to dir_.
  std::shared_ptr<Container> CreateRemapped(const std::string& id, const std::string& script,
                                            const RuncOptions& runc = {}) {
    auto opts = Options(id, {"sh", "-c", script});
    opts.rootfs = rootfs_;
    opts.mounts.push_back(
        {.destination = "/out", .type = "bind", .source = dir_, .options = {"rbind", "rw"}});
    oci::Spec spec = oci::DefaultSpec(opts);
    RemapRoot(spec);
    return client_->NewContainer(ctx_, id, spec, "", runc);
  }

  // Runs the container with stdin `in` and returns its stdout; stderr into *err. Throws the
  // library's error when the task cannot be made or started.
  std::string Run(const std::shared_ptr<Container>& c, const std::string& in, std::string* err,
                  uint32_t* exit_code) {
    auto cap = std::make_shared<cio::Captured>();
    auto task = c->NewTask(ctx_, "", true, cio::Capture(cap));
    task->Start(ctx_);
    cap->fifos->WriteStdin(in);
    cap->fifos->CloseStdin();
    *exit_code = task->Wait(Context::WithTimeout(lcdtest::Scaled(20s))).exit_code;
    task->Delete(ctx_);
    *err = cap->Err();
    return cap->Out();
  }

  std::string tmp_;     // removed after the test
  std::string dir_;     // bound at /out, mode 0777
  std::string rootfs_;  // the busybox rootfs, owned by the mapped root
  std::string why_not_;
};

// Inside: cat echoes stdin through the FIFOs; /proc/self/fd/1 (the shim's pipe) belongs to
// container root, so reopening /dev/stdout works (it does not when the pipe is host root's);
// a file made in the bound host directory belongs to the mapped ids on the host.
TEST_F(UsernsTest, RemappedContainerUsesItsStdioAndCreatesFilesAsTheMappedRoot) {
  const std::string id = lcdtest::UniqueId("userns");
  auto c = CreateRemapped(id,
                          "cat; stat -L -c pipe=%u:%g /proc/self/fd/1; "
                          "echo reopened > /dev/stdout; touch /out/made; id -u");
  std::string err;
  uint32_t code = 0;
  if (!why_not_.empty()) {
    std::cout << "[ userns ] the positive case cannot run here: " << why_not_
              << "; checking the library's error instead\n";
    try {
      Run(c, "hello\n", &err, &code);
      ADD_FAILURE() << "a user namespace container ran although " << why_not_;
    } catch (const Error& e) {
      std::cout << "[ userns ] " << e.what() << "\n";
      EXPECT_NE(e.message().find("namespace"), std::string::npos) << e.what();
      EXPECT_NE(e.kind(), ErrorKind::kUnavailable) << e.what();
    }
    return;
  }
  const std::string out = Run(c, "hello\n", &err, &code);
  EXPECT_EQ(code, 0u) << "stderr: " << err;
  EXPECT_EQ(out, "hello\npipe=0:0\nreopened\n0\n") << "stderr: " << err;
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/made").c_str(), &st), 0) << std::strerror(errno) << "; " << err;
  EXPECT_EQ(st.st_uid, kHostRoot);
  EXPECT_EQ(st.st_gid, kHostRoot);
}

// Exec'd processes get their stdio from the same shim (its IO ids hold for the task), so an
// exec in the remapped container can reopen its stdout too.
TEST_F(UsernsTest, ExecInARemappedContainerOwnsItsStdio) {
  if (!why_not_.empty()) GTEST_SKIP() << "covered by the error case: " << why_not_;
  const std::string id = lcdtest::UniqueId("usernsx");
  auto c = CreateRemapped(id, "sleep 60");
  auto task = c->NewTask(ctx_, "", false, cio::Capture(std::make_shared<cio::Captured>()));
  task->Start(ctx_);
  auto cap = std::make_shared<cio::Captured>();
  auto p =
      task->Exec(ctx_, "x1", lcdtest::ExecSpec({"sh", "-c", "stat -L -c %u:%g /proc/self/fd/1"}),
                 false, cio::Capture(cap));
  EXPECT_EQ(p->Wait(Context::WithTimeout(lcdtest::Scaled(20s))).exit_code, 0u) << cap->Err();
  p->Delete(ctx_);
  task->Kill(ctx_, SIGKILL);
  task->Wait(Context::WithTimeout(lcdtest::Scaled(20s)));
  task->Delete(ctx_);
  EXPECT_EQ(cap->Out(), "0:0\n") << cap->Err();
}

// IO ids the caller sets in RuncOptions win over the mapping's root. The gid shows it: runc's
// init hands the pipe's uid to the process's user (container root) where it can, and leaves the
// gid as the shim made it (host 102000 = container 2000).
TEST_F(UsernsTest, ExplicitIoIdsWinOverTheMappedRoot) {
  if (!why_not_.empty()) GTEST_SKIP() << "covered by the error case: " << why_not_;
  const std::string id = lcdtest::UniqueId("usernse");
  auto c = CreateRemapped(id, "stat -L -c %u:%g /proc/self/fd/1",
                          RuncOptions{.io_uid = kHostRoot + 1000, .io_gid = kHostRoot + 2000});
  std::string err;
  uint32_t code = 0;
  EXPECT_EQ(Run(c, "", &err, &code), "0:2000\n") << err;
  EXPECT_EQ(code, 0u) << err;
}

// A mapping without container root is refused before any container exists, naming the field.
TEST_F(UsernsTest, MappingWithoutContainerRootIsInvalidArgument) {
  const std::string id = lcdtest::UniqueId("usernsbad");
  auto opts = Options(id, {"true"});
  oci::Spec spec = oci::DefaultSpec(opts);
  RemapRoot(spec, 1);
  try {
    client_->NewContainer(ctx_, id, spec, "", RuncOptions{});
    ADD_FAILURE() << "NewContainer accepted uidMappings without container id 0";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    EXPECT_NE(e.message().find("linux.uidMappings"), std::string::npos) << e.what();
    EXPECT_NE(e.message().find("container id 0"), std::string::npos) << e.what();
  }
  for (const auto& c : client_->ListContainers(ctx_)) EXPECT_NE(c, id);
}

}  // namespace
