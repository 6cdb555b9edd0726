// lcd-monitor: the per-container monitor of libcontainerd's direct backend
// (docs/direct-backend.md). main: the flags, then the double fork into a daemon.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "flags.h"
#include "log.h"
#include "monitor.h"
#include "protocol.h"

namespace {

// Moves `fd` above 2 (0-2 become /dev/null) and makes it close-on-exec. Returns the new fd.
int Park(int fd) {
  if (fd < 0) return fd;
  if (fd <= 2) {
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (moved >= 0) fd = moved;
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

// Closes every inherited fd but `keep` (sorted, all > 2); 0, 1, 2 become /dev/null, so no fd the
// monitor opens later is a standard one and nothing ever reaches the caller's terminal.
void CloseInheritedFds(std::vector<int> keep) {
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3 && null >= 0; ++i)
    if (null != i) dup2(null, i);
  if (null > 2) keep.push_back(null);
  std::sort(keep.begin(), keep.end());
  unsigned next = 3;
  for (int k : keep) {
    if (k < 3) continue;
    if (static_cast<unsigned>(k) > next) close_range(next, static_cast<unsigned>(k) - 1, 0);
    next = static_cast<unsigned>(k) + 1;
  }
  close_range(next, ~0U, 0);
  if (null > 2) close(null);
}

}  // namespace

int main(int argc, char** argv) {
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
  lcdmon::Options options;
  std::string err = lcdmon::ParseFlags(argc, argv, cwd, &options);
  if (!err.empty()) {
    fprintf(stderr, "lcd-monitor: %s\n", err.c_str());
    if (options.ready_fd >= 0) {
      std::string line =
          lcdmon::ErrorReply(lcdmon::Kind::kInvalidArgument, "lcd-monitor: " + err) + "\n";
      if (write(options.ready_fd, line.data(), line.size()) < 0) {
      }
    }
    return 2;
  }

  // Double fork: this process (the caller's child) starts a session and exits; the monitor, its
  // child, is then no child of the caller and outlives it.
  bool session = setsid() >= 0;  // fails only for a process group leader: then in the child
  pid_t pid = fork();
  if (pid < 0) {
    std::string line = lcdmon::ErrorReply(lcdmon::Kind::kUnknown,
                                          std::string("lcd-monitor: fork: ") + strerror(errno));
    line += "\n";
    if (write(options.ready_fd, line.data(), line.size()) < 0) {
    }
    return 1;
  }
  if (pid > 0) _exit(0);
  if (!session) setsid();

  options.ready_fd = Park(options.ready_fd);
  CloseInheritedFds({options.ready_fd});
  lcdmon::LogOpen(options.log.c_str(), options.id.c_str());
  umask(022);
  if (chdir("/") < 0) {
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Signal state inherited from the caller is not passed on to the runtime and the container:
  // every disposition back to default, only SIGCHLD blocked (the signalfd), SIGPIPE ignored
  // (the runtime gets it back as default, runtime.cc).
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_SETMASK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  lcdmon::Log("monitor of %s started (bundle %s)", options.id.c_str(), options.bundle.c_str());

  lcdmon::Monitor monitor(std::move(options));
  return monitor.Run();
}
