// lcd-engine: the exec endpoints (docker exec): create, start (hijacked or detached), inspect and
// resize. An exec's exit comes from the library's event (Containers::on_exec_exit, set here);
// its output is copied from the process's FIFOs to the hijacked connection.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "common.h"
#include "containers.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/spec.h"

namespace lcde {

namespace lcd = libcontainerd;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> GetStrList(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || j[key].is_null()) return out;
  const json& v = j[key];
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) throw HttpError(400, std::string(key) + ": expected a list of strings");
  for (const auto& x : v) {
    if (!x.is_string()) throw HttpError(400, std::string(key) + ": expected a list of strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

// [height, width] or null.
std::optional<std::pair<uint32_t, uint32_t>> GetConsoleSize(const json& j) {
  if (!j.contains("ConsoleSize") || j["ConsoleSize"].is_null()) return std::nullopt;
  const json& v = j["ConsoleSize"];
  if (!v.is_array() || v.size() != 2 || !v[0].is_number_unsigned() || !v[1].is_number_unsigned())
    throw HttpError(400, "ConsoleSize: expected [height, width] (two unsigned integers)");
  uint32_t h = v[0].get<uint32_t>(), w = v[1].get<uint32_t>();
  if (h == 0 || w == 0) return std::nullopt;
  return std::make_pair(h, w);
}

// Where an exec's output goes: the hijacked connection (raw with a terminal, else docker's
// frames), held back until the connection is hijacked; dropped for a detached exec.
class Sink {
 public:
  static constexpr size_t kMaxPending = 4 * 1024 * 1024;
  Sink(bool raw, bool out, bool err, bool discard)
      : raw_(raw), out_(out), err_(err), discard_(discard) {}

  void Write(int stream, std::string_view data) {
    if ((stream == 1 && !out_) || (stream == 2 && !err_)) return;
    std::lock_guard l(mu_);
    if (discard_ || failed_) return;
    std::string piece = raw_ ? std::string(data) : Frame(stream, data);
    if (fd_ < 0) {
      if (pending_.size() + piece.size() <= kMaxPending) pending_ += piece;
      return;
    }
    if (!SendAll(fd_, piece)) failed_ = true;
  }
  // A message of the engine on the stream (docker writes start errors to stdout).
  void Message(const std::string& text) {
    std::lock_guard l(mu_);
    if (fd_ < 0 || failed_) return;
    if (!SendAll(fd_, raw_ ? text : Frame(1, text))) failed_ = true;
  }
  void Attach(int fd) {
    std::lock_guard l(mu_);
    fd_ = fd;
    if (!pending_.empty() && !SendAll(fd_, pending_)) failed_ = true;
    pending_.clear();
  }
  void Detach() {
    std::lock_guard l(mu_);
    fd_ = -1;
    discard_ = true;
  }

 private:
  std::mutex mu_;
  const bool raw_, out_, err_;
  bool discard_;
  bool failed_ = false;
  int fd_ = -1;
  std::string pending_;
};

// The engine's side of a started exec, until its process is deleted.
struct Live {
  std::mutex mu;
  std::condition_variable cv;
  std::weak_ptr<Ctr> ctr;
  std::shared_ptr<Ctr::Exec> exec;
  std::shared_ptr<lcd::Process> process;  // set once Exec returned
  std::shared_ptr<lcd::IO> io;
  std::optional<uint32_t> pending_exit;  // the exit came before Exec returned
  bool reaping = false;
  bool done = false;  // output flushed, exit recorded, process deleted
};

struct ExecState {
  Engine* engine = nullptr;
  std::mutex mu;
  std::map<std::string, std::shared_ptr<Live>> live;  // exec id -> live exec

  std::shared_ptr<Live> Find(const std::string& exec_id) {
    std::lock_guard l(mu);
    auto it = live.find(exec_id);
    return it == live.end() ? nullptr : it->second;
  }
};

// Waits for an IO's output to be copied, at most `limit` (a child that keeps the output open
// would hold it forever: docker waits 2 s too), then cancels the copy.
void WaitIo(const std::shared_ptr<lcd::IO>& io, std::chrono::milliseconds limit) {
  if (!io) return;
  auto flag = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
  auto finished = std::make_shared<bool>(false);
  std::thread t([io, flag, finished] {
    io->Wait();
    {
      std::lock_guard l(flag->first);
      *finished = true;
    }
    flag->second.notify_all();
  });
  {
    std::unique_lock l(flag->first);
    if (!flag->second.wait_for(l, limit, [&] { return *finished; })) {
      l.unlock();
      io->Cancel();
    }
  }
  t.join();
}

// Records an exec's exit: flushes its output, deletes the process, publishes exec_die. On a
// thread of its own (the exit arrives on the library's event thread, which must not block).
void Reap(const std::shared_ptr<ExecState>& state, const std::string& exec_id,
          const std::shared_ptr<Live>& live, uint32_t code) {
  std::thread([state, exec_id, live, code] {
    std::shared_ptr<lcd::Process> process;
    std::shared_ptr<lcd::IO> io;
    {
      std::lock_guard l(live->mu);
      process = live->process;
      io = live->io;
    }
    WaitIo(io, 2s);
    if (process) {
      try {
        process->Delete(Engine::Ctx());
      } catch (const lcd::Error& e) {
        if (e.kind() != lcd::ErrorKind::kNotFound)
          lcd::Log(lcd::LogLevel::kWarning,
                   "lcd-engine: deleting exec " + exec_id + ": " + e.message());
      }
    }
    if (io) io->Close();
    auto c = live->ctr.lock();
    if (c) {
      std::lock_guard l(c->mu);
      live->exec->running = false;
      live->exec->exited = true;
      live->exec->exited_at = std::chrono::steady_clock::now();
      live->exec->exit_code = static_cast<int>(code);
      live->exec->process.reset();
      live->exec->fifos.reset();
    }
    if (c)
      state->engine->containers().Publish(
          *c, "exec_die", {{"execID", exec_id}, {"exitCode", std::to_string(code)}});
    {
      std::lock_guard l(live->mu);
      live->done = true;
    }
    live->cv.notify_all();
    std::lock_guard l(state->mu);
    state->live.erase(exec_id);
  }).detach();
}

// Marks the exit of a live exec: reaps it now, or once Exec has returned its process.
void OnExit(const std::shared_ptr<ExecState>& state, const std::string& exec_id,
            const std::shared_ptr<Live>& live, uint32_t code) {
  {
    std::lock_guard l(live->mu);
    if (live->reaping) return;
    if (!live->process) {
      live->pending_exit = code;
      return;
    }
    live->reaping = true;
  }
  Reap(state, exec_id, live, code);
}

// docker's ReplaceOrAppendEnvValues: overrides replace a variable of the same name or are
// appended; a bare "NAME" removes it.
std::vector<std::string> MergeEnv(std::vector<std::string> base,
                                  const std::vector<std::string>& overrides) {
  auto key = [](const std::string& e) { return e.substr(0, e.find('=')); };
  for (const auto& o : overrides) {
    bool replaced = false;
    for (auto& b : base) {
      if (key(b) == key(o)) {
        b = o;
        replaced = true;
      }
    }
    if (!replaced) base.push_back(o);
  }
  base.erase(std::remove_if(base.begin(), base.end(),
                            [](const std::string& e) { return e.find('=') == std::string::npos; }),
             base.end());
  return base;
}

// Every capability the engine itself may hold (its bounding set: all the kernel knows unless
// the engine runs confined), which docker gives to a privileged exec.
std::vector<std::string> AllCapabilities() {
  static const char* names[] = {"CHOWN",
                                "DAC_OVERRIDE",
                                "DAC_READ_SEARCH",
                                "FOWNER",
                                "FSETID",
                                "KILL",
                                "SETGID",
                                "SETUID",
                                "SETPCAP",
                                "LINUX_IMMUTABLE",
                                "NET_BIND_SERVICE",
                                "NET_BROADCAST",
                                "NET_ADMIN",
                                "NET_RAW",
                                "IPC_LOCK",
                                "IPC_OWNER",
                                "SYS_MODULE",
                                "SYS_RAWIO",
                                "SYS_CHROOT",
                                "SYS_PTRACE",
                                "SYS_PACCT",
                                "SYS_ADMIN",
                                "SYS_BOOT",
                                "SYS_NICE",
                                "SYS_RESOURCE",
                                "SYS_TIME",
                                "SYS_TTY_CONFIG",
                                "MKNOD",
                                "LEASE",
                                "AUDIT_WRITE",
                                "AUDIT_CONTROL",
                                "SETFCAP",
                                "MAC_OVERRIDE",
                                "MAC_ADMIN",
                                "SYSLOG",
                                "WAKE_ALARM",
                                "BLOCK_SUSPEND",
                                "AUDIT_READ",
                                "PERFMON",
                                "BPF",
                                "CHECKPOINT_RESTORE"};
  uint64_t bounding = ~uint64_t{0};
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("CapBnd:", 0) == 0) bounding = std::strtoull(line.c_str() + 7, nullptr, 16);
  std::vector<std::string> out;
  for (size_t i = 0; i < std::size(names); ++i)
    if (bounding & (uint64_t{1} << i)) out.push_back(std::string("CAP_") + names[i]);
  return out;
}

// Resolves an exec's user in the container's live root file system (its init process's root),
// or the image's when the pid is unknown. Throws HttpError 400 naming the user.
lcd::oci::User ResolveExecUser(Engine& engine, const std::string& user, int pid,
                               const std::string& image_ref) {
  try {
    if (pid > 0) return lcd::oci::ResolveUser("/proc/" + std::to_string(pid) + "/root", user);
    lcd::oci::User out;
    engine.images().WithRootfs(Engine::Ctx(), image_ref, [&](const std::string& dir) {
      out = lcd::oci::ResolveUser(dir, user);
    });
    return out;
  } catch (const lcd::Error& e) {
    // docker's words for a name missing in the files; the library's reason for other failures
    // (no /etc/passwd in the container, a malformed user).
    const std::string& m = e.message();
    if (m.find("no group") != std::string::npos)
      throw HttpError(400, "unable to find group " + user.substr(user.find(':') + 1) +
                               ": no matching entries in group file");
    if (m.find("no user") != std::string::npos)
      throw HttpError(400, "unable to find user " + user + ": no matching entries in passwd file");
    throw HttpError(400, "unable to find user " + user + ": " + m);
  }
}

// The state checks of docker's getActiveContainer / getExecConfig (c->mu held).
void CheckRunning(const Ctr& c) {
  if (c.removed) throw HttpError(404, "No such container: " + c.rec.id);
  if (c.rec.status == "paused")
    throw HttpError(409, "Container " + c.rec.id + " is paused, unpause the container before exec");
  if (c.rec.status != "running" || !c.task)
    throw HttpError(409, "Container " + c.rec.id + " is not running");
}

std::string CommandText(const json& config) {
  std::vector<std::string> cmd = config.value("Cmd", std::vector<std::string>{});
  std::string s = cmd.empty() ? "" : cmd[0];
  s += " ";
  for (size_t i = 1; i < cmd.size(); ++i) s += (i > 1 ? " " : "") + cmd[i];
  return s;
}

// The daemon's own words in a library error ("executable \"x\" not found in the container
// (OCI runtime exec failed: ...)"): the part in parentheses when there is one.
std::string DaemonWords(const lcd::Error& e) {
  const std::string& m = e.message();
  size_t open = m.find(" (OCI runtime");
  if (open != std::string::npos && m.back() == ')') return m.substr(open + 2, m.size() - open - 3);
  if (m.find("OCI runtime") != std::string::npos) return m;
  return "OCI runtime exec failed: " + m;
}

void CreateExec(Engine& engine, Request& req, Response& res) {
  json body = ParseJsonBody(req);
  auto c = engine.containers().Get(req.Param("id"));
  std::vector<std::string> cmd = GetStrList(body, "Cmd");
  if (cmd.empty()) throw HttpError(400, "No exec command specified");
  std::string user = JsonStr(body, "User");
  std::string workdir = JsonStr(body, "WorkingDir");
  if (!workdir.empty() && workdir[0] != '/')
    throw HttpError(
        400, "the working directory '" + workdir + "' is invalid, it needs to be an absolute path");
  int pid;
  std::string image_ref;
  {
    std::lock_guard l(c->mu);
    CheckRunning(*c);
    pid = c->rec.pid;
    image_ref = c->rec.image_ref;
  }
  // Checked now so that docker exec fails before anything runs (as dockerd).
  if (!user.empty()) ResolveExecUser(engine, user, pid, image_ref);

  auto e = std::make_shared<Ctr::Exec>();
  e->id = RandomHex(32);
  json cfg = json::object();
  cfg["AttachStdin"] = JsonBool(body, "AttachStdin");
  cfg["AttachStdout"] = JsonBool(body, "AttachStdout");
  cfg["AttachStderr"] = JsonBool(body, "AttachStderr");
  cfg["DetachKeys"] = JsonStr(body, "DetachKeys");
  cfg["Tty"] = JsonBool(body, "Tty");
  if (auto cs = GetConsoleSize(body))
    cfg["ConsoleSize"] = {cs->first, cs->second};
  else
    cfg["ConsoleSize"] = nullptr;
  cfg["Env"] = GetStrList(body, "Env");
  cfg["Cmd"] = cmd;
  cfg["Privileged"] = JsonBool(body, "Privileged");
  cfg["User"] = user;
  cfg["WorkingDir"] = workdir;
  e->config = cfg;
  engine.containers().AddExec(c, e);
  engine.containers().Publish(*c, "exec_create: " + CommandText(cfg), {{"execID", e->id}});
  SendJson(res, 201, json{{"Id", e->id}}.dump());
}

void StartExec(Engine& engine, const std::shared_ptr<ExecState>& state, Request& req,
               Response& res) {
  json body = ParseJsonBody(req);
  const bool detach = JsonBool(body, "Detach");
  const bool start_tty = JsonBool(body, "Tty");
  auto start_size = GetConsoleSize(body);
  auto found = engine.containers().GetExec(req.Param("id"));
  std::shared_ptr<Ctr> c = found.first;
  std::shared_ptr<Ctr::Exec> e = found.second;

  json cfg;
  std::shared_ptr<lcd::Task> task;
  std::shared_ptr<lcd::Container> container;
  int pid;
  std::string image_ref, container_user, container_workdir;
  {
    std::lock_guard l(c->mu);
    CheckRunning(*c);
    if (e->exited) throw HttpError(409, "exec command " + e->id + " has already run");
    if (e->running || e->started)
      throw HttpError(409, "exec command " + e->id + " is already running");
    e->started = true;
    e->running = true;
    cfg = e->config;
    task = c->task;
    container = c->container;
    pid = c->rec.pid;
    image_ref = c->rec.image_ref;
    container_user = c->rec.config.value("User", "");
    container_workdir = c->rec.config.value("WorkingDir", "");
  }
  const bool tty = cfg.value("Tty", false);
  const bool attach_stdin = cfg.value("AttachStdin", false);
  const std::string exec_id = e->id;
  const std::string cmd_text = CommandText(cfg);
  auto fail_start = [&](int code) {
    std::lock_guard l(c->mu);
    e->running = false;
    e->exited = true;
    e->exited_at = std::chrono::steady_clock::now();
    e->exit_code = code;
  };

  // The process: the container's, with the exec's command, environment, directory and user.
  lcd::Context ctx = Engine::Ctx();
  lcd::oci::Process p;
  try {
    if (!container) container = engine.client().LoadContainer(ctx, c->rec.id);
    lcd::oci::Spec spec = container->Spec(ctx);
    if (spec.process) p = *spec.process;
    p.args = cfg.value("Cmd", std::vector<std::string>{});
    p.terminal = tty;
    p.console_size.reset();
    auto size = start_size;
    if (!size && cfg["ConsoleSize"].is_array())
      size = std::make_pair(cfg["ConsoleSize"][0].get<uint32_t>(),
                            cfg["ConsoleSize"][1].get<uint32_t>());
    if (tty && size) {
      lcd::oci::Box box;
      box.height = size->first;
      box.width = size->second;
      p.console_size = box;
    }
    std::vector<std::string> env = p.env;
    if (tty) env = MergeEnv(env, {"TERM=xterm"});
    p.env = MergeEnv(env, cfg.value("Env", std::vector<std::string>{}));
    std::string wd = cfg.value("WorkingDir", "");
    if (wd.empty()) wd = container_workdir;
    if (!wd.empty()) p.cwd = wd;
    if (p.cwd.empty()) p.cwd = "/";
    std::string user = cfg.value("User", "");
    if (!user.empty() && user != container_user)
      p.user = ResolveExecUser(engine, user, pid, image_ref);
    if (cfg.value("Privileged", false)) {
      lcd::oci::LinuxCapabilities caps;
      caps.bounding = caps.effective = caps.permitted = AllCapabilities();
      p.capabilities = caps;
    }
  } catch (...) {
    fail_start(126);
    throw;
  }

  // The output's way to the client.
  const bool raw = start_tty;
  auto sink = std::make_shared<Sink>(raw, cfg.value("AttachStdout", false),
                                     cfg.value("AttachStderr", false), detach);
  auto live = std::make_shared<Live>();
  live->ctr = c;
  live->exec = e;
  {
    std::lock_guard l(state->mu);
    state->live[exec_id] = live;
  }
  engine.containers().Publish(*c, "exec_start: " + cmd_text, {{"execID", exec_id}});

  std::shared_ptr<lcd::DirectIO> fifos;
  std::shared_ptr<lcd::IO> io;
  auto cb = Containers::OutputCallback(
      &fifos, [sink](int stream, std::string_view data) { sink->Write(stream, data); });
  // Not detached: the answer (101) goes first and the output's way is set before the process
  // exists, as dockerd does: a client that reads the upgrade through a buffer (docker-py) would
  // lose output that came right behind the header.
  int fd = -1;
  if (!detach) {
    fd = res.Hijack(start_tty || CompareApiVersions(req.api_version, "1.42") < 0
                        ? "application/vnd.docker.raw-stream"
                        : "application/vnd.docker.multiplexed-stream");
    sink->Attach(fd);
  }
  std::shared_ptr<lcd::Process> process;
  try {
    process =
        task->Exec(ctx, exec_id, p, attach_stdin && !detach, [&](std::shared_ptr<lcd::DirectIO> f) {
          io = cb(std::move(f));
          return io;
        });
  } catch (const lcd::Error& err) {
    {
      std::lock_guard l(state->mu);
      state->live.erase(exec_id);
    }
    const std::string& m = err.message();
    int code = 126;
    int status = 500;
    std::string text;
    if (err.kind() == lcd::ErrorKind::kNotFound && m.find("executable") != std::string::npos) {
      code = 127;
      status = 400;
      text = DaemonWords(err);
    } else if (err.kind() == lcd::ErrorKind::kFailedPrecondition) {
      status = 400;
      text = DaemonWords(err);
    } else if (err.kind() == lcd::ErrorKind::kNotFound) {
      status = 409;
      text = "Container " + c->rec.id + " is not running";
    } else {
      text = err.kind() == lcd::ErrorKind::kInvalidArgument ? m : DaemonWords(err);
      if (err.kind() == lcd::ErrorKind::kInvalidArgument) status = 400;
    }
    fail_start(code);
    if (detach) throw HttpError(status, text);
    // docker hijacks first, then writes the error to the stream; the CLI prints it and
    // exits with the exec's exit code (127 not found, 126 not executable).
    sink->Message(text + "\r\n");
    sink->Detach();
    ::shutdown(fd, SHUT_RDWR);
    return;
  }
  {
    std::lock_guard l(c->mu);
    e->process = process;
    e->fifos = fifos;
    e->pid = static_cast<int>(process->Pid());
  }
  std::optional<uint32_t> early;
  {
    std::lock_guard l(live->mu);
    live->process = process;
    live->io = io;
    if (live->pending_exit && !live->reaping) {
      live->reaping = true;
      early = live->pending_exit;
    }
  }
  live->cv.notify_all();
  if (early) Reap(state, exec_id, live, *early);

  if (detach) {
    res.Send(200, "", std::string());
    return;
  }

  std::atomic<bool> finished{false};
  std::thread input;
  if (attach_stdin && fifos) {
    input = std::thread([&res, fifos, &finished] {
      char buf[32 * 1024];
      for (;;) {
        long n = res.ReadHijacked(buf, sizeof buf);
        if (n <= 0) {
          if (n == 0 && !finished.load()) fifos->CloseStdin();  // the client half-closed
          break;
        }
        try {
          fifos->WriteStdin(std::string_view(buf, static_cast<size_t>(n)));
        } catch (const lcd::Error&) {
          break;
        }
      }
    });
  }

  // Until the exit is recorded. Should the container stop without an exit event for the exec
  // (none can come once its task is gone), the exec is finished after a grace period.
  auto stopped_since = std::chrono::steady_clock::time_point{};
  {
    std::unique_lock l(live->mu);
    while (!live->done) {
      live->cv.wait_for(l, 1s);
      if (live->done) break;
      l.unlock();
      bool stopped;
      {
        std::lock_guard cl(c->mu);
        stopped = c->removed || !c->running();
      }
      auto now = std::chrono::steady_clock::now();
      if (!stopped) {
        stopped_since = {};
      } else if (stopped_since == std::chrono::steady_clock::time_point{}) {
        stopped_since = now;
      } else if (now - stopped_since > 5s) {
        OnExit(state, exec_id, live, 137);
      }
      l.lock();
    }
  }
  finished = true;
  sink->Detach();
  ::shutdown(fd, SHUT_RDWR);  // ends the input thread's read; the server closes the fd
  if (input.joinable()) input.join();
}

json InspectExec(const Ctr& c, const Ctr::Exec& e) {
  const json& cfg = e.config;
  std::vector<std::string> cmd = cfg.value("Cmd", std::vector<std::string>{});
  std::string user = cfg.value("User", "");
  if (user.empty()) user = c.rec.config.value("User", "");
  json pc = json::object();
  pc["tty"] = cfg.value("Tty", false);
  pc["entrypoint"] = cmd.empty() ? "" : cmd[0];
  pc["arguments"] = cmd.empty() ? std::vector<std::string>{}
                                : std::vector<std::string>(cmd.begin() + 1, cmd.end());
  pc["privileged"] = cfg.value("Privileged", false);
  if (!user.empty()) pc["user"] = user;
  json j = json::object();
  j["ID"] = e.id;
  j["Running"] = e.running;
  j["ExitCode"] = e.exited ? json(e.exit_code) : json(nullptr);
  j["ProcessConfig"] = pc;
  j["OpenStdin"] = cfg.value("AttachStdin", false);
  j["OpenStderr"] = cfg.value("AttachStderr", false);
  j["OpenStdout"] = cfg.value("AttachStdout", false);
  j["CanRemove"] = false;
  j["ContainerID"] = c.rec.id;
  j["DetachKeys"] = cfg.value("DetachKeys", "");
  j["Pid"] = e.pid;
  return j;
}

}  // namespace

