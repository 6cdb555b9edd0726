// lcd-monitor: its command line (docs/direct-backend.md, "the monitor's command line").
#pragma once

#include <string>
#include <vector>

namespace lcdmon {

struct Options {
  std::string id;            // the container id (the runtime's id)
  std::string bundle;        // the OCI bundle (config.json)
  std::string task_dir;      // <root>/<ns>/<id>/task
  std::string runtime;       // the runtime binary: a path, or a name looked up in PATH
  std::string runtime_root;  // the runtime's --root
  std::string stdin_path, stdout_path, stderr_path;  // FIFOs; empty: /dev/null
  bool terminal = false;
  std::vector<std::string> runtime_args;  // global options of the runtime, before the command
  bool no_pivot = false;
  bool no_new_keyring = false;
  std::string restore;  // a checkpoint directory: `restore` instead of `create`
  int ready_fd = -1;
  std::string log;  // the monitor's log file; empty: no log
};

// Parses argv (argv[0] is the program). Relative paths are made absolute against `cwd` (the
// monitor changes to / later). Returns "" on success, else what is wrong (for stderr);
// out->ready_fd is set even then when the flag was readable.
std::string ParseFlags(int argc, const char* const* argv, const std::string& cwd, Options* out);

// True for an id the runtime and the state directory accept: [A-Za-z0-9]+ separated by single
// '.', '_' or '-', at most 76 characters (containerd's rule).
bool ValidId(const std::string& id);

}  // namespace lcdmon
