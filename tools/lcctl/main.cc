// lcctl: global flags, command dispatch, help and exit codes.
#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "args.h"
#include "common.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"

namespace lcd = libcontainerd;
using namespace lcctl;

namespace {

std::vector<FlagSpec> GlobalFlags() {
  return {
      {"address", 'a', true, "ADDR",
       "containerd socket (env CONTAINERD_ADDRESS); default: the managed containerd"},
      {"backend", 0, true, "NAME",
       "containerd (default) or direct: no daemon, runc and one lcd-monitor per container "
       "(env LCCTL_BACKEND)"},
      {"runtime", 0, true, "BIN", "the direct backend's OCI runtime (default runc)"},
      {"namespace", 'n', true, "NS",
       "containerd namespace (env CONTAINERD_NAMESPACE, default \"default\")"},
      {"root", 0, true, "DIR", "state root of the managed containerd (default /run/lcd)"},
      {"timeout", 0, true, "DURATION", "deadline of each call to the daemon (e.g. 10s, 500ms)"},
      {"json", 0, false, "", "machine-readable output for listing and info commands"},
      {"debug", 0, false, "", "log the library's debug messages to stderr"},
      {"net-config-dir", 0, true, "DIR",
       "where networks live as CNI .conflist files (default /etc/libcontainerd/net)"},
      {"cni-path", 0, true, "DIR[:DIR]",
       "where CNI plugins are looked for (default /usr/lib/cni:/opt/cni/bin)"},
      {"help", 'h', false, "", "show help"},
      {"version", 'v', false, "", "print lcctl's version"},
  };
}

// Global flags also accepted after the command name (long forms; -n and -h too).
std::vector<FlagSpec> MergeFlags(const std::vector<FlagSpec>& cmd) {
  std::vector<FlagSpec> out = cmd;
  for (FlagSpec g : GlobalFlags()) {
    if (g.name == "version") continue;
    bool clash = false;
    for (const auto& c : cmd) {
      if (c.name == g.name) clash = true;
      if (c.short_name && c.short_name == g.short_name) g.short_name = 0;
    }
    if (g.short_name == 'a') g.short_name = 0;  // "-a" is "all" in kill
    if (!clash) out.push_back(g);
  }
  return out;
}

const std::map<std::string, std::string>& GroupAliases() {
  static const std::map<std::string, std::string> m = {
      {"containers", "container"}, {"c", "container"}, {"tasks", "task"},  {"t", "task"},
      {"images", "image"},         {"i", "image"},     {"net", "network"}, {"networks", "network"}};
  return m;
}

const std::vector<std::string> kGroups = {"container", "task", "image", "network", "daemon"};

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  for (auto f : {VersionCommands, DaemonCommands, RunCommands, ContainerCommands, TaskCommands,
                 EventsCommands, StatsCommands, ImageCommands, NetworkCommands}) {
    auto v = f();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

std::string MainHelp(const std::vector<Command>& cmds) {
  std::string s =
      "lcctl: run and manage containers through containerd (ctr's names, docker's habits)\n\n"
      "Usage: lcctl [global flags] COMMAND [flags] [ARG...]\n\n"
      "Without -a/--address, lcctl uses its own containerd under --root (/run/lcd), starting it\n"
      "on first use and leaving it running ('lcctl daemon stop' ends it).\n\nCommands:\n";
  std::size_t w = 0;
  for (const auto& c : cmds) w = std::max(w, c.name.size());
  for (const auto& c : cmds)
    s += "  " + c.name + std::string(w + 3 - c.name.size(), ' ') + c.summary + "\n";
  s += "\nGlobal flags:\n" + FormatFlags(GlobalFlags());
  s += "\nExit codes: 0 success; 125 lcctl failed; 126 the command cannot be run; 127 the command\n"
       "was not found; otherwise the container's (or exec'd process's) exit code.\n"
       "\nExample:\n  lcctl run --rm hello echo hi\n  lcctl COMMAND --help\n";
  return s;
}

std::string CommandHelp(const Command& c) {
  std::string s = c.summary + "\n\nUsage: lcctl " + c.usage + "\n";
  if (!c.flags.empty()) s += "\nFlags:\n" + FormatFlags(c.flags);
  s += "\nGlobal flags (--address, --namespace, --root, --timeout, --json, --debug,\n"
       "--net-config-dir, --cni-path) may come before the command or after it. See 'lcctl "
       "--help'.\n";
  s += "\nExample:\n" + c.example + "\n";
  return s;
}

std::string GroupHelp(const std::string& group, const std::vector<Command>& cmds) {
  std::string s = "Usage: lcctl " + group + " SUBCOMMAND [flags] [ARG...]\n\nSubcommands:\n";
  for (const auto& c : cmds)
    if (c.name.rfind(group + " ", 0) == 0)
      s += "  " + c.name.substr(group.size() + 1) + "\t" + c.summary + "\n";
  s += "\nRun 'lcctl " + group + " SUBCOMMAND --help' for details.\n";
  return s;
}

void Out(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

void Err(const std::string& s) {
  std::string line = "lcctl: " + OneLine(s) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string help_hint = "lcctl --help";
  try {
    ParsedArgs g = Parse(GlobalFlags(), args, 1);
    if (g.Has("version")) {
      Out(std::string("lcctl version ") + LCCTL_VERSION + "\n");
      return 0;
    }
    StartSignalThread();  // not for --version: a thread costs more than the rest of it
    auto cmds = AllCommands();
    if (g.positionals.empty()) {
      if (g.Has("help")) {
        Out(MainHelp(cmds));
        return 0;
      }
      throw UsageError("missing command");
    }
    std::vector<std::string> rest = g.positionals;
    std::string name = rest[0];
    rest.erase(rest.begin());
    if (auto it = GroupAliases().find(name); it != GroupAliases().end()) name = it->second;
    bool is_group = std::find(kGroups.begin(), kGroups.end(), name) != kGroups.end();
    if (is_group) {
      help_hint = "lcctl " + name + " --help";
      // The subcommand is the first argument that is not a flag.
      std::size_t i = 0;
      while (i < rest.size() && rest[i].size() > 1 && rest[i][0] == '-') ++i;
      if (i == rest.size()) {
        bool help = false;
        for (const auto& r : rest) help |= r == "-h" || r == "--help";
        if (help) {
          Out(GroupHelp(name, cmds));
          return 0;
        }
        throw UsageError("missing subcommand of '" + name + "'");
      }
      std::string sub = rest[i];
      if (name == "container" && (sub == "list")) sub = "ls";
      if (name == "container" && (sub == "delete" || sub == "del" || sub == "remove")) sub = "rm";
      if (name == "task" && sub == "list") sub = "ls";
      if (name == "image" && sub == "list") sub = "ls";
      if (name == "image" && (sub == "remove" || sub == "delete" || sub == "del")) sub = "rm";
      if (name == "network" && sub == "list") sub = "ls";
      if (name == "network" && (sub == "remove" || sub == "delete" || sub == "del")) sub = "rm";
      if (name == "task" && (sub == "rm" || sub == "del")) sub = "delete";
      name += " " + sub;
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
    }
    const Command* cmd = nullptr;
    for (const auto& c : cmds)
      if (c.name == name) cmd = &c;
    if (!cmd) throw UsageError("unknown command \"" + name + "\"");
    help_hint = "lcctl " + cmd->name + " --help";

    ParsedArgs a = Parse(MergeFlags(cmd->flags), rest, cmd->flag_positionals);
    if (a.Has("help") || g.Has("help")) {
      Out(CommandHelp(*cmd));
      return 0;
    }
    // Global flags given before or after the command; env as fallback.
    auto pick = [&](const char* flag, const char* env) -> std::string {
      if (a.Has(flag)) return a.Get(flag);
      if (g.Has(flag)) return g.Get(flag);
      const char* e = env ? std::getenv(env) : nullptr;
      return e ? e : "";
    };
    Globals gl;
    gl.address = pick("address", "CONTAINERD_ADDRESS");
    if (std::string b = pick("backend", "LCCTL_BACKEND"); b == "direct") {
      gl.direct = true;
    } else if (!b.empty() && b != "containerd") {
      throw UsageError("unknown backend \"" + b + "\" (use containerd or direct)");
    }
    if (gl.direct && (a.Has("address") || g.Has("address")))
      throw UsageError("--address names a containerd; the direct backend has none");
    gl.runtime = pick("runtime", nullptr);
    if (std::string ns = pick("namespace", "CONTAINERD_NAMESPACE"); !ns.empty()) gl.ns = ns;
    CheckId(gl.ns, "namespace");
    if (std::string r = pick("root", nullptr); !r.empty()) gl.root = r;
    if (std::string t = pick("timeout", nullptr); !t.empty())
      gl.timeout = ParseDuration("timeout", t);
    gl.json = a.Has("json") || g.Has("json");
    gl.debug = a.Has("debug") || g.Has("debug");
    if (std::string d = pick("net-config-dir", nullptr); !d.empty()) gl.net_config_dir = d;
    if (std::string p = pick("cni-path", nullptr); !p.empty()) {
      std::size_t start = 0;
      while (start <= p.size()) {
        std::size_t colon = p.find(':', start);
        std::string dir = p.substr(start, colon == std::string::npos ? colon : colon - start);
        if (!dir.empty()) gl.cni_path.push_back(dir);
        start = colon == std::string::npos ? p.size() + 1 : colon + 1;
      }
    }
    if (gl.debug) {
      lcd::SetLogSink(lcd::StderrLogSink());
      lcd::SetLogLevel(lcd::LogLevel::kDebug);
    }
    Session session(gl);
    const int rc = cmd->run(session, a);
    // The command is done and has removed what it made (containers, tasks, FIFOs and network
    // attachments are deleted by the commands themselves, not by destructors). What is left is
    // in-process only: the client's gRPC channel, its event stream and threads, whose orderly
    // shut-down (grpc_shutdown joins gRPC's thread pools) takes longer than the rest of
    // `lcctl version`. Exit without it (issue 20, bench/startup.sh); failures above still
    // unwind normally.
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(rc);
  } catch (const UsageError& e) {
    Err(std::string(e.what()) + " (see '" + help_hint + "')");
    return kExitFailure;
  } catch (const ExitError& e) {
    if (*e.what()) Err(e.what());
    return e.code();
  } catch (const lcd::Error& e) {
    Err(e.what());
    return kExitFailure;
  } catch (const std::exception& e) {
    Err(e.what());
    return kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is a write error, not death
  BlockStopSignals();
  return Main(argc, argv);
}
