// Context cancellation under concurrency: a Registration's destructor never returns while its
// callback runs on another thread, never deadlocks inside its own callback, and a callback
// never runs after its Registration is gone.
#include "libcontainerd/context.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "libcontainerd/errors.h"
#include "test_util.h"

namespace {

using libcontainerd::Context;
using namespace std::chrono_literals;

// What a registering thread owns and destroys right after its Registration: the callback
// writes into it (as Rpc's callback calls TryCancel on its ClientContext).
struct Owned {
  std::atomic<bool> destroyed{false};
  int writes = 0;  // plain: a callback running after the owner moved on is a data race (TSan)
};

TEST(ContextStress, CallbackNeverRunsAfterItsRegistrationIsDestroyed) {
  constexpr int kRegistrars = 6, kCancellers = 2, kRounds = 300, kPerRound = 20;
  std::atomic<long> after_destroy{0}, ran{0};
  for (int round = 0; round < kRounds; ++round) {
    Context ctx = Context::Background();
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kRegistrars; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < kPerRound; ++i) {
          auto owned = std::make_unique<Owned>();
          {
            // A copy, as calls take one: it shares the cancellation.
            Context copy = (t % 2) ? ctx : ctx.WithDeadline(Context::Clock::now() + 1h);
            auto reg = copy.OnCancel([&ran, &after_destroy, o = owned.get()] {
              if (o->destroyed.load()) ++after_destroy;
              std::this_thread::yield();  // widen the window a late unregistration would hit
              ++o->writes;
              if (o->destroyed.load()) ++after_destroy;
              ++ran;
            });
            if (i % 3 == 0) std::this_thread::yield();
          }
          owned->destroyed.store(true);
          owned.reset();
        }
      });
    }
    for (int c = 0; c < kCancellers; ++c) {
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        for (int spin = 0; spin < (round % 7) * 20; ++spin) std::this_thread::yield();
        ctx.Cancel();
      });
    }
    go.store(true);
    for (auto& th : threads) th.join();
    EXPECT_TRUE(ctx.cancelled());
  }
  EXPECT_EQ(after_destroy.load(), 0) << "a callback ran after its Registration was destroyed";
  // The stress reached the race: some callbacks ran from Cancel (or at registration).
  EXPECT_GT(ran.load(), 0);
}

TEST(ContextStress, RegistrationDestructorWaitsForItsCallbackRunningOnAnotherThread) {
  Context ctx = Context::Background();
  std::atomic<bool> started{false}, destroying{false}, destroyed{false};
  std::atomic<bool> destroyed_while_running{false};
  auto reg = std::make_unique<Context::Registration>(ctx.OnCancel([&] {
    started.store(true);
    auto end = std::chrono::steady_clock::now() + lcdtest::Scaled(10s);
    while (!destroying.load() && std::chrono::steady_clock::now() < end) std::this_thread::yield();
    // The destructor has been entered on the other thread: give it time to (wrongly) return.
    std::this_thread::sleep_for(lcdtest::Scaled(100ms));
    destroyed_while_running.store(destroyed.load());
  }));
  std::thread canceller([&] { ctx.Cancel(); });
  ASSERT_TRUE(lcdtest::Eventually([&] { return started.load(); }, lcdtest::Scaled(10s)));
  std::thread destroyer([&] {
    destroying.store(true);
    reg.reset();
    destroyed.store(true);
  });
  destroyer.join();
  canceller.join();
  EXPECT_FALSE(destroyed_while_running.load())
      << "~Registration returned while its callback was still running";
  EXPECT_TRUE(destroyed.load());
}

TEST(ContextStress, RegistrationDestroyedInsideItsOwnCallbackDoesNotDeadlock) {
  Context ctx = Context::Background();
  auto reg = std::make_shared<std::optional<Context::Registration>>();
  std::atomic<bool> ran{false};
  reg->emplace(ctx.OnCancel([reg_raw = reg.get(), &ran] {
    ran.store(true);
    reg_raw->reset();  // unregisters itself from inside the callback
  }));
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  std::thread t([ctx, done] {
    ctx.Cancel();
    done->set_value();
  });
  if (fut.wait_for(lcdtest::Scaled(10s)) != std::future_status::ready) {
    t.detach();  // deadlocked: it can never be joined
    FAIL() << "Cancel deadlocked when the callback destroyed its own Registration";
  }
  t.join();
  EXPECT_TRUE(ran.load());
  EXPECT_FALSE(reg->has_value());
}

TEST(ContextStress, OnCancelOfACancelledContextRunsAtOnceOnTheCallingThread) {
  Context ctx;
  ctx.Cancel();
  std::thread::id ran_on;
  auto reg = ctx.OnCancel([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  try {
    ctx.ThrowIfDone("Op");
    FAIL() << "a cancelled context did not throw";
  } catch (const libcontainerd::Error& e) {
    EXPECT_EQ(e.kind(), libcontainerd::ErrorKind::kCancelled);
  }
}

TEST(ContextStress, ChildOfWithDeadlineSharesCancellationAndKeepsTheEarlierDeadline) {
  Context parent = Context::WithTimeout(1h);
  Context child = parent.WithDeadline(Context::Clock::now() + 2h);
  EXPECT_EQ(child.deadline(), parent.deadline());
  int called = 0;
  auto reg = parent.OnCancel([&] { ++called; });
  child.Cancel();
  EXPECT_TRUE(parent.cancelled());
  EXPECT_EQ(called, 1);
}

}  // namespace
