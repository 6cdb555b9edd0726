// The direct backend under long runs and killed monitors: 1,000 lifecycles with the calling
// process's fds, threads and RSS flat and no monitor left; monitors SIGKILLed while their
// containers run, each exit delivered once (255 with an error), every container deletable.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "../integration/direct_test_fixture.h"
#include "libcontainerd/cio.h"

namespace lcdtest {
namespace {
using namespace libcontainerd;
using namespace std::chrono_literals;

TEST_F(DirectTest, AThousandLifecyclesKeepFdsThreadsAndRssFlatAndLeaveNoMonitor) {
  Connect();
  const char* env = std::getenv("LCD_DIRECT_LIFECYCLES");
  const int n = env ? std::atoi(env) : 1000;
  auto one = [&](int i) { TrueLifecycle("k" + std::to_string(i)); };
  const int warm = std::min(50, n / 2);
  for (int i = 0; i < warm; ++i) one(i);
  ASSERT_TRUE(backend_->WaitForEvent("k" + std::to_string(warm - 1), EventType::kExit));
  const int fds = OpenFdCount();
  const int threads = ThreadCount();
  const long rss = RssKb();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = warm; i < n; ++i) one(i);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(ExitsReach(n));
  std::printf("%d lifecycles in %lld ms; fds %d -> %d, threads %d -> %d, RSS %ld -> %ld kB\n",
              n - warm, static_cast<long long>(ms.count()), fds, OpenFdCount(), threads,
              ThreadCount(), rss, RssKb());
  EXPECT_LE(OpenFdCount(), fds + 2);
  EXPECT_LE(ThreadCount(), threads + 2);
  EXPECT_LE(RssKb(), rss + 8 * 1024) << "RSS grows with the number of lifecycles";
  int exits = 0;
  for (const auto& e : backend_->Events()) exits += e.type == EventType::kExit;
  EXPECT_EQ(exits, n) << "one exit per lifecycle";
  EXPECT_TRUE(
      Eventually([&] { return MonitorsUnder(root_).empty(); }));  // it exits after its reply
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

TEST_F(DirectTest, MonitorsKilledUnderLoadReportEachExitOnceAndLeaveNothing) {
  Connect();
  const int n = 10;
  std::vector<std::shared_ptr<Task>> tasks;
  std::vector<std::shared_ptr<Container>> containers;
  for (int i = 0; i < n; ++i) {
    const std::string id = "mk" + std::to_string(i);
    containers.push_back(Create(id, {"sleep", "120"}));
    tasks.push_back(containers.back()->NewTask(ctx_, "", false,
                                               cio::Capture(std::make_shared<cio::Captured>())));
    tasks.back()->Start(ctx_);
  }
  // Half the monitors die while the other half's containers exit normally.
  for (int i = 0; i < n; ++i) {
    const std::string id = "mk" + std::to_string(i);
    if (i % 2 == 0) {
      ::kill(std::stoi(Slurp(TaskDir(id) + "/monitor.pid")), SIGKILL);
    } else {
      tasks[i]->Kill(ctx_, SIGKILL);
    }
  }
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(backend_->WaitForEvent("mk" + std::to_string(i), EventType::kExit)) << i;
  for (int i = 0; i < n; ++i) {
    const std::string id = "mk" + std::to_string(i);
    const uint32_t want = i % 2 == 0 ? 255u : 137u;
    EXPECT_EQ(tasks[i]->Delete(ctx_).exit_code, want) << id;
    containers[i]->Delete(ctx_);
    EXPECT_FALSE(RuntimeKnows(id)) << id;
  }
  std::this_thread::sleep_for(300ms);
  for (int i = 0; i < n; ++i) {
    const std::string id = "mk" + std::to_string(i);
    int exits = 0;
    std::string error;
    for (const auto& e : backend_->For(id))
      if (e.type == EventType::kExit) {
        ++exits;
        error = e.info.error;
      }
    EXPECT_EQ(exits, 1) << id;
    EXPECT_EQ(error.empty(), i % 2 != 0) << id << ": " << error;
  }
  EXPECT_TRUE(
      Eventually([&] { return MonitorsUnder(root_).empty(); }));  // it exits after its reply
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

}  // namespace
}  // namespace lcdtest
