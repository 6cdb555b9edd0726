// lcd-engine: the engine's containers: docker's record of each (persisted under
// <root>/containers/<id>/config.json with atomic writes), its json-file log, its output hub for
// attach, and the library objects of its task. containers_api.cc serves the endpoints;
// exec_api.cc the execs.
// Thread-safety: every public method may be called from any thread. A Ctr's fields are guarded
// by its mu; the set of containers and the name index by Containers' mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine.h"
#include "libcontainerd/cio.h"
#include "libcontainerd/client.h"
#include "libcontainerd/net.h"
#include "volumes.h"

namespace lcde {

using json = nlohmann::json;

// What is persisted of a container (docker's names in the JSON file).
struct ContainerRecord {
  std::string id;
  std::string name;       // without "/"
  std::string created;    // RFC 3339 nano
  std::string image;      // as the user gave it
  std::string image_ref;  // the image's full reference (ImageService name)
  std::string image_id;   // "sha256:..."
  std::string path;       // the command (first of entrypoint + cmd)
  std::vector<std::string> args;
  json config = json::object();       // docker's Config, image defaults filled in
  json host_config = json::object();  // docker's HostConfig as accepted
  // State
  std::string status = "created";  // created running paused restarting removing exited dead
  int pid = 0;
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;
  std::string started_at = "0001-01-01T00:00:00Z";
  std::string finished_at = "0001-01-01T00:00:00Z";
  int restart_count = 0;
  bool updated = false;  // docker update changed the limits since create (Start re-applies them)
  bool manually_stopped = false;  // stopped or killed through the API (restart policies skip it)
  // Network (from the library's attachment)
  std::string network_mode;  // "bridge", "host", "none", "container:<id>", or a network name
  std::string network_name;  // the network the container is on ("bridge" or a name; "" else)
  std::string ip_address;
  int prefix_length = 0;
  std::string gateway;
  std::string mac_address;
  std::vector<libcontainerd::net::PortMapping> ports;
  std::string hostname;
  std::string hosts_path, resolv_conf_path, hostname_path;
  std::string log_path;
  std::vector<VolumeMount> volumes;
  std::vector<std::string>
      aliases;  // network aliases (user-defined networks)  // volume mounts (named and anonymous)
  bool tty() const { return config.value("Tty", false); }
};

json RecordToJson(const ContainerRecord& r);
ContainerRecord RecordFromJson(const json& j);

// One frame of output: stream 1 stdout, 2 stderr.
struct OutputChunk {
  int stream = 1;
  std::string data;
};

// A reader of a container's live output (attach). Bounded: a reader that falls more than
// kMaxBuffered behind is closed (its client too slow), as docker drops slow attach readers.
class OutputSubscriber {
 public:
  static constexpr size_t kMaxBuffered = 4 * 1024 * 1024;
  // Waits for output; false when closed (the container's output ended or the subscriber was
  // dropped) and nothing is left. timeout: returns true with empty out.
  bool Next(std::vector<OutputChunk>& out, std::chrono::milliseconds timeout);
  void Push(int stream, std::string_view data);
  void Close();
  bool closed() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<OutputChunk> q_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

// A container: record + live parts.
struct Ctr {
  std::mutex mu;
  std::condition_variable cv;  // state changes: exit, start, removal
  ContainerRecord rec;
  uint64_t exits = 0;            // exits seen (wait next-exit)
  uint64_t starts = 0;           // starts done
  bool removed = false;          // deleted (wait removed)
  bool exiting = false;          // an exit is being handled (Exited): its task is not deleted yet
  bool stopping = false;         // stopped by the user (stop/kill through the API)
  int64_t restart_delay_ms = 0;  // the restart policy's back-off: 100 ms doubling, reset at 10 s
  std::shared_ptr<libcontainerd::Container> container;  // library object
  std::shared_ptr<libcontainerd::Task> task;            // while a task exists
  std::shared_ptr<libcontainerd::DirectIO> fifos;       // stdin for attach (OpenStdin)
  std::shared_ptr<libcontainerd::IO> io;                // output copy
  std::vector<std::shared_ptr<OutputSubscriber>> subscribers;
  uint64_t log_bytes = 0;    // bytes in the log file (for logs -f)
  int log_fd = -1;           // the json-file log, open for appending
  int64_t log_size = 0;      // bytes in the current log file
  int64_t log_max_size = 0;  // --log-opt max-size (0: no rotation)
  int log_max_files = 1;     // --log-opt max-file: files kept, the current included
  std::string partial[2];    // stdout, stderr: output after the last newline
  bool starting = false;     // Start is making the task (c->mu released)
  std::optional<std::pair<uint32_t, libcontainerd::SystemTime>> pending_exit;  // during start
  // Execs of this container: id -> record (exec_api.cc).
  struct Exec {
    std::string id;
    json config;  // docker's ExecConfig as created
    bool running = false;
    bool started = false;
    int exit_code = 0;
    bool exited = false;
    std::chrono::steady_clock::time_point exited_at{};  // for pruning (AddExec)
    int pid = 0;
    std::shared_ptr<libcontainerd::Process> process;
    std::shared_ptr<libcontainerd::DirectIO> fifos;
  };
  std::map<std::string, std::shared_ptr<Exec>> execs;
  // Health (health.cc): docker's State.Health {Status, FailingStreak, Log} while the container has
  // a health check; null otherwise. Guarded by mu.
  json health = nullptr;

