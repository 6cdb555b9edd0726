// lcd-engine: the container endpoints of the lifecycle: create, start, wait, attach, logs, kill,
// stop, restart, pause, unpause, delete, list and inspect (container_ops_api.cc has the rest).
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "common.h"
#include "containers.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/signals.h"

namespace lcde {

namespace lcd = libcontainerd;
using namespace std::chrono_literals;

namespace {

bool IsNullOrEmptyObject(const json& j) { return j.is_null() || (j.is_object() && j.empty()); }

std::string HumanDuration(std::chrono::seconds d) {
  long s = static_cast<long>(d.count());
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return std::to_string(s) + " seconds";
  long m = s / 60;
  if (m == 1) return "About a minute";
  if (m < 60) return std::to_string(m) + " minutes";
  long h = (s + 1800) / 3600;
  if (h == 1) return "About an hour";
  if (h < 48) return std::to_string(h) + " hours";
  if (h < 24 * 7 * 2) return std::to_string(h / 24) + " days";
  if (h < 24 * 30 * 2) return std::to_string(h / 24 / 7) + " weeks";
  if (h < 24 * 365 * 2) return std::to_string(h / 24 / 30) + " months";
  return std::to_string(h / 24 / 365) + " years";
}

std::string StatusText(const ContainerRecord& r) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto since = [&](const std::string& t) {
    int64_t n = ParseRfc3339Nano(t);
    return std::chrono::duration_cast<std::chrono::seconds>(now - std::chrono::nanoseconds(n));
  };
  if (r.status == "running") return "Up " + HumanDuration(since(r.started_at));
  if (r.status == "paused") return "Up " + HumanDuration(since(r.started_at)) + " (Paused)";
  if (r.status == "created") return "Created";
  if (r.status == "removing") return "Removal In Progress";
  if (r.status == "restarting")
    return "Restarting (" + std::to_string(r.exit_code) + ") " +
           HumanDuration(since(r.finished_at)) + " ago";
  if (r.status == "dead") return "Dead";
  return "Exited (" + std::to_string(r.exit_code) + ") " + HumanDuration(since(r.finished_at)) +
         " ago";
}

json PortsJson(const ContainerRecord& r) {
  json out = json::array();
  for (const auto& p : r.ports) {
    out.push_back({{"IP", p.host_ip.empty() ? "0.0.0.0" : p.host_ip},
                   {"PrivatePort", p.container_port},
                   {"PublicPort", p.host_port},
                   {"Type", p.protocol}});
  }
  return out;
}

json PortMapJson(const ContainerRecord& r) {
  json out = json::object();
  if (r.config.contains("ExposedPorts") && r.config["ExposedPorts"].is_object())
    for (const auto& [k, v] : r.config["ExposedPorts"].items()) out[k] = nullptr;
  for (const auto& p : r.ports) {
    std::string key = std::to_string(p.container_port) + "/" + p.protocol;
    if (!out[key].is_array()) out[key] = json::array();
    out[key].push_back({{"HostIp", p.host_ip.empty() ? "0.0.0.0" : p.host_ip},
                        {"HostPort", std::to_string(p.host_port)}});
  }
  return out;
}

json NetworksJson(const ContainerRecord& r) {
  json nets = json::object();
  std::string key = r.network_name.empty() ? r.network_mode : r.network_name;
  if (r.network_mode.rfind("container:", 0) == 0) return nets;
  if (key.empty()) return nets;
  std::string id_src = key;
  // On a user-defined network the aliases answer (with the short id, as dockerd does up to API
  // 1.43: compose compares them with what it asked for).
  json aliases = nullptr;
  if (!r.network_name.empty() && r.network_name != "bridge") {
    aliases = r.aliases;
    std::string short_id = r.id.substr(0, 12);
    if (std::find(r.aliases.begin(), r.aliases.end(), short_id) == r.aliases.end())
      aliases.push_back(short_id);
  }
  json ep = {{"IPAMConfig", nullptr},
             {"Links", nullptr},
             {"Aliases", aliases},
             {"MacAddress", r.mac_address},
             {"NetworkID", ""},
             {"EndpointID", r.ip_address.empty() ? "" : r.id},
             {"Gateway", r.gateway},
             {"IPAddress", r.ip_address},
             {"IPPrefixLen", r.prefix_length},
             {"IPv6Gateway", ""},
             {"GlobalIPv6Address", ""},
             {"GlobalIPv6PrefixLen", 0},
             {"DriverOpts", nullptr},
             {"DNSNames", nullptr}};
  nets[key] = ep;
  return nets;
}

json MountsJson(const ContainerRecord& r) {
  json out = json::array();
  const json& hc = r.host_config;
  if (hc.contains("Binds") && hc["Binds"].is_array()) {
    for (const auto& b : hc["Binds"]) {
      if (!b.is_string()) continue;
      const BindSpec bind = ParseBind(b.get<std::string>());  // accepted at create
      if (!bind.host_path()) continue;                        // volumes: below
      out.push_back({{"Type", "bind"},
                     {"Source", bind.source},
                     {"Destination", bind.destination},
                     {"Mode", bind.mode},
                     {"RW", !bind.read_only},
                     {"Propagation", bind.propagation.empty() ? "rprivate" : bind.propagation}});
    }
  }
  if (hc.contains("Mounts") && hc["Mounts"].is_array()) {
    for (const auto& m : hc["Mounts"]) {
      std::string type = m.value("Type", "");
      if (type == "volume") continue;  // listed from the record's volumes below
      out.push_back({{"Type", type},
                     {"Source", m.value("Source", "")},
                     {"Destination", m.value("Target", "")},
                     {"Mode", ""},
                     {"RW", !m.value("ReadOnly", false)},
                     {"Propagation", type == "bind" ? "rprivate" : ""}});
    }
  }
  for (const auto& v : r.volumes)
    out.push_back({{"Type", "volume"},
                   {"Name", v.name},
                   {"Source", v.source},
                   {"Destination", v.destination},
                   {"Driver", "local"},
                   {"Mode", v.rw ? "z" : "ro"},
                   {"RW", v.rw},
                   {"Propagation", ""}});
  if (hc.contains("Tmpfs") && hc["Tmpfs"].is_object()) {
    for (const auto& [dst, opts] : hc["Tmpfs"].items())
      out.push_back({{"Type", "tmpfs"},
                     {"Source", ""},
                     {"Destination", dst},
                     {"Mode", opts.is_string() ? opts.get<std::string>() : ""},
                     {"RW", true},
                     {"Propagation", ""}});
  }
  return out;
}

json SummaryJson(const ContainerRecord& r) {
  std::string command = r.path;
  for (const auto& a : r.args) command += " " + a;
  json labels = r.config.value("Labels", json::object());
  return {{"Id", r.id},
          {"Names", json::array({"/" + r.name})},
          {"Image", r.image},
          {"ImageID", r.image_id},
          {"Command", command},
          {"Created", ParseRfc3339Nano(r.created) / 1000000000LL},
          {"Ports", PortsJson(r)},
          {"Labels", labels.is_object() ? labels : json::object()},
          {"State", r.status},
          {"Status", StatusText(r)},
          {"HostConfig", {{"NetworkMode", r.network_mode}}},
          {"NetworkSettings", {{"Networks", NetworksJson(r)}}},
          {"Mounts", MountsJson(r)}};
}

json InspectJson(const ContainerRecord& r) {
  const bool running = r.status == "running" || r.status == "paused";
  json hc = r.host_config;
  for (const char* k : {"Memory", "NanoCpus", "CpuShares", "PidsLimit"})
    if (!hc.contains(k) || hc[k].is_null()) hc[k] = 0;
  for (const char* k : {"ReadonlyRootfs", "AutoRemove", "Privileged"})
    if (!hc.contains(k) || hc[k].is_null()) hc[k] = false;
  if (!hc.contains("RestartPolicy") || !hc["RestartPolicy"].is_object())
    hc["RestartPolicy"] = {{"Name", "no"}, {"MaximumRetryCount", 0}};
  if (!hc.contains("LogConfig") || !hc["LogConfig"].is_object() ||
      hc["LogConfig"].value("Type", "").empty())
    hc["LogConfig"] = {{"Type", "json-file"}, {"Config", json::object()}};
  if (!hc.contains("PortBindings") || hc["PortBindings"].is_null())
    hc["PortBindings"] = json::object();
  return {{"Id", r.id},
          {"Created", r.created},
          {"Path", r.path},
          {"Args", r.args},
          {"State",
           {{"Status", r.status},
            {"Running", running},
            {"Paused", r.status == "paused"},
            {"Restarting", r.status == "restarting"},
            {"OOMKilled", r.oom_killed},
            {"Dead", r.status == "dead"},
            {"Pid", r.pid},
            {"ExitCode", r.exit_code},
            {"Error", r.error},
            {"StartedAt", r.started_at},
            {"FinishedAt", r.finished_at}}},
          {"Image", r.image_id},
          {"ResolvConfPath", r.resolv_conf_path},
          {"HostnamePath", r.hostname_path},
          {"HostsPath", r.hosts_path},
          {"LogPath", r.log_path},
          {"Name", "/" + r.name},
          {"RestartCount", r.restart_count},
          {"Driver", "overlayfs"},
          {"Platform", "linux"},
          {"MountLabel", ""},
          {"ProcessLabel", ""},
          {"AppArmorProfile", ""},
          {"ExecIDs", nullptr},
          {"HostConfig", hc},
          {"GraphDriver", {{"Name", "overlayfs"}, {"Data", nullptr}}},
          {"Mounts", MountsJson(r)},
          {"Config", r.config},
          {"NetworkSettings",
           {{"Bridge", ""},
            {"SandboxID", r.id},
            {"SandboxKey", ""},
            {"HairpinMode", false},
            {"LinkLocalIPv6Address", ""},
            {"LinkLocalIPv6PrefixLen", 0},
            {"Ports", PortMapJson(r)},
            {"SecondaryIPAddresses", nullptr},
            {"SecondaryIPv6Addresses", nullptr},
            {"EndpointID", r.ip_address.empty() ? "" : r.id},
            {"Gateway", r.gateway},
            {"GlobalIPv6Address", ""},
            {"GlobalIPv6PrefixLen", 0},
            {"IPAddress", r.ip_address},
            {"IPPrefixLen", r.prefix_length},
            {"IPv6Gateway", ""},
            {"MacAddress", r.mac_address},
            {"Networks", NetworksJson(r)}}}};
}

// Filters of docker ps.
bool MatchesFilters(const ContainerRecord& r,
                    const std::map<std::string, std::vector<std::string>>& filters) {
  for (const auto& [key, values] : filters) {
    if (values.empty()) continue;
    bool any = false;
    for (const auto& v : values) {
      if (key == "status") {
        any |= r.status == v;
      } else if (key == "name") {
        any |= r.name.find(v.size() && v[0] == '/' ? v.substr(1) : v) != std::string::npos;
      } else if (key == "id") {
        any |= r.id.rfind(v, 0) == 0;
      } else if (key == "label") {
        // Every label filter must match (docker's rule), not any one of them.
        json labels = r.config.value("Labels", json::object());
        auto eq = v.find('=');
        std::string k = v.substr(0, eq);
        bool match = labels.is_object() && labels.contains(k) &&
                     (eq == std::string::npos || labels[k] == v.substr(eq + 1));
        if (!match) return false;
        any = true;
      } else if (key == "exited") {
        any |= r.status == "exited" && std::to_string(r.exit_code) == v;
      } else if (key == "ancestor") {
        any |= r.image == v || r.image_id == v || r.image_id.find(v) == 7;
      } else if (key == "network") {
        any |= r.network_mode == v || r.network_name == v;
      } else {
        throw HttpError(400, "invalid filter '" + key + "'");
      }
    }
    if (!any) return false;
  }
  return true;
}

std::string ContentTypeFor(const Request& req, bool tty) {
  (void)req;
  return tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
}

// Copies a hijacked client's input to the container's stdin until EOF; closes stdin at EOF when
// close_at_eof (docker's StdinOnce). Runs on its own thread; ends when the connection closes.
void CopyStdin(Response& res, const std::shared_ptr<Ctr>& c, bool close_at_eof,
               std::atomic<bool>& done) {
  char buf[32 * 1024];
  for (;;) {
    long n = res.ReadHijacked(buf, sizeof buf);
    if (n <= 0) break;
    std::shared_ptr<lcd::DirectIO> fifos;
    {
      std::unique_lock l(c->mu);
      // Input that comes before the task exists (docker run -i) waits for it.
      c->cv.wait_for(l, 60s, [&] { return c->fifos || c->removed || done.load() || c->exits > 0; });
      fifos = c->fifos;
    }
    if (!fifos) break;
    try {
      fifos->WriteStdin(std::string_view(buf, static_cast<size_t>(n)));
    } catch (const lcd::Error&) {
      break;
    }
  }
  if (close_at_eof && !done.load()) {
    std::shared_ptr<lcd::DirectIO> fifos;
    {
      std::lock_guard l(c->mu);
      fifos = c->fifos;
    }
    if (fifos) fifos->CloseStdin();
  }
}

void Attach(Engine& engine, Request& req, Response& res, const std::shared_ptr<Ctr>& c) {
  const bool want_stdin = req.QueryBool("stdin");
  const bool want_stdout = req.QueryBool("stdout");
  const bool want_stderr = req.QueryBool("stderr");
  auto sub = std::make_shared<OutputSubscriber>();
  bool tty, stdin_once, open_stdin;
  {
    std::lock_guard l(c->mu);
    if (c->removed) throw HttpError(404, "No such container: " + req.Param("id"));
    if (c->rec.status == "exited" || c->rec.status == "dead")
      throw HttpError(409, "You cannot attach to a stopped container, start it first");
    if (c->rec.status == "paused")
      throw HttpError(409, "You cannot attach to a paused container, unpause it first");
    tty = c->rec.tty();
    stdin_once = c->rec.config.value("StdinOnce", false);
    open_stdin = c->rec.config.value("OpenStdin", false);
    c->subscribers.push_back(sub);
  }
  (void)engine;
  int fd = res.Hijack(ContentTypeFor(req, tty));
  std::atomic<bool> done{false};
  std::thread input;
  if (want_stdin && open_stdin) input = std::thread([&] { CopyStdin(res, c, stdin_once, done); });
  std::vector<OutputChunk> chunks;
  bool ok = true;
  while (ok && sub->Next(chunks, 1s)) {
    for (const auto& ch : chunks) {
      if ((ch.stream == 1 && !want_stdout) || (ch.stream == 2 && !want_stderr)) continue;
      ok = SendAll(fd,
                   tty ? std::string_view(ch.data) : std::string_view(Frame(ch.stream, ch.data)));
      if (!ok) break;
    }
    if (chunks.empty() && res.ClientGone()) break;
  }
  sub->Close();
  {
    std::lock_guard l(c->mu);
    auto& subs = c->subscribers;
    subs.erase(std::remove(subs.begin(), subs.end(), sub), subs.end());
  }
  done = true;
  c->cv.notify_all();
  ::shutdown(fd, SHUT_RDWR);  // ends the input thread's read
  if (input.joinable()) input.join();
}

// Reads the json-file log; calls emit(stream, time_nano, text) for each entry in range.
struct LogReader {
  std::string path;
  std::ifstream in;
  std::streamoff offset = 0;
  ino_t ino = 0;
  explicit LogReader(const std::string& p) : path(p) { Reopen(); }
  void Reopen() {
    in.close();
    in.clear();
    in.open(path, std::ios::binary);
    offset = 0;
    struct stat st {};
    ino = ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  }
  // The file at `path` is another one now (the log was rotated).
  bool Rotated() const {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && st.st_ino != ino;
  }
  // Reads complete lines from the current offset.
  template <class F>
  void ReadAvailable(F&& on_line) {
    if (!in) return;
    in.clear();
    in.seekg(offset);
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // a line not terminated yet: read it next time
      offset += static_cast<std::streamoff>(line.size()) + 1;
      on_line(line);
    }
    in.clear();
  }
};

