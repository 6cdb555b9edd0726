// common/parallel.h: ParallelFor, the threads of a StatsMany over many tasks.
#include "common/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using libcontainerd::ParallelFor;

TEST(ParallelFor, EveryItemOnceSpreadOverTheThreads) {
  const size_t n = 200;
  std::vector<std::atomic<int>> hits(n);
  std::mutex mu;
  std::set<std::thread::id> threads;
  ParallelFor(n, 4, 64, [&](size_t i) {
    ++hits[i];
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // let the others start
    std::lock_guard l(mu);
    threads.insert(std::this_thread::get_id());
  });
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "item " << i;
  EXPECT_GT(threads.size(), 1u) << "200 items from 64 on: more than one thread";
  EXPECT_LE(threads.size(), 4u);
}

TEST(ParallelFor, UnderTheThresholdItRunsInOrderOnTheCallingThread) {
  std::vector<size_t> order;
  const auto self = std::this_thread::get_id();
  bool elsewhere = false;
  ParallelFor(63, 4, 64, [&](size_t i) {
    order.push_back(i);  // no lock: one thread
    elsewhere |= std::this_thread::get_id() != self;
  });
  ASSERT_EQ(order.size(), 63u);
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], i);
  EXPECT_FALSE(elsewhere);
  ParallelFor(0, 4, 0, [&](size_t) { FAIL() << "no item"; });
}

TEST(ParallelFor, TheFirstExceptionIsRethrownAfterEveryThreadStopped) {
  std::atomic<int> running{0}, after{0};
  std::atomic<bool> thrown{false};
  EXPECT_THROW(ParallelFor(1000, 4, 1,
                           [&](size_t i) {
                             ++running;
                             if (i == 10) {
                               thrown = true;
                               --running;
                               throw std::runtime_error("item 10");
                             }
                             std::this_thread::sleep_for(std::chrono::microseconds(50));
                             if (thrown) ++after;
                             --running;
                           }),
               std::runtime_error);
  EXPECT_EQ(running.load(), 0) << "an item still ran when ParallelFor returned";
  // At most the items the other 3 threads had begun (and a few begun before they saw the
  // failure) finish after it; without the skip about 990 would.
  EXPECT_LT(after.load(), 50) << "the items after the failure were not skipped";
}