  bool running() const { return rec.status == "running" || rec.status == "paused"; }
};

class Containers {
 public:
  explicit Containers(Engine& engine);
  ~Containers();

  // Loads the records under <root>/containers and reconciles them with containerd (a task that
  // no longer runs = exited).
  void Load();

  // By full id, unique id prefix or name (with or without "/"). Throws HttpError 404
  // "No such container: <ref>".
  std::shared_ptr<Ctr> Get(const std::string& ref);
  std::shared_ptr<Ctr> Find(const std::string& ref);  // nullptr when none
  std::vector<std::shared_ptr<Ctr>> All();
  // Execs: by exec id across containers. Throws HttpError 404 "No such exec instance: <id>".
  std::pair<std::shared_ptr<Ctr>, std::shared_ptr<Ctr::Exec>> GetExec(const std::string& id);
  // Records an exec; drops the records of execs that exited more than 5 minutes ago, as dockerd
  // does (health checks and exec-heavy clients would otherwise grow them without end).
  void AddExec(const std::shared_ptr<Ctr>& c, std::shared_ptr<Ctr::Exec> e);

  // Lifecycle (containers_api.cc).
  std::shared_ptr<Ctr> Create(const std::string& name, const json& body);
  void Start(const std::shared_ptr<Ctr>& c);
  void Kill(const std::shared_ptr<Ctr>& c, int signal);
  // Stops (signal, then SIGKILL after timeout seconds; -1 waits forever). False when it was not
  // running (docker's 304).
  bool Stop(const std::shared_ptr<Ctr>& c, std::optional<int> timeout_seconds);
  // remove_volumes: its anonymous volumes go too (docker rm -v; --rm always).
  void Remove(const std::shared_ptr<Ctr>& c, bool force, bool remove_volumes = false);
  void Rename(const std::shared_ptr<Ctr>& c, const std::string& new_name);
  void Save(Ctr& c);  // persists c.rec (c.mu held by the caller)
  // Stops every running container (engine shutdown), in parallel; each with its own stop
  // timeout (--stop-timeout, 10 s by default; 10 s for -1) as dockerd does, unless
  // `timeout_seconds` is given.
  // Then waits for the work its exits started (BackgroundWork), and refuses new restarts.
  void StopAll(std::optional<int> timeout_seconds);
  // The engine is going: no restart from now on (a pending one ends, its container "exited",
  // left to the next engine start), and the work exits started on other threads is waited for
  // (at most 60 s): none of it may outlive the Client or this object.
  void Shutdown();
  // At engine start: starts the containers whose restart policy says so (always; unless-stopped
  // when not stopped by the user). Each on its own thread.
  void StartupRestarts();

  // From the library's Backend (engine.cc).
  void OnEvent(const std::string& container_id, libcontainerd::EventType type,
               const libcontainerd::EventInfo& info);
  // An exec's exit (exec_api.cc sets it; OnEvent calls it for a non-init process).
  std::function<void(const std::string& container_id, const std::string& exec_id,
                     uint32_t exit_code)>
      on_exec_exit;
  // Set once before serving (health.cc): called after a container started (its task runs) and
  // after its exit was handled (before a restart or removal). Not called with c->mu held.
  std::function<void(const std::shared_ptr<Ctr>& c)> on_started;
  std::function<void(const std::shared_ptr<Ctr>& c)> on_stopped;

