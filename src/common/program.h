// Internal: runs a host program (iptables, ip, an OCI runtime) with fork/exec, never through a
// shell, and collects what it printed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace libcontainerd {

struct ProgramResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (an absolute path) with argv, stdin from /dev/null (or `stdin_data`, at most
// 64 KiB), stdout and stderr captured. Throws Error{kNotFound} when the program is missing or
// not executable, its message ending with `missing_hint` (what to install or set), and
// kUnknown when it cannot be started.
ProgramResult RunProgram(const std::vector<std::string>& argv, const std::string& stdin_data = {},
                         std::string_view missing_hint = {});

}  // namespace libcontainerd
