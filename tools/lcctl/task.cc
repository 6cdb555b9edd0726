// lcctl task start|attach|ls|status|ps|pause|resume|kill|exec|metrics|update|resize|
// checkpoint|delete.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <cstdlib>

#include "common.h"
#include "foreground.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/signals.h"
#include "libcontainerd/stats.h"

namespace lcctl {

namespace lcd = libcontainerd;

namespace {

std::string Abs(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf)) return p;
  return std::string(buf) + "/" + p;
}

bool SpecTerminal(Session& s, lcd::Container& c) {
  auto spec = c.Spec(s.Ctx());
  return spec.process && spec.process->terminal;
}

int Start(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "container ID");
  auto c = s.LoadContainer(a.positionals[0]);
  std::string checkpoint = a.Has("checkpoint") ? Abs(a.Get("checkpoint")) : "";
  bool tty = SpecTerminal(s, *c);
  if (!a.Has("detach")) return RunInitForeground(s, *c, tty, a.Has("interactive"), checkpoint);
  // Detached: the task keeps its FIFOs so that `task attach` can join it later.
  auto task =
      StartDetached(s, *c, checkpoint, a.Has("interactive"),
                    [](std::shared_ptr<lcd::DirectIO> f) -> std::shared_ptr<lcd::IO> { return f; });
  if (s.globals().json) PrintJson({{"id", c->ID()}, {"pid", task->Pid()}});
  return 0;
}

int Attach(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "container ID");
  auto c = s.LoadContainer(a.positionals[0]);
  s.LoadTask(a.positionals[0]);  // a clear error when there is none
  bool tty = SpecTerminal(s, *c);
  return AttachForeground(s, *c, tty, isatty(STDIN_FILENO) != 0);
}

int Ls(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 0, 0, "no arguments");
  auto tasks = s.inspector().ListTasks(s.Ctx());
  if (a.Has("quiet")) {
    for (const auto& t : tasks) std::printf("%s\n", t.container_id.c_str());
    return 0;
  }
  if (s.globals().json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& t : tasks)
      arr.push_back({{"id", t.container_id},
                     {"pid", t.pid},
                     {"status", std::string(lcd::ToString(t.status))}});
    PrintJson(arr);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"TASK", "PID", "STATUS"}};
  for (const auto& t : tasks)
    rows.push_back({t.container_id, std::to_string(t.pid), std::string(lcd::ToString(t.status))});
  PrintTable(rows);
  return 0;
}

int StatusCmd(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "container ID");
  auto t = s.LoadTask(a.positionals[0]);
  const lcd::TaskStatus st = t->GetStatus(s.Ctx());
  if (s.globals().json) {
    nlohmann::json j = {
        {"id", a.positionals[0]}, {"pid", t->Pid()}, {"status", std::string(lcd::ToString(st))}};
    if (st.status == lcd::Status::kStopped) {
      j["exit_status"] = st.exit_code;
      j["exited_at"] = FormatTime(st.exited_at);
    }
    PrintJson(j);
  } else
    std::printf("%s\n", std::string(lcd::ToString(st)).c_str());
  return 0;
}

int Ps(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "container ID");
  auto pids = s.LoadTask(a.positionals[0])->Pids(s.Ctx());
  if (s.globals().json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& p : pids)
      arr.push_back({{"pid", p.pid},
                     {"exec_id", p.exec_id},
                     {"info_type", p.info ? nlohmann::json(p.info->type_url) : nlohmann::json()}});
    PrintJson(arr);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"PID", "EXEC ID"}};
  for (const auto& p : pids)
    rows.push_back({std::to_string(p.pid), p.exec_id.empty() ? "-" : p.exec_id});
  PrintTable(rows);
  return 0;
}

int Pause(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "container ID");
  s.LoadTask(a.positionals[0])->Pause(s.Ctx());
  return 0;
}

int Resume(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "container ID");
  s.LoadTask(a.positionals[0])->Resume(s.Ctx());
  return 0;
}

