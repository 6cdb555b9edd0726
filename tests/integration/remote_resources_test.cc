// Stats, resource updates and checkpoints against the real daemon (cgroup v1 here).
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/spec.h"

using namespace libcontainerd;
using lcdtest::ClientTest;
using namespace std::chrono_literals;

namespace {
std::string ReadFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}
}  // namespace

TEST_F(ClientTest, StatsOfARunningTaskHaveMemoryCpuAndPids) {
  auto c = Create(lcdtest::UniqueId("stats"), {"sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 100"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  std::this_thread::sleep_for(300ms);
  Stats s = task->GetStats(ctx_);
  ASSERT_NE(s.v1(), nullptr) << "this machine runs cgroup v1";
  const auto& m = *s.v1();
  ASSERT_TRUE(m.memory && m.memory->usage);
  EXPECT_GT(m.memory->usage->usage, 0u);
  ASSERT_TRUE(m.cpu && m.cpu->usage);
  EXPECT_GT(m.cpu->usage->total, 0u);
  ASSERT_TRUE(m.pids);
  EXPECT_GE(m.pids->current, 1u);
  EXPECT_GT(s.read.time_since_epoch().count(), 0);

  auto many = client_->StatsMany(ctx_, {c->ID(), "not-running"});
  EXPECT_EQ(many.size(), 1u);
  EXPECT_TRUE(many.count(c->ID()));

  task->ForceDelete(ctx_);
  try {
    task->GetStats(ctx_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

TEST_F(ClientTest, UpdateResourcesRaisesTheMemoryLimitInTheCgroup) {
  std::string id = lcdtest::UniqueId("update");
  auto opts = Options(id, {"sleep", "100"});
  opts.memory_limit = 32 << 20;
  auto c = Create(opts);
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  std::string file = "/sys/fs/cgroup/memory/" + ns_ + "/" + id + "/memory.limit_in_bytes";
  EXPECT_EQ(ReadFirstLine(file), std::to_string(32 << 20));
  oci::LinuxResources r;
  r.memory = oci::LinuxMemory{};
  r.memory->limit = 64 << 20;
  task->UpdateResources(ctx_, r);
  EXPECT_EQ(ReadFirstLine(file), std::to_string(64 << 20));
  task->ForceDelete(ctx_);
}

TEST_F(ClientTest, CheckpointReachesCriuAndReportsItsReason) {
  auto c = Create(lcdtest::UniqueId("ckpt"), {"sleep", "100"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  std::string dir = "/tmp/lcd-ckpt-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  bool criu_works = std::system("criu check >/dev/null 2>&1") == 0;
  try {
    task->CreateCheckpoint(ctx_, dir, true);
    if (!criu_works) ADD_FAILURE() << "checkpoint succeeded although `criu check` fails";
  } catch (const Error& e) {
    if (criu_works) throw;
    // The reason comes from CRIU through runc and the shim, not from us.
    std::string what = e.what();
    EXPECT_TRUE(what.find("criu") != std::string::npos || what.find("CRIU") != std::string::npos) << what;
    task->ForceDelete(ctx_);
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "CRIU cannot checkpoint on this machine (`criu check` fails); the error path was "
                    "verified: "
                 << what;
  }
  // Restore where CRIU works.
  task->Wait(ctx_);
  task->Delete(ctx_);
  auto restored = c->NewTask(ctx_, dir, false, nullptr);
  restored->Start(ctx_);
  EXPECT_EQ(restored->GetStatus(ctx_), Status::kRunning);
  restored->ForceDelete(ctx_);
  std::filesystem::remove_all(dir);
}
