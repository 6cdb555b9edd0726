// Many threads share one Client.
#include <atomic>
#include <filesystem>
#include <thread>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"

using namespace libcontainerd;
using lcdtest::ClientTest;

TEST_F(ClientTest, FiftyLifecyclesFromEightThreadsLeaveNothingBehind) {
  int fds_before = lcdtest::OpenFdCount();
  std::atomic<int> next{0}, ok{0};
  std::vector<std::string> failures;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < 50;) {
        try {
          std::string id = "many-" + std::to_string(i);
          auto c = Create(
              id, {"sh", "-c", "echo " + std::to_string(i) + "; exit " + std::to_string(i % 50)});
          auto cap = std::make_shared<cio::Captured>();
          auto task = c->NewTask(ctx_, "", false, cio::Capture(cap));
          task->Start(ctx_);
          task->Wait(ctx_);
          auto st = task->Delete(ctx_);
          c->Delete(ctx_);
          if (st.exit_code != static_cast<uint32_t>(i % 50) ||
              cap->Out() != std::to_string(i) + "\n") {
            std::lock_guard l(mu);
            failures.push_back(id + ": exit " + std::to_string(st.exit_code) + " out " +
                               cap->Out());
          } else {
            ++ok;
          }
        } catch (const std::exception& e) {
          std::lock_guard l(mu);
          failures.push_back(e.what());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 50);
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_TRUE(client_->ListContainers(ctx_).empty());
  std::string ns_dir = lcdtest::BackendStateDir() + "/" + ns_;
  if (std::filesystem::exists(ns_dir)) {
    EXPECT_TRUE(std::filesystem::is_empty(ns_dir));
  }
  // Not more than before (gRPC and the sanitizer runtimes may close an fd of their own meanwhile).
  EXPECT_LE(lcdtest::OpenFdCount(), fds_before);
}