int Kill(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "container ID");
  const std::string id = a.positionals[0];
  int sig = SIGTERM;
  if (a.Has("signal")) {
    try {
      sig = lcd::oci::ParseSignal(a.Get("signal"));
    } catch (const lcd::Error&) {
      throw UsageError("invalid --signal \"" + a.Get("signal") +
                       "\": use a name (KILL, SIGTERM) or a number");
    }
  }
  std::string exec_id = a.Get("exec-id");
  if (!exec_id.empty()) CheckId(exec_id, "exec id");
  if (a.Has("all") && !exec_id.empty()) throw UsageError("-a/--all cannot be used with --exec-id");
  s.LoadTask(id);
  try {
    s.inspector().Kill(s.Ctx(), id, exec_id, sig, a.Has("all"));
  } catch (const lcd::Error& e) {
    if (lcd::IsNotFound(e))
      throw ExitError(kExitFailure, exec_id.empty() ? "task " + id + " has already exited"
                                                    : "exec " + exec_id + " of " + id +
                                                          " not found or already exited");
    throw;
  }
  return 0;
}

std::vector<std::string> MergeEnv(std::vector<std::string> base,
                                  const std::vector<std::string>& extra) {
  for (const auto& e : extra) {
    if (e.empty() || e[0] == '=')
      throw UsageError("invalid --env \"" + e + "\": expected KEY=VALUE");
    std::string key = e.substr(0, e.find('='));
    std::erase_if(base, [&](const std::string& b) { return b.substr(0, b.find('=')) == key; });
    base.push_back(e);
  }
  return base;
}

int Exec(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, SIZE_MAX, "container ID");
  if (a.positionals.size() < 2) throw UsageError("missing command to exec");
  const std::string id = a.positionals[0];
  std::string exec_id = a.Get("exec-id");
  if (exec_id.empty()) throw UsageError("missing --exec-id");
  CheckId(exec_id, "exec id");
  auto c = s.LoadContainer(id);
  auto task = s.LoadTask(id);
  // Like ctr: the container's process settings, with the command and options replaced.
  auto spec = c->Spec(s.Ctx());
  std::string rootfs =
      spec.root && !spec.root->path.empty() && spec.root->path[0] == '/' ? spec.root->path : "";
  lcd::oci::Process p;
  if (spec.process) {
    p = *spec.process;
  } else {
    lcd::oci::ProcessOptions po;
    po.args = {"sh"};
    p = lcd::oci::DefaultProcess(po);
  }
  p.args.assign(a.positionals.begin() + 1, a.positionals.end());
  p.terminal = a.Has("tty");
  p.console_size.reset();
  if (a.Has("cwd")) p.cwd = a.Get("cwd");
  if (a.Has("user")) p.user = lcd::oci::ResolveUser(rootfs, a.Get("user"));
  p.env = MergeEnv(p.env, a.All("env"));
  if (p.terminal && std::none_of(p.env.begin(), p.env.end(),
                                 [](const std::string& e) { return e.rfind("TERM=", 0) == 0; }))
    p.env.push_back("TERM=xterm");
  if (a.Has("detach")) {
    try {
      // A terminal needs FIFOs (the shim copies the console to them); else /dev/null.
      lcd::StdioCallback keep;
      if (p.terminal || a.Has("interactive"))
        keep = [](std::shared_ptr<lcd::DirectIO> f) -> std::shared_ptr<lcd::IO> { return f; };
      task->Exec(s.Ctx(), exec_id, p, a.Has("interactive"), keep);
    } catch (const lcd::Error& e) {
      RethrowStartError(e);
    }
    return 0;
  }
  return ExecForeground(s, *task, exec_id, p, a.Has("interactive"));
}

int Metrics(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, SIZE_MAX, "container ID");
  std::string format = a.Get("format", s.globals().json ? "json" : "table");
  if (format != "table" && format != "json")
    throw UsageError("invalid --format \"" + format + "\": table or json");
  for (const auto& id : a.positionals) CheckId(id);
  auto stats = s.client().StatsMany(s.Ctx(), a.positionals);
  for (const auto& id : a.positionals)
    if (!stats.count(id)) {
      s.LoadContainer(id);
      throw ExitError(kExitFailure,
                      "container " + id + " has no running task in namespace " + s.globals().ns);
    }
  if (format == "json") {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& id : a.positionals) {
      nlohmann::json j = nlohmann::json::parse(lcd::StatsToJsonString(stats.at(id)));
      j["id"] = id;
      arr.push_back(j);
    }
    PrintJson(a.positionals.size() == 1 ? arr[0] : arr);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{
      {"ID", "CGROUP", "CPU (ns)", "MEMORY (bytes)", "LIMIT (bytes)", "PIDS"}};
  for (const auto& id : a.positionals) {
    const auto& st = stats.at(id);
    auto sum = lcd::Summarize(st);
    rows.push_back({id,
                    st.v1()   ? "v1"
                    : st.v2() ? "v2"
                              : "none",
                    std::to_string(sum.cpu_total_ns), std::to_string(sum.memory_usage),
                    std::to_string(sum.memory_limit), std::to_string(sum.pids_current)});
  }
  PrintTable(rows);
  return 0;
}