void Logs(Request& req, Response& res, const std::shared_ptr<Ctr>& c) {
  const bool follow = req.QueryBool("follow");
  const bool want_stdout = req.QueryBool("stdout");
  const bool want_stderr = req.QueryBool("stderr");
  if (!want_stdout && !want_stderr)
    throw HttpError(400, "Bad parameters: you must choose at least one stream");
  const bool timestamps = req.QueryBool("timestamps");
  int64_t since = 0, until = 0;
  if (std::string s = req.Query("since"); !s.empty() && s != "0") since = ParseDockerTime(s);
  if (std::string u = req.Query("until"); !u.empty() && u != "0") until = ParseDockerTime(u);
  std::string tail_s = req.Query("tail", "all");
  int64_t tail = -1;
  if (!tail_s.empty() && tail_s != "all") {
    try {
      tail = std::stoll(tail_s);
    } catch (...) {
      throw HttpError(400, "invalid value for \"tail\": \"" + tail_s + "\"");
    }
  }
  std::string path;
  bool tty;
  {
    std::unique_lock l(c->mu);
    // A container that has just exited shows "exited" while the end of its output is still
    // being copied (Containers::Exited): wait for that, as dockerd's logs after an exit hold all.
    c->cv.wait_for(l, std::chrono::seconds(10), [&] { return !c->exiting; });
    path = c->rec.log_path;
    tty = c->rec.tty();
  }
  res.BeginStream(
      200, tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
  int max_files;
  {
    std::lock_guard l(c->mu);
    max_files = c->log_max_files;
  }
  auto format = [&](const std::string& line, std::string& out) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) return false;
    std::string stream = j.value("stream", "stdout");
    if ((stream == "stdout" && !want_stdout) || (stream == "stderr" && !want_stderr)) return false;
    std::string t = j.value("time", "");
    int64_t tn = ParseRfc3339Nano(t);
    if (since && tn < since) return false;
    if (until && tn > until) return false;
    std::string text = j.value("log", "");
    if (timestamps) text = t + " " + text;
    out = tty ? text : Frame(stream == "stderr" ? 2 : 1, text);
    return true;
  };
  // History (with tail): the rotated files, oldest first, then the current one.
  std::vector<std::string> lines;
  auto collect = [&](const std::string& line) {
    std::string out;
    if (format(line, out)) lines.push_back(std::move(out));
  };
  const std::vector<std::string> files = LogFiles(path, max_files);
  for (size_t i = 0; i + 1 < files.size(); ++i) LogReader(files[i]).ReadAvailable(collect);
  LogReader reader(path);
  reader.ReadAvailable(collect);
  size_t first = 0;
  if (tail >= 0 && static_cast<size_t>(tail) < lines.size()) first = lines.size() - tail;
  for (size_t i = first; i < lines.size(); ++i)
    if (!res.Write(lines[i])) return;
  if (!follow) return;
  for (;;) {
    uint64_t seen;
    bool running;
    {
      std::unique_lock l(c->mu);
      seen = c->log_bytes;
      running = c->running() || c->starting;
      if (!running && c->task == nullptr && c->exits > 0 && c->partial[0].empty() &&
          c->partial[1].empty()) {
        // Stopped: what is left in the file is all there will be.
      }
    }
    bool more = false;
    std::string batch;
    auto add = [&](const std::string& line) {
      std::string out;
      if (format(line, out)) batch += out;
      more = true;
    };
    reader.ReadAvailable(add);
    if (reader.Rotated()) {  // the rest of the old file, then the new one from its start
      reader.ReadAvailable(add);
      reader.Reopen();
      reader.ReadAvailable(add);
    }
    if (!batch.empty() && !res.Write(batch)) return;
    if (!running && !more) return;
    if (until && std::chrono::system_clock::now().time_since_epoch().count() > until) return;
    if (res.ClientGone()) return;
    std::unique_lock l(c->mu);
    c->cv.wait_for(l, 1s, [&] { return c->log_bytes != seen || c->removed; });
    if (c->removed) return;
  }
}