void RegisterExecRoutes(Router& router, Engine& engine) {
  auto state = std::make_shared<ExecState>();
  state->engine = &engine;
  engine.containers().on_exec_exit = [state](const std::string& container_id,
                                             const std::string& exec_id, uint32_t exit_code) {
    (void)container_id;
    if (auto live = state->Find(exec_id)) OnExit(state, exec_id, live, exit_code);
  };

  router.Add("POST", "/containers/{id}/exec",
             [&engine](Request& req, Response& res) { CreateExec(engine, req, res); });
  router.Add("POST", "/exec/{id}/start",
             [&engine, state](Request& req, Response& res) { StartExec(engine, state, req, res); });
  router.Add("GET", "/exec/{id}/json", [&engine](Request& req, Response& res) {
    auto [c, e] = engine.containers().GetExec(req.Param("id"));
    json j;
    {
      std::lock_guard l(c->mu);
      j = InspectExec(*c, *e);
    }
    SendJson(res, 200, j.dump());
  });
  router.Add("POST", "/exec/{id}/resize", [&engine](Request& req, Response& res) {
    int64_t h = req.QueryInt("h", 0), w = req.QueryInt("w", 0);
    if (h < 0 || h > UINT32_MAX)
      throw HttpError(400, "invalid resize height \"" + req.Query("h") + "\"");
    if (w < 0 || w > UINT32_MAX)
      throw HttpError(400, "invalid resize width \"" + req.Query("w") + "\"");
    auto [c, e] = engine.containers().GetExec(req.Param("id"));
    // docker waits up to 10 s for the exec to be started (the CLI resizes right after start).
    std::shared_ptr<lcd::Process> process;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      {
        std::lock_guard l(c->mu);
        CheckRunning(*c);
        if (e->exited) throw HttpError(409, "exec " + e->id + " is not running (it has exited)");
        process = e->process;
      }
      if (process) break;
      if (std::chrono::steady_clock::now() > deadline)
        throw HttpError(
            409, "timeout waiting for exec session ready (exec " + e->id + " was not started)");
      std::this_thread::sleep_for(50ms);
    }
    if (h == 0 || w == 0) {  // nothing to do (docker passes it on and the runtime ignores it)
      res.Send(200, "", std::string());
      return;
    }
    process->Resize(Engine::Ctx(), static_cast<uint32_t>(w), static_cast<uint32_t>(h));
    res.Send(200, "", std::string());
  });
}

}  // namespace lcde
