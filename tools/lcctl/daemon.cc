// lcctl daemon start|stop|status: the managed containerd under --root.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>

#include "common.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/supervisor.h"

namespace lcctl {

namespace lcd = libcontainerd;

namespace {

void NeedManaged(Session& s, const char* what) {
  if (!s.Managed())
    throw UsageError(std::string("'daemon ") + what +
                     "' manages lcctl's own containerd: drop -a/--address " +
                     "(and CONTAINERD_ADDRESS), choose it with --root");
}

int Start(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 0, 0, "no arguments");
  NeedManaged(s, "start");
  lcd::SupervisorOptions o;
  o.root = s.globals().root;
  o.detached = true;
  o.watch = false;
  lcd::Supervisor sup(o);
  if (s.globals().json) {
    PrintJson({{"root", sup.root()},
               {"address", sup.address()},
               {"pid", sup.pid()},
               {"adopted", sup.adopted()},
               {"log", sup.log_path()}});
  } else {
    std::printf("containerd %s (pid %d, socket %s, log %s)\n",
                sup.adopted() ? "already running" : "started", static_cast<int>(sup.pid()),
                sup.address().c_str(), sup.log_path().c_str());
  }
  return 0;
}

int Stop(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 0, 0, "no arguments");
  NeedManaged(s, "stop");
  bool stopped = lcd::Supervisor::StopDaemon(s.globals().root);
  if (s.globals().json)
    PrintJson({{"root", s.globals().root}, {"stopped", stopped}});
  else
    std::printf("%s\n", stopped ? "containerd stopped" : "containerd was not running");
  return 0;
}

int StatusCmd(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 0, 0, "no arguments");
  NeedManaged(s, "status");
  const std::string root = s.globals().root;
  const std::string addr = lcd::Supervisor::AddressFor(root);
  int pid = 0;
  std::ifstream(root + "/containerd.pid") >> pid;
  bool alive = pid > 0 && ::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0;
  bool serving = false;
  std::string version;
  if (alive) {
    try {
      lcd::ClientOptions o;
      o.address = addr;
      o.ns = s.globals().ns;
      o.state_dir = root + "/clients";
      o.connect_timeout = std::chrono::milliseconds(2000);
      version = lcd::NewContainerdClient(o)
                    ->GetVersion(lcd::Context::WithTimeout(std::chrono::seconds(2)))
                    .version;
      serving = true;
    } catch (const lcd::Error&) {
    }
  }
  if (s.globals().json) {
    PrintJson({{"root", root},
               {"address", addr},
               {"running", alive},
               {"serving", serving},
               {"pid", alive ? pid : 0},
               {"version", version}});
  } else if (serving) {
    std::printf("running (pid %d, containerd %s, socket %s)\n", pid, version.c_str(), addr.c_str());
  } else if (alive) {
    std::printf("not serving (pid %d, socket %s)\n", pid, addr.c_str());
  } else {
    std::printf("stopped (root %s)\n", root.c_str());
  }
  // Like `systemctl status`: 0 serving, 3 not running.
  return serving ? 0 : 3;
}

}  // namespace

std::vector<Command> DaemonCommands() {
  return {
      {"daemon start",
       "daemon start",
       "start lcctl's own containerd (or report the one running)",
       "  lcctl daemon start\n  lcctl --root /tmp/lcd2 daemon start",
       {},
       SIZE_MAX,
       Start},
      {"daemon stop",
       "daemon stop",
       "stop lcctl's own containerd (containers keep running)",
       "  lcctl daemon stop",
       {},
       SIZE_MAX,
       Stop},
      {"daemon status",
       "daemon status",
       "report whether lcctl's own containerd is serving (exit 0 serving, 3 not running)",
       "  lcctl daemon status --json",
       {},
       SIZE_MAX,
       StatusCmd},
  };
}

}  // namespace lcctl