void Wait(Request& req, Response& res, const std::shared_ptr<Ctr>& c) {
  std::string cond = req.Query("condition", "not-running");
  if (cond != "not-running" && cond != "next-exit" && cond != "removed")
    throw HttpError(400, "invalid condition: \"" + cond + "\" (not-running, next-exit, removed)");
  uint64_t exits0;
  {
    std::lock_guard l(c->mu);
    exits0 = c->exits;
  }
  // The headers go at once: docker run waits for them before it starts the container.
  res.BeginStream(200, "application/json");
  std::unique_lock l(c->mu);
  auto ready = [&] {
    if (cond == "removed") return c->removed;
    if (cond == "next-exit") return c->exits > exits0 || c->removed;
    return (!c->running() && !c->starting && !c->task) || c->removed || c->exits > exits0;
  };
  while (!ready()) {
    c->cv.wait_for(l, 1s);
    if (ready()) break;
    l.unlock();
    bool gone = res.ClientGone();
    l.lock();
    if (gone) return;
  }
  json out = {{"StatusCode", c->rec.exit_code}, {"Error", nullptr}};
  if (!c->rec.error.empty() && c->rec.status != "running")
    out["Error"] = {{"Message", c->rec.error}};
  l.unlock();
  res.Write(out.dump() + "\n");
}

}  // namespace