  // Publishes a container event with docker's attributes (name, image, labels, extra).
  void Publish(const Ctr& c, const std::string& action,
               std::map<std::string, std::string> extra = {});

  // Creates the FIFOs' StdioCallback for a process whose output goes to `sink` (exec_api.cc
  // uses it too): on_output(stream, data) from the copy thread.
  static libcontainerd::StdioCallback OutputCallback(
      std::shared_ptr<libcontainerd::DirectIO>* fifos_out,
      std::function<void(int stream, std::string_view data)> on_output);

  Engine& engine() { return engine_; }
  std::string Dir(const std::string& id) const;  // <root>/containers/<id>

 private:
  // `adopted`: the task was found stopped when the engine started (its output FIFOs were
  // reopened after their writers had gone).
  void Exited(const std::shared_ptr<Ctr>& c, uint32_t code, libcontainerd::SystemTime at,
              bool adopted = false);
  void Deliver(Ctr& c, int stream, std::string_view data);  // log + subscribers
  void FlushPartial(Ctr& c);  // the last unterminated lines into the log
  // Appends to the json-file log, rotating it (log, log.1, ... log.N-1) past max-size (c.mu held).
  void WriteLog(Ctr& c, const std::string& lines);
  void WriteLogEntry(Ctr& c, std::string_view entry);
  // After an exit: restarts the container when its policy says so (back-off, restart count);
  // true when it did or will.
  bool MaybeRestart(const std::shared_ptr<Ctr>& c, uint32_t code);
  // Rewrites the /etc/hosts of every running container on a user-defined network so that each
  // resolves the others' names, aliases and short ids.
  // `starting`: a container about to run, counted as running.
  void RefreshHosts(const std::string& network, const Ctr* starting = nullptr);

  // Runs `fn` on a thread of its own, counted until it ends (Shutdown waits for it): an exit's
  // handling, a restart's delay and start.
  void Spawn(std::function<void()> fn);
  void BeginShutdown();
  void WaitForBackground();

  Engine& engine_;
  std::atomic<bool> shutting_down_{false};
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  int bg_running_ = 0;
  std::mutex hosts_mu_;  // one RefreshHosts at a time: their writes of one file do not mix
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Ctr>> by_id_;
  std::map<std::string, std::string> names_;  // name -> id
};

// docker's restart policy {"Name", "MaximumRetryCount"}: "" / no / always / unless-stopped /
// on-failure; throws HttpError 400 naming what is wrong.
void ValidateRestartPolicy(const json& policy, bool auto_remove);

// The json-file options of a HostConfig.LogConfig.Config: max-size ("10k", "5m", "1g"; bytes
// with binary units as docker reads them) and max-file (>= 1). Throws HttpError 400 naming an
// invalid value and 501 for another option.
void ParseLogOptions(const json& config, int64_t* max_size, int* max_files);
// The log files of a container, oldest first (rotated ones, then the current one).
std::vector<std::string> LogFiles(const std::string& log_path, int max_files);

// One entry of HostConfig.Binds: "SOURCE:DESTINATION[:OPTIONS]", SOURCE a host path (absolute) or
// a volume's name, OPTIONS a comma list of ro, rw, z, Z and a propagation (shared, rshared,
// slave, rslave, private, rprivate).
struct BindSpec {
  std::string source;
  std::string destination;
  std::string mode;  // OPTIONS as given ("" when none)
  bool read_only = false;
  std::string propagation;  // "" when none was given
  bool host_path() const { return !source.empty() && source[0] == '/'; }
};
// Throws HttpError 400 naming the entry and what is wrong with it.
BindSpec ParseBind(const std::string& bind);

// docker's signal argument: "9", "KILL", "SIGKILL"; throws HttpError 400 naming it.
int ParseSignal(const std::string& s);
// The json-file log line: {"log":...,"stream":"stdout","time":RFC3339Nano}.
std::string LogLine(std::string_view stream, std::string_view data,
                    std::chrono::system_clock::time_point t);
// docker's multiplexed frame (stream 0/1/2/3, big-endian length).
std::string Frame(int stream, std::string_view data);

}  // namespace lcde