int Update(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "container ID");
  lcd::Resources r;
  if (a.Has("memory-limit")) {
    r.memory.emplace();
    r.memory->limit = ParseBytes("memory-limit", a.Get("memory-limit"));
  }
  if (a.Has("cpus")) {
    double cpus = ParsePositiveDouble("cpus", a.Get("cpus"));
    r.cpu.emplace();
    r.cpu->period = 100000;
    r.cpu->quota = static_cast<int64_t>(cpus * 100000);
  }
  if (a.Has("pids-limit")) {
    r.pids.emplace();
    r.pids->limit = ParseInt("pids-limit", a.Get("pids-limit"), true);
  }
  if (!r.memory && !r.cpu && !r.pids)
    throw UsageError("nothing to update: give --memory-limit, --cpus or --pids-limit");
  s.LoadTask(a.positionals[0])->UpdateResources(s.Ctx(), r);
  return 0;
}

uint32_t ParseDim(const std::string& what, const std::string& v) {
  int64_t n = 0;
  try {
    n = ParseInt(what, v);
  } catch (const UsageError&) {
    throw UsageError("invalid " + what + " \"" + v + "\": expected a positive integer");
  }
  if (n > 65535) throw UsageError("invalid " + what + " \"" + v + "\": at most 65535");
  return static_cast<uint32_t>(n);
}

int Resize(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 3, 3, "container ID, WIDTH and HEIGHT");
  const std::string id = a.positionals[0];
  uint32_t w = ParseDim("width", a.positionals[1]);
  uint32_t h = ParseDim("height", a.positionals[2]);
  auto task = s.LoadTask(id);
  std::string exec_id = a.Get("exec-id");
  if (exec_id.empty()) {
    task->Resize(s.Ctx(), w, h);
  } else {
    CheckId(exec_id, "exec id");
    s.inspector().LoadExec(s.Ctx(), id, exec_id)->Resize(s.Ctx(), w, h);
  }
  return 0;
}

int Checkpoint(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 2, 2, "container ID and DIR");
  s.LoadTask(a.positionals[0])->CreateCheckpoint(s.Ctx(), Abs(a.positionals[1]), a.Has("exit"));
  return 0;
}

int Delete(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "container ID");
  const std::string id = a.positionals[0];
  std::string exec_id = a.Get("exec-id");
  auto task = s.LoadTask(id);
  lcd::ExitStatus st{};
  try {
    if (!exec_id.empty()) {
      CheckId(exec_id, "exec id");
      std::shared_ptr<lcd::Process> p;
      try {
        p = s.inspector().LoadExec(s.Ctx(), id, exec_id);
      } catch (const lcd::Error& e) {
        if (lcd::IsNotFound(e))
          throw ExitError(kExitFailure, "exec " + exec_id + " of " + id + " not found");
        throw;
      }
      if (a.Has("force")) {
        try {
          p->Kill(s.Ctx(), SIGKILL);
        } catch (const lcd::Error&) {
        }
        p->Wait(s.Ctx());
      }
      st = p->Delete(s.Ctx());
    } else if (a.Has("force")) {
      task->ForceDelete(s.Ctx());
    } else {
      st = task->Delete(s.Ctx());
    }
  } catch (const lcd::Error& e) {
    if (lcd::IsFailedPrecondition(e))
      throw ExitError(kExitFailure,
                      (exec_id.empty() ? "task " + id : "exec " + exec_id + " of " + id) +
                          " is still running: kill it first or use 'lcctl task delete -f'");
    throw;
  }
  if (s.globals().json)
    PrintJson({{"id", id}, {"exec_id", exec_id}, {"exit_status", st.exit_code}});
  return 0;
}

}  // namespace

