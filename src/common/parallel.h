// Internal: a few threads over a list of independent items (many tasks' cgroup reads).
#pragma once

#include <cstddef>
#include <functional>

namespace libcontainerd {

// Calls fn(i) for every i in [0, n): on this thread alone under `from`, else on `threads`
// threads (this one included; fewer when no thread can be started). fn must be thread-safe.
// The first exception fn throws is rethrown once every thread has stopped; the items a thread
// had not reached by then are skipped.
void ParallelFor(size_t n, size_t threads, size_t from, const std::function<void(size_t)>& fn);

}  // namespace libcontainerd
