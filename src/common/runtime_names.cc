#include "common/runtime_names.h"

namespace libcontainerd {

bool IsRuncShim(std::string_view shim) noexcept { return shim.starts_with("io.containerd.runc."); }

void ValidateShimName(const std::string& shim, const ErrorContext& ectx) {
  if (shim.empty() || shim[0] == '/') return;
  const auto dot = shim.find('.');
  if (dot == std::string::npos || dot == 0)
    throw Error(
        ErrorKind::kInvalidArgument,
        "runtime (shim) name \"" + shim +
            "\" cannot name a shim: containerd wants \"<prefix>.<name>.<version>\" (e.g. "
            "io.containerd.runc.v2, which runs containerd-shim-runc-v2) or an absolute path",
        ectx);
}

Error ClassifyStartError(const Error& e, const std::string& binary) {
  if (e.kind() != ErrorKind::kUnknown) return e;
  const std::string& m = e.message();
  // runc's wording for exec failures; the daemon gives no code for them.
  const bool exec_failed = m.find("exec: \"") != std::string::npos;
  if (m.find("executable file not found") != std::string::npos ||
      (exec_failed && m.find("no such file or directory") != std::string::npos)) {
    return Error(ErrorKind::kNotFound,
                 "executable \"" + binary + "\" not found in the container (" + m + ")",
                 e.context());
  }
  if (m.find("failed to start shim: mkdir") != std::string::npos &&
      m.find("file exists") != std::string::npos) {
    // containerd 1.6 keeps the bundle directory of a create cut short by its crash and removes
    // it only when it starts again; no API call reaches it.
    return Error(
        ErrorKind::kFailedPrecondition,
        "containerd still holds the state of an earlier create of this task, interrupted by a "
        "daemon crash; it removes it when it restarts (" +
            m + ")",
        e.context());
  }
  if (exec_failed && m.find("permission denied") != std::string::npos) {
    return Error(ErrorKind::kFailedPrecondition,
                 "executable \"" + binary + "\" cannot be run: permission denied (" + m + ")",
                 e.context());
  }
  return e;
}

}  // namespace libcontainerd