std::vector<ContainerSummary> Engine::ContainerSummaries() {
  std::vector<ContainerSummary> out;
  for (auto& c : containers().All()) {
    std::lock_guard l(c->mu);
    const auto& r = c->rec;
    out.push_back(ContainerSummary{r.id, r.name, r.image, r.image_id, r.status,
                                   r.network_name.empty() ? r.network_mode : r.network_name,
                                   r.ip_address, r.prefix_length, r.gateway, r.mac_address});
  }
  return out;
}

void RegisterContainerRoutes(Router& router, Engine& engine) {
  Containers& cs = engine.containers();
  router.Add("POST", "/containers/create", [&](Request& req, Response& res) {
    json body = ParseJsonBody(req);
    std::string platform = req.Query("platform");
    if (!platform.empty() && platform.rfind("linux", 0) != 0)
      throw HttpError(400, "platform \"" + platform + "\" is not supported (linux only)");
    auto c = cs.Create(req.Query("name"), body);
    SendJson(res, 201, json{{"Id", c->rec.id}, {"Warnings", json::array()}}.dump());
  });
  router.Add("POST", "/containers/{id}/start", [&](Request& req, Response& res) {
    if (!req.body.empty() && req.body != "null" && req.body != "{}") {
      json b = ParseJsonBody(req);
      if (!IsNullOrEmptyObject(b))
        throw HttpError(400,
                        "starting a container with a HostConfig is not supported since API "
                        "1.24: give it at create");
    }
    if (req.Has("checkpoint")) throw HttpError(501, "lcd-engine does not implement checkpoints");
    auto c = cs.Get(req.Param("id"));
    try {
      cs.Start(c);
    } catch (const HttpError& e) {
      if (e.status() == 304) {
        SendNoContent(res, 304);
        return;
      }
      throw;
    }
    SendNoContent(res, 204);
  });
  router.Add("POST", "/containers/{id}/wait",
             [&](Request& req, Response& res) { Wait(req, res, cs.Get(req.Param("id"))); });
  router.Add("POST", "/containers/{id}/attach", [&](Request& req, Response& res) {
    if (req.QueryBool("logs"))
      throw HttpError(501, "lcd-engine does not replay logs on attach (logs=1): use docker logs");
    Attach(engine, req, res, cs.Get(req.Param("id")));
  });
  router.Add("GET", "/containers/{id}/attach/ws", [](Request&, Response&) {
    throw HttpError(501, "lcd-engine does not implement attach over websockets");
  });
  router.Add("GET", "/containers/{id}/logs",
             [&](Request& req, Response& res) { Logs(req, res, cs.Get(req.Param("id"))); });
  router.Add("POST", "/containers/{id}/kill", [&](Request& req, Response& res) {
    auto c = cs.Get(req.Param("id"));
    cs.Kill(c, ParseSignal(req.Query("signal", "KILL")));
    SendNoContent(res, 204);
  });
  router.Add("POST", "/containers/{id}/stop", [&](Request& req, Response& res) {
    auto c = cs.Get(req.Param("id"));
    std::optional<int> t;
    if (req.Has("t")) t = static_cast<int>(req.QueryInt("t", 10));
    if (req.Has("signal")) throw HttpError(501, "lcd-engine does not implement stop --signal");
    SendNoContent(res, cs.Stop(c, t) ? 204 : 304);
  });
  router.Add("POST", "/containers/{id}/restart", [&](Request& req, Response& res) {
    auto c = cs.Get(req.Param("id"));
    std::optional<int> t;
    if (req.Has("t")) t = static_cast<int>(req.QueryInt("t", 10));
    cs.Stop(c, t);
    cs.Start(c);
    cs.Publish(*c, "restart");
    SendNoContent(res, 204);
  });
  router.Add("POST", "/containers/{id}/pause", [&](Request& req, Response& res) {
    auto c = cs.Get(req.Param("id"));
    std::shared_ptr<lcd::Task> task;
    {
      std::lock_guard l(c->mu);
      if (c->rec.status == "paused")
        throw HttpError(409, "Container " + c->rec.id + " is already paused");
      if (!c->running() || !c->task)
        throw HttpError(409, "Container " + c->rec.id + " is not running");
      task = c->task;
    }
    task->Pause(Engine::Ctx());
    {
      std::lock_guard l(c->mu);
      c->rec.status = "paused";
      cs.Save(*c);
    }
    cs.Publish(*c, "pause");
    SendNoContent(res, 204);
  });
  router.Add("POST", "/containers/{id}/unpause", [&](Request& req, Response& res) {
    auto c = cs.Get(req.Param("id"));
    std::shared_ptr<lcd::Task> task;
    {
      std::lock_guard l(c->mu);
      if (c->rec.status != "paused")
        throw HttpError(409, "Container " + c->rec.id + " is not paused");
      task = c->task;
    }
    task->Resume(Engine::Ctx());
    {
      std::lock_guard l(c->mu);
      c->rec.status = "running";
      cs.Save(*c);
    }
    cs.Publish(*c, "unpause");
    SendNoContent(res, 204);
  });
  router.Add("DELETE", "/containers/{id}", [&](Request& req, Response& res) {
    if (req.QueryBool("link")) throw HttpError(501, "lcd-engine does not implement links");
    auto c = cs.Get(req.Param("id"));
    cs.Remove(c, req.QueryBool("force"), req.QueryBool("v"));
    SendNoContent(res, 204);
  });
  router.Add("GET", "/containers/json", [&](Request& req, Response& res) {
    auto filters = ParseFilters(req.Query("filters"));
    const bool all = req.QueryBool("all");
    int64_t limit = req.QueryInt("limit", -1);
    std::vector<std::pair<ContainerRecord, std::string>> recs;  // record, health status
    auto health_filter = filters.find("health");
    std::vector<std::string> health_values;
    if (health_filter != filters.end()) {
      health_values = health_filter->second;
      filters.erase(health_filter);
    }
    for (auto& c : cs.All()) {
      std::lock_guard l(c->mu);
      if (c->removed) continue;
      if (!all && !c->running() && filters.count("status") == 0) continue;
      if (!MatchesFilters(c->rec, filters)) continue;
      std::string health = c->health.is_object() ? c->health.value("Status", "") : "";
      if (!health_values.empty() &&
          std::find(health_values.begin(), health_values.end(), health.empty() ? "none" : health) ==
              health_values.end())
        continue;
      recs.emplace_back(c->rec, health);
    }
    std::sort(recs.begin(), recs.end(),
              [](const auto& a, const auto& b) { return a.first.created > b.first.created; });
    if (limit > 0 && recs.size() > static_cast<size_t>(limit)) recs.resize(limit);
    json out = json::array();
    for (const auto& [r, health] : recs) {
      json j = SummaryJson(r);
      if (!health.empty() && r.status == "running")
        j["Status"] = j["Status"].get<std::string>() +
                      (health == "starting" ? " (health: starting)" : " (" + health + ")");
      out.push_back(std::move(j));
    }
    SendJson(res, 200, out.dump());
  });
  router.Add("GET", "/containers/{id}/json", [&](Request& req, Response& res) {
    auto c = cs.Get(req.Param("id"));
    json out;
    {
      std::lock_guard l(c->mu);
      out = InspectJson(c->rec);
      if (!c->health.is_null()) out["State"]["Health"] = c->health;
      json ids = json::array();
      for (const auto& [id, e] : c->execs) ids.push_back(id);
      if (!ids.empty()) out["ExecIDs"] = ids;
    }
    if (req.QueryBool("size")) {
      out["SizeRw"] = 0;
      out["SizeRootFs"] = 0;
    }
    SendJson(res, 200, out.dump());
  });
  RegisterContainerOpsRoutes(router, engine);
}

}  // namespace lcde
