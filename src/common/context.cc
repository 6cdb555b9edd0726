#include "libcontainerd/context.h"

#include <map>
#include <mutex>
#include <vector>

#include "libcontainerd/errors.h"

namespace libcontainerd {
namespace detail {
struct CancelState {
  std::mutex mu;
  bool cancelled = false;
  uint64_t next_id = 1;
  std::map<uint64_t, std::function<void()>> callbacks;
};
}  // namespace detail

Context::Context()
    : deadline_(Clock::now() + kDefaultTimeout), state_(std::make_shared<detail::CancelState>()) {}

Context Context::Background() {
  Context c;
  c.deadline_.reset();
  return c;
}

Context Context::WithTimeout(std::chrono::milliseconds timeout) {
  Context c;
  c.deadline_ = Clock::now() + timeout;
  return c;
}

Context Context::WithDeadline(Clock::time_point deadline) const {
  Context c = *this;
  if (!c.deadline_ || deadline < *c.deadline_) c.deadline_ = deadline;
  return c;
}

void Context::Cancel() const {
  std::map<uint64_t, std::function<void()>> cbs;
  {
    std::lock_guard l(state_->mu);
    if (state_->cancelled) return;
    state_->cancelled = true;
    cbs.swap(state_->callbacks);
  }
  for (auto& [id, fn] : cbs) fn();
}

bool Context::cancelled() const noexcept {
  std::lock_guard l(state_->mu);
  return state_->cancelled;
}

Context::Registration Context::OnCancel(std::function<void()> fn) const {
  Registration r;
  {
    std::lock_guard l(state_->mu);
    if (!state_->cancelled) {
      r.state_ = state_;
      r.id_ = state_->next_id++;
      state_->callbacks.emplace(r.id_, std::move(fn));
      return r;
    }
  }
  fn();
  return r;
}

Context::Registration::~Registration() {
  if (!state_) return;
  std::lock_guard l(state_->mu);
  state_->callbacks.erase(id_);
}

void Context::ThrowIfDone(const char* op) const {
  if (cancelled()) throw Error(ErrorKind::kCancelled, "context cancelled", {.op = op});
  if (deadline_ && Clock::now() >= *deadline_)
    throw Error(ErrorKind::kDeadlineExceeded, "deadline exceeded", {.op = op});
}

}  // namespace libcontainerd
