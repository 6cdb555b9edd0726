#include "common/task_checks.h"

#include <sys/stat.h>

#include "libcontainerd/types.h"

namespace libcontainerd {

void CheckNewTask(const std::string& root_path, const std::string& bundle_dir, bool terminal,
                  bool has_stdio, const std::string& checkpoint_dir, ErrorContext ectx) {
  if (!root_path.empty() && (root_path[0] == '/' || !bundle_dir.empty())) {
    const std::string root = root_path[0] == '/' ? root_path : bundle_dir + "/" + root_path;
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      ectx.path = root;
      throw Error(ErrorKind::kNotFound,
                  "rootfs " + root +
                      " does not exist or is not a directory: prepare it before starting the task",
                  ectx);
    }
  }
  if (terminal && !has_stdio)
    throw Error(
        ErrorKind::kInvalidArgument,
        "the spec asks for a terminal (process.terminal): pass a StdioCallback to receive it",
        ectx);
  if (!checkpoint_dir.empty() && checkpoint_dir[0] != '/') {
    ectx.path = checkpoint_dir;
    throw Error(ErrorKind::kInvalidArgument, "checkpoint directory must be an absolute path", ectx);
  }
}

void CheckExec(const std::string& exec_id, const oci::Process& spec, bool has_stdio,
               const ErrorContext& ectx) {
  ValidateIdentifier("exec id", exec_id);
  try {
    oci::ValidateProcess(spec);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidArgument, e.message(), ectx);
  }
  if (spec.terminal && !has_stdio)
    throw Error(
        ErrorKind::kInvalidArgument,
        "a process with a terminal needs stdio: pass a StdioCallback (its output is the terminal)",
        ectx);
}

}  // namespace libcontainerd
