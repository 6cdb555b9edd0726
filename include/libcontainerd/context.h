// libcontainerd: per-call context carrying a deadline and cancellation.
//
// Every operation that talks to a daemon takes a `const Context&`. A default Context has
// the library's default deadline (30 s) and is never cancelled. Copies share the same
// cancellation state (a std::stop_source: copying is a reference-count increment): cancelling
// one cancels all copies and every call running under them.
// Thread-safety: all members may be called from any thread at any time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>

#include "libcontainerd/export.h"

namespace libcontainerd {

namespace detail {
struct CancelCallback;
}

class LCD_EXPORT Context {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kDefaultTimeout{30};

  // Default deadline (now + kDefaultTimeout, fixed at construction), not cancelled.
  Context();

  // A context without deadline (use for long waits such as Process::Wait).
  static Context Background();
  // A context whose deadline is now + timeout.
  static Context WithTimeout(std::chrono::milliseconds timeout);

  // A child sharing this context's cancellation, with a deadline no later than both.
  Context WithDeadline(Clock::time_point deadline) const;

  std::optional<Clock::time_point> deadline() const noexcept { return deadline_; }

  // Cancels this context and every copy; running calls fail with ErrorKind::kCancelled.
  // The callbacks registered with OnCancel run on the calling thread before Cancel returns
  // (when another thread cancels at the same time, that thread runs them instead).
  void Cancel() const;
  bool cancelled() const noexcept;

  // Registers fn to run once on cancellation (at once, on this thread, if already cancelled).
  // Returns a token; destroying it unregisters fn. If fn is running on another thread at that
  // moment, the destructor waits for it to return, so fn may use what the token's owner
  // destroys after the token; destroying the token from inside fn itself does not wait.
  // fn must not block and must not throw.
  class Registration {
   public:
    Registration() noexcept;
    Registration(Registration&&) noexcept;
    Registration& operator=(Registration&&) noexcept;  // unregisters (and waits for) the old fn
    ~Registration();

   private:
    friend class Context;
    std::unique_ptr<detail::CancelCallback> cb_;
  };
  [[nodiscard]] Registration OnCancel(std::function<void()> fn) const;

  // Throws Error{kCancelled} or Error{kDeadlineExceeded} when the context is done.
  void ThrowIfDone(const char* op) const;

 private:
  std::optional<Clock::time_point> deadline_;
  std::stop_source stop_;
};

}  // namespace libcontainerd
