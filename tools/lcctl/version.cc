// lcctl version: client and server versions.
#include <cstdint>

#include "common.h"

namespace lcctl {

namespace {

int Version(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 0, 0, "no arguments");
  auto v = s.client().GetVersion(s.Ctx());
  // The direct backend has no server: the version is the OCI runtime's.
  const bool direct = s.Direct();
  const std::string where = direct ? s.DirectOptions().runtime : s.Address();
  if (s.globals().json) {
    PrintJson({{"client", {{"version", LCCTL_VERSION}}},
               {direct ? "runtime" : "server",
                {{"version", v.version},
                 {"revision", v.revision},
                 {direct ? "binary" : "address", where}}}});
    return 0;
  }
  std::string out =
      std::string("Client:\n  Version:  ") + LCCTL_VERSION +
      (direct ? "\n\nOCI runtime (direct backend):\n  Version:  " : "\n\nServer:\n  Version:  ") +
      v.version + "\n  Revision: " + v.revision + (direct ? "\n  Binary:   " : "\n  Address:  ") +
      where + "\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace

std::vector<Command> VersionCommands() {
  return {{"version",
           "version",
           "print the client and server versions",
           "  lcctl version\n  lcctl -a /run/containerd/containerd.sock version --json",
           {},
           SIZE_MAX,
           Version}};
}

}  // namespace lcctl
