// Contexts cancelled from other threads while their RPCs start, run and finish: every call
// either succeeds or fails kCancelled, a blocked Wait ends at its cancellation, and nothing
// crashes (the cancellation callback of a finished call must never reach its destroyed
// grpc::ClientContext; run under the tsan preset this test must give 0 reports).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "test_util.h"

using namespace libcontainerd;
using namespace std::chrono_literals;
using lcdtest::ClientTest;

namespace {

// Contexts in use by the callers, for the cancellers to pick from.
class Slots {
 public:
  explicit Slots(size_t n) : slots_(n) {}
  void Set(size_t i, std::optional<Context> c) {
    std::lock_guard l(mu_);
    slots_[i] = std::move(c);
  }
  std::optional<Context> Get(size_t i) {
    std::lock_guard l(mu_);
    return slots_[i];
  }
  size_t size() const { return slots_.size(); }

 private:
  std::mutex mu_;
  std::vector<std::optional<Context>> slots_;
};

}  // namespace

TEST_F(ClientTest, CancellingContextsWhileTheirCallsFinishOnOtherThreadsIsSafe) {
  auto c = Create("cancel-stress", {"sleep", "300"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);

  constexpr int kCallers = 6, kCalls = 400, kWaits = 10;
  Slots slots(kCallers + 1);
  std::atomic<bool> done{false};
  std::atomic<int> succeeded{0}, cancelled{0}, waits_cancelled{0};
  std::mutex mu;
  std::vector<std::string> unexpected;
  auto record = [&](const std::string& what) {
    std::lock_guard l(mu);
    if (unexpected.size() < 20) unexpected.push_back(what);
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kCallers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        Context ctx = (i % 2) ? Context::Background() : Context::WithTimeout(lcdtest::Scaled(30s));
        slots.Set(t, ctx);
        try {
          switch ((i + t) % 4) {
            case 0:
              task->GetStatus(ctx);
              break;
            case 1:
              task->Pids(ctx);
              break;
            case 2:
              client_->LoadContainer(ctx, "cancel-stress");
              break;
            default:
              // A temporary copy: the call must not keep a reference to it.
              task->GetStatus(Context(ctx));
              break;
          }
          ++succeeded;
        } catch (const Error& e) {
          if (e.kind() == ErrorKind::kCancelled)
            ++cancelled;
          else
            record(e.what());
        }
        slots.Set(t, std::nullopt);
      }
    });
  }
  // A waiter whose blocked Tasks.Wait is cancelled while it is in flight.
  threads.emplace_back([&] {
    for (int i = 0; i < kWaits; ++i) {
      Context ctx = Context::Background();
      slots.Set(kCallers, ctx);
      auto kind = lcdtest::KindOf([&] { task->Wait(ctx); });
      slots.Set(kCallers, std::nullopt);
      if (kind == ErrorKind::kCancelled)
        ++waits_cancelled;
      else
        record("Wait ended with kind " + std::to_string(static_cast<int>(kind)));
    }
  });
  for (int k = 0; k < 2; ++k) {
    threads.emplace_back([&, k] {
      std::mt19937 rng(static_cast<unsigned>(k + 1));
      while (!done.load()) {
        size_t i = rng() % slots.size();
        if (auto ctx = slots.Get(i)) ctx->Cancel();
        // Paced so that about as many calls finish as are cancelled, many of them in flight.
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 6000));
      }
    });
  }
  for (int t = 0; t <= kCallers; ++t) threads[static_cast<size_t>(t)].join();
  done.store(true);
  for (size_t t = kCallers + 1; t < threads.size(); ++t) threads[t].join();

  std::printf("[cancel-stress] %d calls succeeded, %d cancelled, %d waits cancelled\n",
              succeeded.load(), cancelled.load(), waits_cancelled.load());
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  EXPECT_EQ(waits_cancelled.load(), kWaits);
  // Both outcomes happened: cancellation raced with calls that went through.
  EXPECT_GT(succeeded.load(), 0);
  EXPECT_GT(cancelled.load(), 0);
  EXPECT_EQ(succeeded.load() + cancelled.load(),
            kCallers * kCalls - static_cast<int>(unexpected.size()));

  // The task is untouched by all of it.
  EXPECT_EQ(task->GetStatus(ctx_), Status::kRunning);
  task->Kill(ctx_, SIGKILL);
  EXPECT_EQ(task->Wait(ctx_).exit_code, 137u);
  task->Delete(ctx_);
  c->Delete(ctx_);
}
