#include "common/parallel.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace libcontainerd {

void ParallelFor(size_t n, size_t threads, size_t from, const std::function<void(size_t)>& fn) {
  if (n < from || threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::exception_ptr first;
  auto work = [&] {
    for (size_t i; !failed.load(std::memory_order_relaxed) && (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard l(mu);
        if (!first) first = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);  // so that no allocation can fail once a thread runs
  try {
    for (size_t t = 1; t < threads && t < n; ++t) helpers.emplace_back(work);
  } catch (...) {
    // No thread to be had: the ones started and this one share the items.
  }
  work();
  for (auto& h : helpers) h.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace libcontainerd