std::vector<Command> TaskCommands() {
  const FlagSpec exec_id{"exec-id", 0, true, "E",
                         "the exec process instead of the task's init process"};
  const FlagSpec limits[] = {
      {"memory-limit", 0, true, "BYTES", "memory limit (bytes; k, m, g suffixes accepted)"},
      {"cpus", 0, true, "N", "CPUs the task may use (fractional: 0.5)"},
      {"pids-limit", 0, true, "N", "maximum number of tasks (-1: unlimited)"}};
  return {
      {"task start",
       "task start [-d] [-i] [--checkpoint DIR] ID",
       "start the container's task; in the foreground, exits with its exit code",
       "  lcctl container create web1 sleep 100 && lcctl task start -d web1",
       {{"detach", 'd', false, "", "start it and return"},
        {"interactive", 'i', false, "", "copy lcctl's stdin to the task"},
        {"checkpoint", 0, true, "DIR", "restore from this checkpoint directory"}},
       SIZE_MAX,
       Start},
      {"task attach",
       "task attach ID",
       "attach to a running task's stdio; exits with its exit code",
       "  lcctl task attach web1",
       {},
       SIZE_MAX,
       Attach},
      {"task ls",
       "task ls [-q]",
       "list tasks: TASK PID STATUS",
       "  lcctl task ls --json",
       {{"quiet", 'q', false, "", "print only the ids"}},
       SIZE_MAX,
       Ls},
      {"task status",
       "task status ID",
       "print the task's status (created, running, paused, stopped)",
       "  lcctl task status web1",
       {},
       SIZE_MAX,
       StatusCmd},
      {"task ps",
       "task ps ID",
       "list the task's processes: PID EXEC ID",
       "  lcctl task ps web1",
       {},
       SIZE_MAX,
       Ps},
      {"task pause",
       "task pause ID",
       "freeze every process of the task",
       "  lcctl task pause web1",
       {},
       SIZE_MAX,
       Pause},
      {"task resume",
       "task resume ID",
       "thaw a paused task",
       "  lcctl task resume web1",
       {},
       SIZE_MAX,
       Resume},
      {"task kill",
       "task kill [-s SIGNAL] [-a] [--exec-id E] ID",
       "signal a task (default SIGTERM)",
       "  lcctl task kill web1\n  lcctl task kill -s KILL -a web1",
       {{"signal", 's', true, "SIGNAL", "signal name or number (default SIGTERM)"},
        {"all", 'a', false, "", "signal every process of the container"},
        exec_id},
       SIZE_MAX,
       Kill},
      {"task exec",
       "task exec --exec-id E [-t] [-i] [-d] [--cwd DIR] [--user U[:G]] [--env K=V]... ID CMD "
       "[ARG...]",
       "run a command in a running task; exits with its exit code",
       "  lcctl task exec --exec-id sh1 -t -i web1 sh\n  lcctl task exec --exec-id ls1 web1 ls /",
       {{"exec-id", 0, true, "E", "id of the new process (required)"},
        {"tty", 't', false, "", "allocate a terminal"},
        {"interactive", 'i', false, "", "copy lcctl's stdin to the process"},
        {"detach", 'd', false, "", "start it and return"},
        {"cwd", 0, true, "DIR", "working directory"},
        {"user", 'u', true, "U[:G]", "user (name or uid) and optional group"},
        {"env", 'e', true, "K=V", "set an environment variable (repeatable)"}},
       1,
       Exec},
      {"task metrics",
       "task metrics [--format table|json] ID...",
       "print the tasks' cgroup metrics",
       "  lcctl task metrics web1\n  lcctl task metrics --format json web1 web2",
       {{"format", 0, true, "FORMAT", "table (default) or json (every field)"}},
       SIZE_MAX,
       Metrics},
      {"task update",
       "task update [--memory-limit BYTES] [--cpus N] [--pids-limit N] ID",
       "change a running task's resource limits",
       "  lcctl task update --memory-limit 128m web1",
       {limits[0], limits[1], limits[2]},
       SIZE_MAX,
       Update},
      {"task resize",
       "task resize [--exec-id E] ID WIDTH HEIGHT",
       "resize a task's (or exec's) terminal",
       "  lcctl task resize web1 120 40",
       {exec_id},
       SIZE_MAX,
       Resize},
      {"task checkpoint",
       "task checkpoint [--exit] ID DIR",
       "checkpoint a task with CRIU into DIR",
       "  lcctl task checkpoint --exit web1 /tmp/cp1 && lcctl task start --checkpoint /tmp/cp1 "
       "web1",
       {{"exit", 0, false, "", "stop the task after the checkpoint"}},
       SIZE_MAX,
       Checkpoint},
      {"task delete",
       "task delete [-f] [--exec-id E] ID",
       "delete a stopped task (or exec process)",
       "  lcctl task delete web1\n  lcctl task delete -f web1",
       {{"force", 'f', false, "", "kill it first"}, exec_id},
       SIZE_MAX,
       Delete},
  };
}

}  // namespace lcctl
