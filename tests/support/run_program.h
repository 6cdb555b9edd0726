// Running a program (no shell) with stdin, stdout and stderr piped, for the tests that drive
// lcctl and other binaries end to end.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace lcdtest {

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

// The command, its exit code and its output, for a failure message.
std::string Describe(const std::vector<std::string>& argv, const Result& r);

struct Spawned {
  pid_t pid = -1;
  int out = -1;
  int err = -1;
};

// Starts argv (no shell) with stdin from `input` (or /dev/null), stdout and stderr piped;
// env_extra is added to this process's environment.
Spawned Spawn(const std::vector<std::string>& argv, const std::string* input,
              const std::vector<std::string>& env_extra);

// Reads the output until both pipes close and reaps; SIGKILLs the program after timeout.
Result Collect(Spawned sp, std::chrono::seconds timeout = std::chrono::seconds(60));

inline Result Exec(const std::vector<std::string>& argv, const std::string* input = nullptr,
                   const std::vector<std::string>& env = {}) {
  return Collect(Spawn(argv, input, env));
}

}  // namespace lcdtest
