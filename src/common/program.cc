#include "common/program.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "libcontainerd/errors.h"

namespace libcontainerd {

ProgramResult RunProgram(const std::vector<std::string>& argv, const std::string& stdin_data,
                         std::string_view missing_hint) {
  // The input goes into a pipe before the child starts: it must fit the pipe's buffer.
  constexpr size_t kMaxStdin = 65536;
  if (stdin_data.size() > kMaxStdin)
    throw Error(ErrorKind::kInvalidArgument,
                "input of " + (argv.empty() ? std::string("(no program)") : argv[0]) + " is " +
                    std::to_string(stdin_data.size()) + " bytes, more than " +
                    std::to_string(kMaxStdin));
  if (argv.empty() || ::access(argv[0].c_str(), X_OK) != 0)
    throw Error(ErrorKind::kNotFound, (argv.empty() ? std::string("(no program)") : argv[0]) +
                                          " is missing or not executable" +
                                          (missing_hint.empty() ? "" : ": ") +
                                          std::string(missing_hint));
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw Error(ErrorKind::kUnknown, "pipe for " + argv[0], {.sys_errno = errno});
  if (::pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out[0]);
    ::close(out[1]);
    throw Error(ErrorKind::kUnknown, "pipe for " + argv[0], {.sys_errno = e});
  }
  int in[2] = {-1, -1};
  if (!stdin_data.empty()) {
    if (::pipe2(in, O_CLOEXEC) != 0) {
      int e = errno;
      for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
      throw Error(ErrorKind::kUnknown, "pipe for " + argv[0], {.sys_errno = e});
    }
    size_t off = 0;
    while (off < stdin_data.size()) {
      ssize_t n = ::write(in[1], stdin_data.data() + off, stdin_data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the child then reads a short input and fails, naming it
      off += static_cast<size_t>(n);
    }
    ::close(in[1]);
    in[1] = -1;
  }
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int input = in[0] >= 0 ? in[0] : ::open("/dev/null", O_RDONLY);
    if (input >= 0) ::dup2(input, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  int fork_errno = errno;
  ::close(out[1]);
  ::close(err[1]);
  if (in[0] >= 0) ::close(in[0]);
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    throw Error(ErrorKind::kUnknown, "fork for " + argv[0], {.sys_errno = fork_errno});
  }
  ProgramResult r;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace libcontainerd
