// libcontainerd: per-call context carrying a deadline and cancellation.
//
// Every operation that talks to a daemon takes a `const Context&`. A default Context has
// the library's default deadline (30 s) and is never cancelled. Copies share the same
// cancellation state: cancelling one cancels all copies and every call running under them.
// Thread-safety: all members may be called from any thread at any time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace libcontainerd {

namespace detail {
struct CancelState;
}

class Context {
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
  void Cancel() const;
  bool cancelled() const noexcept;

  // Registers fn to run once on cancellation (immediately if already cancelled).
  // Returns a token; destroying it unregisters fn. fn must not block.
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&&) noexcept = default;
    Registration& operator=(Registration&&) noexcept = default;
    ~Registration();

   private:
    friend class Context;
    std::shared_ptr<detail::CancelState> state_;
    uint64_t id_ = 0;
  };
  [[nodiscard]] Registration OnCancel(std::function<void()> fn) const;

  // Throws Error{kCancelled} or Error{kDeadlineExceeded} when the context is done.
  void ThrowIfDone(const char* op) const;

 private:
  std::optional<Clock::time_point> deadline_;
  std::shared_ptr<detail::CancelState> state_;
};

}  // namespace libcontainerd
