#include "foreground.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "libcontainerd/errors.h"

namespace lcctl {

namespace lcd = libcontainerd;

namespace {

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // our stdout went away: drop the output
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void ResizeToLocal(lcd::Process& p) {
  uint32_t w = 0, h = 0;
  if (!ForegroundSession::TerminalSize(w, h)) return;
  try {
    p.Resize(lcd::Context(), w, h);
  } catch (const lcd::Error&) {
  }
}

int ExitCodeOf(const lcd::ExitStatus& st) { return static_cast<int>(st.exit_code & 0xff); }

// Copies fd 0 to the process's stdin, started only once the process runs: bytes written (and
// the write end closed) before the shim opened its end of the FIFO would be lost, and so
// would the EOF. On EOF it closes the process's stdin (the library forwards CloseIO).
class StdinPump {
 public:
  ~StdinPump() { Stop(); }
  void Start(std::shared_ptr<lcd::DirectIO> fifos) {
    if (!fifos || !fifos->has_stdin() || ::pipe2(stop_, O_CLOEXEC) != 0) return;
    thread_ = std::thread([this, fifos] { Copy(*fifos); });
  }
  void Stop() {
    if (!thread_.joinable()) return;
    [[maybe_unused]] ssize_t n = ::write(stop_[1], "x", 1);
    thread_.join();
    ::close(stop_[0]);
    ::close(stop_[1]);
  }

 private:
  void Copy(lcd::DirectIO& fifos) {
    char buf[16384];
    for (;;) {
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents) return;  // the process is gone: leave its stdin alone
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) break;
      try {
        fifos.WriteStdin(std::string_view(buf, static_cast<size_t>(n)));
      } catch (const lcd::Error&) {
        return;
      }
    }
    fifos.CloseStdin();
  }

  int stop_[2] = {-1, -1};
  std::thread thread_;
};

// A StdioCallback streaming output to fds 1/2 and keeping the FIFO set for a StdinPump.
lcd::StdioCallback StreamKeeping(std::shared_ptr<lcd::DirectIO>* keep) {
  return [keep](std::shared_ptr<lcd::DirectIO> f) {
    *keep = f;
    return lcd::cio::Stream(std::move(f), StdStreams(false));
  };
}

}  // namespace

lcd::cio::StreamOptions StdStreams(bool interactive) {
  lcd::cio::StreamOptions o;
  o.on_stdout = [](std::string_view d) { WriteAll(STDOUT_FILENO, d); };
  o.on_stderr = [](std::string_view d) { WriteAll(STDERR_FILENO, d); };
  o.stdin_source_fd = interactive ? STDIN_FILENO : -1;
  return o;
}

void RethrowStartError(const lcd::Error& e) {
  if (e.kind() == lcd::ErrorKind::kNotFound) throw ExitError(kExitNotFound, e.what());
  if (e.kind() == lcd::ErrorKind::kFailedPrecondition) throw ExitError(kExitCannotRun, e.what());
  throw e;
}

std::shared_ptr<lcd::Task> StartDetached(Session& s, lcd::Container& c,
                                         const std::string& checkpoint_dir, bool interactive,
                                         lcd::StdioCallback io) {
  std::shared_ptr<lcd::Task> task;
  try {
    task = c.NewTask(s.Ctx(), checkpoint_dir, interactive, std::move(io));
  } catch (const lcd::Error& e) {
    RethrowStartError(e);
  }
  try {
    task->Start(s.Ctx());
  } catch (const lcd::Error& e) {
    try {
      task->ForceDelete(s.Ctx());
    } catch (const lcd::Error&) {
    }
    RethrowStartError(e);
  }
  return task;
}

int RunInitForeground(Session& s, lcd::Container& c, bool tty, bool interactive,
                      const std::string& checkpoint_dir) {
  ForegroundSession fg(tty);  // before any thread: the signal mask is inherited
  StdinPump pump;
  std::shared_ptr<lcd::DirectIO> fifos;
  std::shared_ptr<lcd::Task> task;
  try {
    task = c.NewTask(s.Ctx(), checkpoint_dir, interactive, StreamKeeping(&fifos));
  } catch (const lcd::Error& e) {
    RethrowStartError(e);
  }
  try {
    if (tty) ResizeToLocal(*task);
    fg.Forward(task, &s);
    try {
      task->Start(s.Ctx());
    } catch (const lcd::Error& e) {
      RethrowStartError(e);
    }
    if (interactive) pump.Start(fifos);
    lcd::ExitStatus st = task->Wait(lcd::Context::Background());
    pump.Stop();
    task->Delete(s.Ctx());
    return ExitCodeOf(st);
  } catch (...) {
    try {
      task->ForceDelete(s.Ctx());
    } catch (const lcd::Error&) {
    }
    throw;
  }
}

int AttachForeground(Session& s, lcd::Container& c, bool tty, bool interactive) {
  ForegroundSession fg(tty);
  StdinPump pump;
  std::shared_ptr<lcd::DirectIO> fifos;
  auto task = c.AttachTask(s.Ctx(), StreamKeeping(&fifos));
  if (tty) ResizeToLocal(*task);
  fg.Forward(task, &s);
  if (interactive) pump.Start(fifos);
  lcd::ExitStatus st = task->Wait(lcd::Context::Background());
  pump.Stop();
  task->Delete(s.Ctx());
  return ExitCodeOf(st);
}

int ExecForeground(Session& s, lcd::Task& t, const std::string& exec_id,
                   const lcd::oci::Process& spec, bool interactive) {
  ForegroundSession fg(spec.terminal);
  StdinPump pump;
  std::shared_ptr<lcd::DirectIO> fifos;
  std::shared_ptr<lcd::Process> p;
  try {
    p = t.Exec(s.Ctx(), exec_id, spec, interactive, StreamKeeping(&fifos));
  } catch (const lcd::Error& e) {
    RethrowStartError(e);
  }
  if (spec.terminal) ResizeToLocal(*p);
  fg.Forward(p, &s);
  if (interactive) pump.Start(fifos);
  lcd::ExitStatus st = p->Wait(lcd::Context::Background());
  pump.Stop();
  p->Delete(s.Ctx());
  return ExitCodeOf(st);
}

}  // namespace lcctl
