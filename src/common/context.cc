#include "libcontainerd/context.h"

#include "libcontainerd/errors.h"

namespace libcontainerd {
namespace detail {
// std::stop_callback gives the guarantee Registration documents: its destructor unregisters,
// waits for a callback running on another thread, and does not wait when it runs inside the
// callback itself.
struct CancelCallback {
  CancelCallback(std::stop_token token, std::function<void()> fn)
      : callback(std::move(token), std::move(fn)) {}
  std::stop_callback<std::function<void()>> callback;
};
}  // namespace detail

Context::Context() : deadline_(Clock::now() + kDefaultTimeout) {}

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

void Context::Cancel() const { stop_.request_stop(); }

bool Context::cancelled() const noexcept { return stop_.stop_requested(); }

Context::Registration::Registration() noexcept = default;
Context::Registration::Registration(Registration&&) noexcept = default;
Context::Registration& Context::Registration::operator=(Registration&&) noexcept = default;
Context::Registration::~Registration() = default;

Context::Registration Context::OnCancel(std::function<void()> fn) const {
  Registration r;
  r.cb_ = std::make_unique<detail::CancelCallback>(stop_.get_token(), std::move(fn));
  return r;
}

void Context::ThrowIfDone(const char* op) const {
  if (cancelled()) throw Error(ErrorKind::kCancelled, "context cancelled", {.op = op});
  if (deadline_ && Clock::now() >= *deadline_)
    throw Error(ErrorKind::kDeadlineExceeded, "deadline exceeded", {.op = op});
}

}  // namespace libcontainerd
