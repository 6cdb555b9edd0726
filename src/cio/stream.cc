// StreamIO: copies a DirectIO's stdout/stderr to callbacks on one thread, and optionally a
// source fd to stdin on another.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <thread>

#include "libcontainerd/cio.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"

namespace libcontainerd::cio {
namespace {

class StreamIO final : public IO {
 public:
  StreamIO(std::shared_ptr<DirectIO> fifos, StreamOptions opts)
      : fifos_(std::move(fifos)), opts_(std::move(opts)) {
    int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) ThrowErrno(ErrorKind::kUnknown, errno, "eventfd");
    cancel_fd_.reset(efd);
    out_thread_ = std::thread([this] { CopyOutput(); });
    if (opts_.stdin_source_fd >= 0 && fifos_->has_stdin())
      in_thread_ = std::thread([this] { CopyInput(); });
  }
  ~StreamIO() override { Close(); }

  const FifoConfig& Config() const override { return fifos_->Config(); }

  void Cancel() override {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(cancel_fd_.get(), &one, sizeof one);
  }

  void Wait() override {
    std::unique_lock l(mu_);
    cv_.wait(l, [this] { return output_done_; });
  }

  void Close() override {
    std::lock_guard close_lock(close_mu_);
    if (closed_) return;
    closed_ = true;
    Cancel();
    if (out_thread_.joinable()) out_thread_.join();
    if (in_thread_.joinable()) in_thread_.join();
    fifos_->Close();
  }

 private:
  void CopyOutput() {
    pollfd fds[3] = {{fifos_->stdout_fd(), POLLIN, 0},
                     {fifos_->stderr_fd(), POLLIN, 0},
                     {cancel_fd_.get(), POLLIN, 0}};
    const std::function<void(std::string_view)>* sinks[2] = {&opts_.on_stdout, &opts_.on_stderr};
    int open_streams = (fds[0].fd >= 0) + (fds[1].fd >= 0);
    std::string buf(64 * 1024, '\0');
    while (open_streams > 0) {
      int r = ::poll(fds, 3, -1);
      if (r < 0) {
        if (errno == EINTR) continue;
        Log(LogLevel::kError, "stdio copy: poll failed");
        break;
      }
      if (fds[2].revents) break;  // cancelled
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
        if (n > 0) {
          if (*sinks[i]) {
            try {
              (*sinks[i])(std::string_view(buf.data(), static_cast<size_t>(n)));
            } catch (const std::exception& e) {
              Log(LogLevel::kError, std::string("stdio sink threw: ") + e.what());
            }
          }
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          fds[i].fd = -1;  // EOF: the writer (shim) closed
          --open_streams;
        }
      }
    }
    std::lock_guard l(mu_);
    output_done_ = true;
    cv_.notify_all();
  }

  void CopyInput() {
    pollfd fds[2] = {{opts_.stdin_source_fd, POLLIN, 0}, {cancel_fd_.get(), POLLIN, 0}};
    std::string buf(64 * 1024, '\0');
    for (;;) {
      int r = ::poll(fds, 2, -1);
      if (r < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents) return;  // cancelled: leave stdin as it is
      ssize_t n = ::read(opts_.stdin_source_fd, buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) break;
      try {
        fifos_->WriteStdin(std::string_view(buf.data(), static_cast<size_t>(n)));
      } catch (const Error& e) {
        Log(LogLevel::kWarning, std::string("stdin copy stopped: ") + e.what());
        return;
      }
    }
    fifos_->CloseStdin();  // EOF on the source: the process sees EOF too
  }

  std::shared_ptr<DirectIO> fifos_;
  StreamOptions opts_;
  UniqueFd cancel_fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool output_done_ = false;
  std::mutex close_mu_;
  bool closed_ = false;
  std::thread out_thread_;
  std::thread in_thread_;
};

}  // namespace

std::shared_ptr<IO> Stream(std::shared_ptr<DirectIO> fifos, StreamOptions options) {
  return std::make_shared<StreamIO>(std::move(fifos), std::move(options));
}

StdioCallback StreamCallback(StreamOptions options) {
  return [options = std::move(options)](std::shared_ptr<DirectIO> fifos) {
    return Stream(std::move(fifos), options);
  };
}

StdioCallback Capture(std::shared_ptr<Captured> into) {
  return [into](std::shared_ptr<DirectIO> fifos) {
    into->fifos = fifos;
    StreamOptions o;
    o.on_stdout = [into](std::string_view s) {
      std::lock_guard l(into->mu);
      into->out.append(s);
    };
    o.on_stderr = [into](std::string_view s) {
      std::lock_guard l(into->mu);
      into->err.append(s);
    };
    return Stream(std::move(fifos), std::move(o));
  };
}

}  // namespace libcontainerd::cio
