#include "run_program.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string_view>

extern char** environ;

namespace lcdtest {

std::string Describe(const std::vector<std::string>& argv, const Result& r) {
  std::string s = "command:";
  for (const auto& a : argv) s += " " + a;
  return s + "\nexit: " + std::to_string(r.code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

Spawned Spawn(const std::vector<std::string>& argv, const std::string* input,
              const std::vector<std::string>& env_extra) {
  int out[2], err[2], in[2];
  EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(err, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  for (const auto& e : env_extra) envs.push_back(e);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  Spawned sp;
  int rc = posix_spawnp(&sp.pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0) << argv[0];
  close(out[1]);
  close(err[1]);
  close(in[0]);
  if (input) {
    std::string_view d = *input;
    while (!d.empty()) {
      ssize_t n = write(in[1], d.data(), d.size());
      if (n <= 0) break;
      d.remove_prefix(static_cast<size_t>(n));
    }
  }
  close(in[1]);
  sp.out = out[0];
  sp.err = err[0];
  return sp;
}

Result Collect(Spawned sp, std::chrono::seconds timeout) {
  Result r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{sp.out, POLLIN, 0}, {sp.err, POLLIN, 0}};
  int open = 2;
  char buf[4096];
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(sp.pid, SIGKILL);
      r.err += "[test: killed after timeout]";
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  waitpid(sp.pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace lcdtest
