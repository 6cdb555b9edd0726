// lcd-engine: containers (containers.h): records, lifecycle, exits, output and logs.
#include "containers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "common.h"
#include "health.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/image.h"
#include "libcontainerd/oci/signals.h"
#include "libcontainerd/oci/spec.h"

namespace lcde {

namespace lcd = libcontainerd;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- small helpers -------------------------------------------------------------------------

std::string Frame(int stream, std::string_view data) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(data.size());
  f[4] = static_cast<char>((n >> 24) & 0xff);
  f[5] = static_cast<char>((n >> 16) & 0xff);
  f[6] = static_cast<char>((n >> 8) & 0xff);
  f[7] = static_cast<char>(n & 0xff);
  f.append(data);
  return f;
}

std::string LogLine(std::string_view stream, std::string_view data,
                    std::chrono::system_clock::time_point t) {
  json j;
  j["log"] = std::string(data);
  j["stream"] = std::string(stream);
  j["time"] = Rfc3339Nano(t);
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

int ParseSignal(const std::string& s) {
  if (s.empty()) return SIGKILL;
  try {
    return lcd::oci::ParseSignal(s);
  } catch (const lcd::Error&) {
    throw HttpError(400, "Invalid signal: " + s);
  }
}

namespace {

// Names as docker makes them when none is given: "<adjective>_<noun>" (our own word lists).
std::string RandomName() {
  static const char* adjectives[] = {"amber",  "brave", "calm",   "clever", "eager", "fancy",
                                     "gentle", "happy", "jolly",  "keen",   "lucid", "merry",
                                     "noble",  "proud", "quiet",  "rapid",  "sharp", "silent",
                                     "steady", "swift", "tender", "upbeat", "vivid", "witty"};
  static const char* nouns[] = {"otter",  "falcon", "badger", "heron", "lynx",   "marmot",
                                "puffin", "raven",  "salmon", "tapir", "walrus", "yak",
                                "beaver", "condor", "ferret", "gecko", "ibis",   "koala",
                                "lemur",  "newt",   "ocelot", "panda", "quokka", "stoat"};
  std::random_device rd;
  return std::string(adjectives[rd() % std::size(adjectives)]) + "_" +
         nouns[rd() % std::size(nouns)];
}

// Waits until the process's output is all copied, but not for ever: a FIFO can stay open after
// the exit (a child of the process that kept it, or a task adopted after it stopped, whose shim
// holds its end until the task is deleted). After `limit` the copy is cancelled.
void WaitForOutput(lcd::IO& io, std::chrono::milliseconds limit) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread guard([&] {
    std::unique_lock l(mu);
    if (!cv.wait_for(l, limit, [&] { return done; })) io.Cancel();
  });
  io.Wait();
  {
    std::lock_guard l(mu);
    done = true;
  }
  cv.notify_all();
  guard.join();
}

bool ValidName(const std::string& n) {
  if (n.empty() || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  for (char ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != '-')
      return false;
  return true;
}

// A string list field that docker also accepts as one string (Cmd, Entrypoint: StrSlice).
std::optional<std::vector<std::string>> StrList(const json& j, const char* key,
                                                const std::string& where, bool split = false) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const json& v = j[key];
  std::vector<std::string> out;
  if (v.is_string()) {
    if (!split) return std::vector<std::string>{v.get<std::string>()};
    std::istringstream in(v.get<std::string>());
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
  }
  if (!v.is_array()) throw HttpError(400, where + key + ": expected a list of strings");
  for (const auto& x : v) {
    if (!x.is_string()) throw HttpError(400, where + key + ": expected a list of strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

[[noreturn]] void Unsupported(const std::string& what) {
  throw HttpError(501, "lcd-engine does not support " + what);
}

// Refuses a field not built: any key outside `supported` whose value is not empty.
void RefuseUnknown(const json& obj, const std::set<std::string>& supported,
                   const std::string& where) {
  if (!obj.is_object()) return;
  for (const auto& [k, v] : obj.items()) {
    if (supported.count(k)) continue;
    if (IsEmptyValue(v)) continue;
    Unsupported(where + k + " (got " + v.dump() + ")");
  }
}

std::string CapName(std::string c) {
  for (char& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (c != "ALL" && c.rfind("CAP_", 0) != 0) c = "CAP_" + c;
  return c;
}

void EditCaps(lcd::oci::Spec& spec, const std::vector<std::string>& add,
              const std::vector<std::string>& drop) {
  if (!spec.process || !spec.process->capabilities) return;
  auto& caps = *spec.process->capabilities;
  auto edit = [&](std::vector<std::string>& set) {
    for (const auto& d : drop) {
      std::string n = CapName(d);
      if (n == "ALL") {
        set.clear();
        continue;
      }
      set.erase(std::remove(set.begin(), set.end(), n), set.end());
    }
    for (const auto& a : add) {
      std::string n = CapName(a);
      if (n == "ALL") Unsupported("--cap-add ALL (use --privileged)");
      if (std::find(set.begin(), set.end(), n) == set.end()) set.push_back(n);
    }
  };
  edit(caps.bounding);
  edit(caps.effective);
  edit(caps.permitted);
}

lcd::oci::Mount BindMount(const std::string& src, const std::string& dst, bool ro,
                          const std::string& propagation) {
  lcd::oci::Mount m;
  m.destination = dst;
  m.type = "bind";
  m.source = src;
  m.options = {"rbind", ro ? "ro" : "rw"};
  m.options.push_back(propagation.empty() ? "rprivate" : propagation);
  return m;
}

lcd::oci::Mount TmpfsMount(const std::string& dst, const std::string& opts) {
  lcd::oci::Mount m;
  m.destination = dst;
  m.type = "tmpfs";
  m.source = "tmpfs";
  m.options = {"nosuid", "nodev", "noexec"};
  std::istringstream in(opts);
  std::string o;
  while (std::getline(in, o, ','))
    if (!o.empty()) m.options.push_back(o);
  return m;
}

void AddDevice(lcd::oci::Spec& spec, const json& d) {
  std::string host = JsonStr(d, "PathOnHost", "HostConfig.Devices[].");
  std::string inside = JsonStr(d, "PathInContainer", "HostConfig.Devices[].");
  std::string perms = JsonStr(d, "CgroupPermissions", "HostConfig.Devices[].");
  if (inside.empty()) inside = host;
  if (perms.empty()) perms = "rwm";
  struct stat st {};
  if (::stat(host.c_str(), &st) != 0)
    throw HttpError(400, "error gathering device information while adding custom device \"" + host +
                             "\": no such file or directory");
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
    throw HttpError(400,
                    "\"" + host + "\" is not a device node (give a character or block device)");
  lcd::oci::LinuxDevice dev;
  dev.path = inside;
  dev.type = S_ISCHR(st.st_mode) ? "c" : "b";
  dev.major = major(st.st_rdev);
  dev.minor = minor(st.st_rdev);
  dev.file_mode = st.st_mode & 07777;
  dev.uid = 0;
  dev.gid = 0;
  if (!spec.linux) spec.linux.emplace();
  spec.linux->devices.push_back(dev);
  if (!spec.linux->resources) spec.linux->resources.emplace();
  lcd::oci::LinuxDeviceCgroup rule;
  rule.allow = true;
  rule.type = dev.type;
  rule.major = dev.major;
  rule.minor = dev.minor;
  rule.access = perms;
  spec.linux->resources->devices.push_back(rule);
}

// The cgroup limits of a HostConfig (docker update's fields), or nothing when none is set.
std::optional<lcd::oci::LinuxResources> ResourcesFromHostConfig(const json& hc) {
  lcd::oci::LinuxResources r;
  bool any = false;
  auto num = [&](const char* k) -> int64_t {
    return hc.contains(k) && hc[k].is_number_integer() ? hc[k].get<int64_t>() : 0;
  };
  if (int64_t m = num("Memory"); m > 0) {
    r.memory.emplace().limit = m;
    if (int64_t sw = num("MemorySwap"); sw != 0) r.memory->swap = sw;
    any = true;
  }
  if (int64_t n = num("NanoCpus"); n > 0) {
    auto& cpu = r.cpu.emplace();
    cpu.period = 100000;
    cpu.quota = n * 100000 / 1000000000;
    any = true;
  } else if (int64_t q = num("CpuQuota"); q != 0) {
    auto& cpu = r.cpu.emplace();
    cpu.quota = q;
    if (int64_t p = num("CpuPeriod"); p > 0) cpu.period = static_cast<uint64_t>(p);
    any = true;
  }
  if (int64_t s = num("CpuShares"); s > 0) {
    if (!r.cpu) r.cpu.emplace();
    r.cpu->shares = static_cast<uint64_t>(s);
    any = true;
  }
  if (int64_t p = num("PidsLimit"); p != 0) {
    r.pids.emplace().limit = p;
    any = true;
  }
  if (int64_t m = num("MemoryReservation"); m > 0) {
    if (!r.memory) r.memory.emplace();
    r.memory->reservation = m;
    any = true;
  }
  for (const char* k : {"CpusetCpus", "CpusetMems"}) {
    if (hc.contains(k) && hc[k].is_string() && !hc[k].get<std::string>().empty()) {
      if (!r.cpu) r.cpu.emplace();
      (std::string(k) == "CpusetCpus" ? r.cpu->cpus : r.cpu->mems) = hc[k].get<std::string>();
      any = true;
    }
  }
  if (!any) return std::nullopt;
  return r;
}

const std::set<std::string> kConfigFields = {"Hostname",     "Domainname",   "User",
                                             "AttachStdin",  "AttachStdout", "AttachStderr",
                                             "ExposedPorts", "Tty",          "OpenStdin",
                                             "StdinOnce",    "Env",          "Cmd",
                                             "Image",        "WorkingDir",   "Entrypoint",
                                             "Labels",       "StopSignal",   "StopTimeout",
                                             "ArgsEscaped",  "HostConfig",   "NetworkingConfig",
                                             "MacAddress",   "Volumes",      "Healthcheck"};

const std::set<std::string> kHostConfigFields = {
    "Binds",       "Mounts",         "Memory",       "NanoCpus",         "CpuShares",
    "PidsLimit",   "ReadonlyRootfs", "AutoRemove",   "NetworkMode",      "PortBindings",
    "CapAdd",      "CapDrop",        "Privileged",   "Devices",          "Dns",
    "DnsSearch",   "DnsOptions",     "ExtraHosts",   "RestartPolicy",    "LogConfig",
    "ConsoleSize", "IpcMode",        "CgroupnsMode", "MemorySwappiness", "MemorySwap",
    "Init",        "Tmpfs",          "Runtime",      "Isolation",        "VolumesFrom"};

}  // namespace

// ---- OutputSubscriber ----------------------------------------------------------------------

bool OutputSubscriber::Next(std::vector<OutputChunk>& out, std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, timeout, [&] { return !q_.empty() || closed_; });
  out.clear();
  while (!q_.empty()) {
    out.push_back(std::move(q_.front()));
    q_.pop_front();
  }
  bytes_ = 0;
  return !(closed_ && out.empty());
}

void OutputSubscriber::Push(int stream, std::string_view data) {
  {
    std::lock_guard l(mu_);
    if (closed_) return;
    if (bytes_ + data.size() > kMaxBuffered) {
      closed_ = true;  // too slow a reader: dropped
      q_.clear();
    } else {
      q_.push_back(OutputChunk{stream, std::string(data)});
      bytes_ += data.size();
    }
  }
  cv_.notify_all();
}

void OutputSubscriber::Close() {
  {
    std::lock_guard l(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool OutputSubscriber::closed() const {
  std::lock_guard l(mu_);
  return closed_;
}

// ---- records ---------------------------------------------------------------------------------

json RecordToJson(const ContainerRecord& r) {
  json ports = json::array();
  for (const auto& p : r.ports)
    ports.push_back({{"HostIp", p.host_ip},
                     {"HostPort", p.host_port},
                     {"ContainerPort", p.container_port},
                     {"Protocol", p.protocol}});
  return json{{"ID", r.id},
              {"Name", r.name},
              {"Created", r.created},
              {"Image", r.image},
              {"ImageRef", r.image_ref},
              {"ImageID", r.image_id},
              {"Path", r.path},
              {"Args", r.args},
              {"Config", r.config},
              {"HostConfig", r.host_config},
              {"State",
               {{"Status", r.status},
                {"Pid", r.pid},
                {"ExitCode", r.exit_code},
                {"OOMKilled", r.oom_killed},
                {"Error", r.error},
                {"StartedAt", r.started_at},
                {"FinishedAt", r.finished_at}}},
              {"RestartCount", r.restart_count},
              {"Updated", r.updated},
              {"ManuallyStopped", r.manually_stopped},
              {"Network",
               {{"Mode", r.network_mode},
                {"Name", r.network_name},
                {"IPAddress", r.ip_address},
                {"PrefixLen", r.prefix_length},
                {"Gateway", r.gateway},
                {"MacAddress", r.mac_address},
                {"Ports", ports},
                {"Hostname", r.hostname},
                {"HostsPath", r.hosts_path},
                {"ResolvConfPath", r.resolv_conf_path},
                {"HostnamePath", r.hostname_path}}},
              {"LogPath", r.log_path},
              {"Aliases", r.aliases},
              {"Volumes", [&] {
                 json v = json::array();
                 for (const auto& m : r.volumes) v.push_back(ToJson(m));
                 return v;
               }()}};
}

ContainerRecord RecordFromJson(const json& j) {
  ContainerRecord r;
  r.id = j.value("ID", "");
  r.name = j.value("Name", "");
  r.created = j.value("Created", "");
  r.image = j.value("Image", "");
  r.image_ref = j.value("ImageRef", "");
  r.image_id = j.value("ImageID", "");
  r.path = j.value("Path", "");
  r.args = j.value("Args", std::vector<std::string>{});
  r.config = j.value("Config", json::object());
  r.host_config = j.value("HostConfig", json::object());
  const json s = j.value("State", json::object());
  r.status = s.value("Status", "exited");
  r.pid = s.value("Pid", 0);
  r.exit_code = s.value("ExitCode", 0);
  r.oom_killed = s.value("OOMKilled", false);
  r.error = s.value("Error", "");
  r.started_at = s.value("StartedAt", r.started_at);
  r.finished_at = s.value("FinishedAt", r.finished_at);
  r.restart_count = j.value("RestartCount", 0);
  r.updated = j.value("Updated", false);
  r.manually_stopped = j.value("ManuallyStopped", false);
  const json n = j.value("Network", json::object());
  r.network_mode = n.value("Mode", "");
  r.network_name = n.value("Name", "");
  r.ip_address = n.value("IPAddress", "");
  r.prefix_length = n.value("PrefixLen", 0);
  r.gateway = n.value("Gateway", "");
  r.mac_address = n.value("MacAddress", "");
  for (const auto& p : n.value("Ports", json::array())) {
    lcd::net::PortMapping m;
    m.host_ip = p.value("HostIp", "");
    m.host_port = p.value("HostPort", uint16_t{0});
    m.container_port = p.value("ContainerPort", uint16_t{0});
    m.protocol = p.value("Protocol", "tcp");
    r.ports.push_back(m);
  }
  r.hostname = n.value("Hostname", "");
  r.hosts_path = n.value("HostsPath", "");
  r.resolv_conf_path = n.value("ResolvConfPath", "");
  r.hostname_path = n.value("HostnamePath", "");
  r.log_path = j.value("LogPath", "");
  r.aliases = j.value("Aliases", std::vector<std::string>{});
  for (const auto& v : j.value("Volumes", json::array()))
    r.volumes.push_back(VolumeMountFromJson(v));
  return r;
}

// ---- Containers ------------------------------------------------------------------------------

Containers::Containers(Engine& engine) : engine_(engine) {
  fs::create_directories(engine_.options().root + "/containers");
}

Containers::~Containers() {
  Shutdown();
  std::lock_guard l(mu_);
  for (auto& [id, c] : by_id_) {
    std::lock_guard cl(c->mu);
    if (c->log_fd >= 0) ::close(c->log_fd);
    c->log_fd = -1;
  }
}

void Containers::Spawn(std::function<void()> fn) {
  {
    std::lock_guard l(bg_mu_);
    ++bg_running_;
  }
  try {
    std::thread([this, fn = std::move(fn)]() mutable {
      try {
        fn();
      } catch (const std::exception& e) {
        lcd::Log(lcd::LogLevel::kWarning, std::string("lcd-engine: background work: ") + e.what());
      }
      fn = nullptr;  // what it holds goes before the count says it is done
      std::lock_guard l(bg_mu_);
      if (--bg_running_ == 0) bg_cv_.notify_all();
    }).detach();
  } catch (...) {
    std::lock_guard l(bg_mu_);
    if (--bg_running_ == 0) bg_cv_.notify_all();
    throw;
  }
}

void Containers::BeginShutdown() {
  shutting_down_ = true;
  for (auto& c : All()) {  // pending restart delays end now
    std::lock_guard l(c->mu);
    c->cv.notify_all();
  }
}

void Containers::WaitForBackground() {
  std::unique_lock l(bg_mu_);
  if (!bg_cv_.wait_for(l, 60s, [&] { return bg_running_ == 0; }))
    lcd::Log(lcd::LogLevel::kWarning, "lcd-engine: " + std::to_string(bg_running_) +
                                          " exit handlings or restarts still run after 60 s");
}

void Containers::Shutdown() {
  BeginShutdown();
  WaitForBackground();
}

std::string Containers::Dir(const std::string& id) const {
  return engine_.options().root + "/containers/" + id;
}

void Containers::Save(Ctr& c) {
  WriteFileAtomic(Dir(c.rec.id) + "/config.json", RecordToJson(c.rec).dump());
}

std::shared_ptr<Ctr> Containers::Find(const std::string& ref_in) {
  std::string ref = ref_in;
  if (!ref.empty() && ref[0] == '/') ref.erase(0, 1);
  if (ref.empty()) return nullptr;
  std::lock_guard l(mu_);
  if (auto it = by_id_.find(ref); it != by_id_.end()) return it->second;
  if (auto it = names_.find(ref); it != names_.end()) return by_id_.at(it->second);
  std::shared_ptr<Ctr> found;
  for (auto it = by_id_.lower_bound(ref); it != by_id_.end() && it->first.rfind(ref, 0) == 0;
       ++it) {
    if (found) return nullptr;  // ambiguous: docker says no such container too
    found = it->second;
  }
  return found;
}

std::shared_ptr<Ctr> Containers::Get(const std::string& ref) {
  auto c = Find(ref);
  if (!c) throw HttpError(404, "No such container: " + ref);
  return c;
}

std::vector<std::shared_ptr<Ctr>> Containers::All() {
  std::lock_guard l(mu_);
  std::vector<std::shared_ptr<Ctr>> out;
  for (auto& [id, c] : by_id_) out.push_back(c);
  return out;
}

std::pair<std::shared_ptr<Ctr>, std::shared_ptr<Ctr::Exec>> Containers::GetExec(
    const std::string& id) {
  for (auto& c : All()) {
    std::lock_guard l(c->mu);
    if (auto it = c->execs.find(id); it != c->execs.end()) return {c, it->second};
  }
  throw HttpError(404, "No such exec instance: " + id);
}

void Containers::AddExec(const std::shared_ptr<Ctr>& c, std::shared_ptr<Ctr::Exec> e) {
  std::lock_guard l(c->mu);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = c->execs.begin(); it != c->execs.end();) {
    if (it->second->exited && now - it->second->exited_at > std::chrono::minutes(5))
      it = c->execs.erase(it);
    else
      ++it;
  }
  c->execs[e->id] = std::move(e);
}

void Containers::Publish(const Ctr& c, const std::string& action,
                         std::map<std::string, std::string> extra) {
  Event e;
  e.type = "container";
  e.action = action;
  e.id = c.rec.id;
  e.attributes["name"] = c.rec.name;
  e.attributes["image"] = c.rec.image;
  if (c.rec.config.contains("Labels") && c.rec.config["Labels"].is_object())
    for (const auto& [k, v] : c.rec.config["Labels"].items())
      if (v.is_string()) e.attributes[k] = v.get<std::string>();
  for (auto& [k, v] : extra) e.attributes[k] = std::move(v);
  engine_.events().Publish(std::move(e));
}

lcd::StdioCallback Containers::OutputCallback(
    std::shared_ptr<lcd::DirectIO>* fifos_out,
    std::function<void(int stream, std::string_view data)> on_output) {
  return [fifos_out, on_output](std::shared_ptr<lcd::DirectIO> fifos) {
    if (fifos_out) *fifos_out = fifos;
    lcd::cio::StreamOptions o;
    o.on_stdout = [on_output](std::string_view d) { on_output(1, d); };
    o.on_stderr = [on_output](std::string_view d) { on_output(2, d); };
    return lcd::cio::Stream(std::move(fifos), std::move(o));
  };
}

void Containers::Deliver(Ctr& c, int stream, std::string_view data) {
  auto now = std::chrono::system_clock::now();
  std::lock_guard l(c.mu);
  for (auto& s : c.subscribers) s->Push(stream, data);
  std::string& partial = c.partial[stream == 2 ? 1 : 0];
  partial.append(data);
  std::string lines;
  size_t start = 0;
  for (;;) {
    size_t nl = partial.find('\n', start);
    if (nl == std::string::npos) break;
    lines += LogLine(stream == 2 ? "stderr" : "stdout",
                     std::string_view(partial).substr(start, nl + 1 - start), now);
    start = nl + 1;
  }
  partial.erase(0, start);
  if (partial.size() >= 16 * 1024) {  // docker's json-file splits long lines too
    lines += LogLine(stream == 2 ? "stderr" : "stdout", partial, now);
    partial.clear();
  }
  if (!lines.empty()) WriteLog(c, lines);
  c.cv.notify_all();
}

void Containers::FlushPartial(Ctr& c) {
  auto now = std::chrono::system_clock::now();
  std::lock_guard l(c.mu);
  std::string lines;
  for (int i = 0; i < 2; ++i) {
    if (c.partial[i].empty()) continue;
    lines += LogLine(i == 1 ? "stderr" : "stdout", c.partial[i], now);
    c.partial[i].clear();
  }
  if (!lines.empty()) WriteLog(c, lines);
  c.cv.notify_all();
}

// ---- create ----------------------------------------------------------------------------------

std::shared_ptr<Ctr> Containers::Create(const std::string& name_in, const json& body) {
  if (!body.is_object()) throw HttpError(400, "container config: expected a JSON object");
  RefuseUnknown(body, kConfigFields, "Config.");
  const json hc = body.value("HostConfig", json::object());
  if (!hc.is_object()) throw HttpError(400, "HostConfig: expected an object");
  RefuseUnknown(hc, kHostConfigFields, "HostConfig.");
  const std::string image_name = JsonStr(body, "Image", "Config.");
  if (image_name.empty()) throw HttpError(400, "Config.Image: no image given");
  ValidateHealthcheck(body.value("Healthcheck", json(nullptr)));
  if (body.contains("MacAddress") && !IsEmptyValue(body["MacAddress"]))
    Unsupported("Config.MacAddress (--mac-address)");
  // Fields whose defaults are not empty values.
  if (hc.contains("RestartPolicy"))
    ValidateRestartPolicy(hc["RestartPolicy"], hc.value("AutoRemove", false));
  if (hc.contains("LogConfig") && hc["LogConfig"].is_object()) {
    std::string t = hc["LogConfig"].value("Type", "");
    if (!t.empty() && t != "json-file")
      Unsupported("the log driver \"" + t + "\" (json-file only)");
    int64_t max_size = 0;
    int max_files = 1;
    ParseLogOptions(hc["LogConfig"].value("Config", json::object()), &max_size, &max_files);
  }
  for (const char* mode : {"IpcMode", "CgroupnsMode"}) {
    std::string v = JsonStr(hc, mode, "HostConfig.");
    if (!v.empty() && v != "private" && v != "shareable" && v != "none")
      Unsupported(std::string("HostConfig.") + mode + " \"" + v + "\"");
  }
  if (hc.contains("MemorySwappiness") && hc["MemorySwappiness"].is_number() &&
      hc["MemorySwappiness"].get<int64_t>() != -1)
    Unsupported("HostConfig.MemorySwappiness (--memory-swappiness)");
  if (hc.contains("Init") && hc["Init"].is_boolean() && hc["Init"].get<bool>())
    Unsupported("--init (an init process in the container)");
  {
    std::string rt = JsonStr(hc, "Runtime", "HostConfig.");
    if (!rt.empty() && rt != "runc") Unsupported("the runtime \"" + rt + "\" (runc only)");
  }
  if (hc.contains("MemorySwap") && hc["MemorySwap"].is_number()) {
    int64_t swap = hc["MemorySwap"].get<int64_t>();
    if (swap != 0 && swap != -1) Unsupported("HostConfig.MemorySwap (--memory-swap)");
  }

  // Name.
  std::string name = name_in;
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  if (!name.empty() && !ValidName(name))
    throw HttpError(
        400, "Invalid container name (" + name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  const std::string id = RandomHex(32);
  {
    std::lock_guard l(mu_);
    if (name.empty()) {
      do name = RandomName();
      while (names_.count(name));
    } else if (auto it = names_.find(name); it != names_.end()) {
      throw HttpError(409, "Conflict. The container name \"/" + name +
                               "\" is already in use by container \"" + it->second +
                               "\". You have to remove (or rename) that container to be able to "
                               "reuse that name.");
    }
    names_[name] = "";  // reserved while creating
  }
  bool reserved = true;
  auto release = [&] {
    if (!reserved) return;
    std::lock_guard l(mu_);
    names_.erase(name);
    reserved = false;
  };
  try {
    auto image = engine_.ResolveImage(image_name);
    auto c = std::make_shared<Ctr>();
    ContainerRecord& r = c->rec;
    r.id = id;
    r.name = name;
    r.created = Rfc3339Nano(std::chrono::system_clock::now());
    r.image = image_name;
    r.image_ref = image.name;
    r.image_id = Engine::ImageId(image);

    // The process: image config with the request's overrides.
    lcd::oci::ImageOverrides ov;
    if (auto ep = StrList(body, "Entrypoint", "Config.")) ov.entrypoint = *ep;
    if (auto cmd = StrList(body, "Cmd", "Config.")) ov.cmd = *cmd;
    if (auto env = StrList(body, "Env", "Config.")) ov.env = *env;
    if (std::string wd = JsonStr(body, "WorkingDir", "Config."); !wd.empty()) {
      if (wd[0] != '/')
        throw HttpError(400, "the working directory '" + wd +
                                 "' is invalid, it needs to be an "
                                 "absolute path");
      ov.working_dir = wd;
    }
    if (std::string u = JsonStr(body, "User", "Config."); !u.empty()) ov.user = u;
    const bool tty = body.value("Tty", false);
    lcd::oci::SpecOptions base;
    base.id = id;
    base.ns = engine_.options().ns;
    base.terminal = tty;
    base.readonly_rootfs = hc.value("ReadonlyRootfs", false);
    base.privileged = hc.value("Privileged", false);
    if (int64_t m = JsonInt(hc, "Memory", "HostConfig."); m != 0) {
      if (m < 6 * 1024 * 1024) throw HttpError(400, "Minimum memory limit allowed is 6MB");
      base.memory_limit = m;
    }
    if (int64_t n = JsonInt(hc, "NanoCpus", "HostConfig."); n != 0) {
      if (n < 0) throw HttpError(400, "HostConfig.NanoCpus: must be positive");
      long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
      if (n > ncpu * 1000000000LL)
        throw HttpError(400, "range of CPUs is from 0.01 to " + std::to_string(ncpu) +
                                 ".00, as there are only " + std::to_string(ncpu) +
                                 " CPUs available");
      base.cpus = static_cast<double>(n) / 1e9;
    }
    if (int64_t s = JsonInt(hc, "CpuShares", "HostConfig."); s != 0) base.cpu_shares = s;
    if (int64_t p = JsonInt(hc, "PidsLimit", "HostConfig."); p != 0) base.pids_limit = p;

    // Mounts: binds, --mount, --tmpfs; volumes (named, anonymous) are made below.
    struct VolumeRequest {
      std::string name;  // empty: anonymous
      std::string destination;
      bool read_only;
    };
    std::vector<VolumeRequest> volume_requests;
    if (auto binds = StrList(hc, "Binds", "HostConfig.")) {
      for (const auto& b : *binds) {
        const BindSpec bind = ParseBind(b);
        if (!bind.host_path()) {  // a named volume, created on first use
          volume_requests.push_back({bind.source, bind.destination, bind.read_only});
          continue;
        }
        std::error_code ec;
        if (!fs::exists(bind.source, ec)) fs::create_directories(bind.source, ec);  // docker's -v
        base.mounts.push_back(
            BindMount(bind.source, bind.destination, bind.read_only, bind.propagation));
      }
    }
    if (hc.contains("Mounts") && hc["Mounts"].is_array()) {
      for (const auto& m : hc["Mounts"]) {
        std::string type = JsonStr(m, "Type", "HostConfig.Mounts[].");
        std::string src = JsonStr(m, "Source", "HostConfig.Mounts[].");
        std::string dst = JsonStr(m, "Target", "HostConfig.Mounts[].");
        if (dst.empty() || dst[0] != '/')
          throw HttpError(400, "invalid mount config: the target must be an absolute path");
        bool ro = m.value("ReadOnly", false);
        if (type == "bind") {
          std::error_code ec;
          if (src.empty() || src[0] != '/' || !fs::exists(src, ec))
            throw HttpError(400,
                            "invalid mount config for type \"bind\": bind source path does "
                            "not exist: " +
                                src);
          std::string prop;
          if (m.contains("BindOptions") && m["BindOptions"].is_object())
            prop = m["BindOptions"].value("Propagation", "");
          base.mounts.push_back(BindMount(src, dst, ro, prop));
        } else if (type == "tmpfs") {
          std::string opts;
          if (m.contains("TmpfsOptions") && m["TmpfsOptions"].is_object()) {
            if (int64_t sz = m["TmpfsOptions"].value("SizeBytes", int64_t{0}); sz > 0)
              opts += "size=" + std::to_string(sz);
            if (int mode = m["TmpfsOptions"].value("Mode", 0); mode > 0) {
              char buf[16];
              snprintf(buf, sizeof buf, "%o", mode);
              opts += std::string(opts.empty() ? "" : ",") + "mode=" + buf;
            }
          }
          auto tm = TmpfsMount(dst, opts);
          if (ro) tm.options.push_back("ro");
          base.mounts.push_back(tm);
        } else if (type == "volume") {
          if (m.contains("VolumeOptions") && m["VolumeOptions"].is_object()) {
            const json& vo = m["VolumeOptions"];
            if (vo.contains("DriverConfig") && vo["DriverConfig"].is_object() &&
                !vo["DriverConfig"].value("Name", "").empty() &&
                vo["DriverConfig"].value("Name", "") != "local")
              Unsupported("volume drivers other than local (" +
                          vo["DriverConfig"].value("Name", "") + ")");
            if (vo.value("NoCopy", false)) Unsupported("--mount volume-nocopy");
          }
          volume_requests.push_back({src, dst, ro});
        } else {
          throw HttpError(
              400, "invalid mount config: mount type \"" + type + "\" is unknown (bind or tmpfs)");
        }
      }
    }
    if (hc.contains("Tmpfs") && hc["Tmpfs"].is_object()) {
      for (const auto& [dst, opts] : hc["Tmpfs"].items())
        base.mounts.push_back(TmpfsMount(dst, opts.is_string() ? opts.get<std::string>() : ""));
    }

    // Anonymous volumes: the request's Config.Volumes and the image's VOLUMEs not mounted
    // otherwise; --volumes-from: the other container's volumes and binds.
    auto mounted = [&](const std::string& dst) {
      for (const auto& m : base.mounts)
        if (m.destination == dst) return true;
      for (const auto& v : volume_requests)
        if (v.destination == dst) return true;
      return false;
    };
    std::vector<VolumeMount> inherited;
    if (auto from = StrList(hc, "VolumesFrom", "HostConfig.")) {
      for (const auto& f : *from) {
        std::string ref = f, mode_s;
        if (auto colon = f.rfind(':'); colon != std::string::npos) {
          ref = f.substr(0, colon);
          mode_s = f.substr(colon + 1);
          if (mode_s != "ro" && mode_s != "rw")
            throw HttpError(400, "invalid mode for --volumes-from " + f + " (ro or rw)");
        }
        auto other = Find(ref);
        if (!other) throw HttpError(404, "No such container: " + ref);
        std::lock_guard ol(other->mu);
        for (const auto& v : other->rec.volumes) {
          VolumeMount vm = v;
          if (mode_s == "ro") vm.rw = false;
          inherited.push_back(vm);
        }
        if (auto ob = StrList(other->rec.host_config, "Binds", "HostConfig.")) {
          for (const auto& b : *ob) {
            const BindSpec bind = ParseBind(b);
            if (!bind.host_path() || mounted(bind.destination)) continue;  // volumes: above
            base.mounts.push_back(BindMount(bind.source, bind.destination,
                                            bind.read_only || mode_s == "ro", bind.propagation));
          }
        }
      }
    }
    if (body.contains("Volumes") && body["Volumes"].is_object())
      for (const auto& [dst, v] : body["Volumes"].items())
        if (!mounted(dst)) volume_requests.push_back({"", dst, false});
    for (const auto& dst : image.config.volumes)
      if (!mounted(dst)) volume_requests.push_back({"", dst, false});

    // Network.
    std::string mode = JsonStr(hc, "NetworkMode", "HostConfig.");
    if (mode.empty() || mode == "default") mode = "bridge";
    lcd::net::NetworkRequest nr;
    if (mode == "host") {
      nr.mode = lcd::net::Mode::kHost;
      base.host_namespaces = {"network", "uts"};
    } else if (mode == "none") {
      nr.mode = lcd::net::Mode::kNone;
    } else if (mode.rfind("container:", 0) == 0) {
      auto other = Find(mode.substr(10));
      if (!other) throw HttpError(404, "No such container: " + mode.substr(10));
      {
        std::lock_guard l(other->mu);
        if (!other->running())
          throw HttpError(409, "cannot join network of a non running container: " + other->rec.id);
      }
      nr.mode = lcd::net::Mode::kContainer;
      nr.container = other->rec.id;
      mode = "container:" + other->rec.id;
    } else {
      nr.mode = lcd::net::Mode::kBridge;
      nr.network = mode;
      if (mode != lcd::net::kDefaultNetwork) {
        try {
          engine_.net().InspectNetwork(mode);
        } catch (const lcd::Error& e) {
          if (e.kind() == lcd::ErrorKind::kNotFound)
            throw HttpError(404, "network " + mode + " not found");
          throw;
        }
      }
    }
    if (hc.contains("PortBindings") && hc["PortBindings"].is_object() &&
        !hc["PortBindings"].empty()) {
      if (nr.mode != lcd::net::Mode::kBridge)
        throw HttpError(400, "published ports need a bridge network (got --network " + mode + ")");
      for (const auto& [cport, binds] : hc["PortBindings"].items()) {
        std::string proto = "tcp";
        std::string num = cport;
        if (auto slash = cport.find('/'); slash != std::string::npos) {
          proto = cport.substr(slash + 1);
          num = cport.substr(0, slash);
        }
        if (!binds.is_array()) continue;
        for (const auto& b : binds) {
          std::string hp = JsonStr(b, "HostPort", "HostConfig.PortBindings[].");
          std::string hip = JsonStr(b, "HostIp", "HostConfig.PortBindings[].");
          if (hp.empty())
            throw HttpError(501, "lcd-engine does not publish to random host ports yet (-p " + num +
                                     " or -P): give a host port, e.g. -p 8080:" + num);
          std::string spec = (hip.empty() ? "" : hip + ":") + hp + ":" + num + "/" + proto;
          try {
            nr.ports.push_back(lcd::net::ParsePortMapping(spec));
          } catch (const lcd::Error& e) {
            throw HttpError(400, "invalid port specification \"" + spec + "\": " + e.message());
          }
        }
      }
    }
    if (auto v = StrList(hc, "Dns", "HostConfig.")) nr.dns_servers = *v;
    if (auto v = StrList(hc, "DnsSearch", "HostConfig.")) nr.dns_search = *v;
    if (auto v = StrList(hc, "DnsOptions", "HostConfig.")) nr.dns_options = *v;
    if (auto v = StrList(hc, "ExtraHosts", "HostConfig.")) {
      for (const auto& h : *v) {
        try {
          nr.extra_hosts.push_back(lcd::net::ParseHostEntry(h));
        } catch (const lcd::Error& e) {
          throw HttpError(400, "invalid --add-host \"" + h + "\": " + e.message());
        }
      }
    }
    std::string hostname = JsonStr(body, "Hostname", "Config.");
    if (nr.mode != lcd::net::Mode::kHost) {
      if (hostname.empty()) hostname = id.substr(0, 12);
      nr.hostname = hostname;
      base.hostname = hostname;
    }
    std::vector<std::string> aliases;
    if (body.contains("NetworkingConfig") && body["NetworkingConfig"].is_object()) {
      const json& eps = body["NetworkingConfig"].value("EndpointsConfig", json::object());
      if (eps.is_object()) {
        for (const auto& [net, ep] : eps.items()) {
          if (net != mode && !(net == "default" && mode == lcd::net::kDefaultNetwork) &&
              mode.rfind("container:", 0) != 0 && mode != "host" && mode != "none")
            Unsupported("a second network at create (" + net + "): docker network connect later");
          if (!ep.is_object()) continue;
          for (const auto& [k, v] : ep.items()) {
            if (IsEmptyValue(v)) continue;
            if (k == "NetworkID" || k == "EndpointID" || k == "DNSNames") continue;
            if (k == "Aliases" && v.is_array()) {
              if (mode == lcd::net::kDefaultNetwork || mode == "host" || mode == "none" ||
                  mode.rfind("container:", 0) == 0)
                throw HttpError(400,
                                "network-scoped alias is supported only for containers in "
                                "user defined networks");
              for (const auto& a : v) {
                if (!a.is_string() || !ValidName(a.get<std::string>()))
                  throw HttpError(400, "invalid network alias " + a.dump());
                aliases.push_back(a.get<std::string>());
              }
              continue;
            }
            Unsupported("NetworkingConfig.EndpointsConfig." + k + " (--ip, --link: later)");
          }
        }
      }
    }

    // The spec. A user name is resolved against the image's /etc/passwd.
    lcd::Context ctx = Engine::Ctx();
    std::string user = ov.user.value_or(image.config.user);
    bool needs_root = !user.empty() && !std::all_of(user.begin(), user.end(), [](char ch) {
      return std::isdigit(static_cast<unsigned char>(ch)) || ch == ':';
    });
    lcd::oci::Spec spec;
    try {
      if (needs_root) {
        engine_.images().WithRootfs(ctx, image.name, [&](const std::string& dir) {
          spec = lcd::oci::SpecFromImage(image.config, ov, base, dir);
        });
      } else {
        spec = lcd::oci::SpecFromImage(image.config, ov, base);
      }
    } catch (const lcd::Error& e) {
      if (e.kind() == lcd::ErrorKind::kInvalidArgument) throw HttpError(400, e.message());
      throw;
    }
    std::vector<std::string> cap_add =
        StrList(hc, "CapAdd", "HostConfig.").value_or(std::vector<std::string>{});
    std::vector<std::string> cap_drop =
        StrList(hc, "CapDrop", "HostConfig.").value_or(std::vector<std::string>{});
    if (!base.privileged) EditCaps(spec, cap_add, cap_drop);
    if (hc.contains("Devices") && hc["Devices"].is_array())
      for (const auto& d : hc["Devices"]) AddDevice(spec, d);

    lcd::ContainerOptions co;
    co.image = image.name;
    co.network = nr;
    if (body.contains("Labels") && body["Labels"].is_object())
      for (const auto& [k, v] : body["Labels"].items())
        if (v.is_string()) co.labels["docker.label." + k] = v.get<std::string>();
    co.labels["lcd-engine.name"] = name;

    // The record's Config: the request merged with the image's defaults.
    json cfg = body;
    cfg.erase("HostConfig");
    cfg.erase("NetworkingConfig");
    cfg["Image"] = image_name;
    cfg["Hostname"] = hostname;
    cfg["Env"] = spec.process ? spec.process->env : std::vector<std::string>{};
    cfg["WorkingDir"] = spec.process ? spec.process->cwd : "/";
    if (!cfg.contains("User") || cfg["User"].is_null()) cfg["User"] = image.config.user;
    if (auto ep = StrList(body, "Entrypoint", "Config."))
      cfg["Entrypoint"] = *ep;
    else
      cfg["Entrypoint"] =
          image.config.entrypoint.empty() ? json(nullptr) : json(image.config.entrypoint);
    if (auto cmd = StrList(body, "Cmd", "Config."); cmd && !cmd->empty())
      cfg["Cmd"] = *cmd;
    else if (!body.contains("Entrypoint") || body["Entrypoint"].is_null())
      cfg["Cmd"] = image.config.cmd;
    json labels = json::object();
    for (const auto& [k, v] : image.config.labels) labels[k] = v;
    if (body.contains("Labels") && body["Labels"].is_object())
      for (const auto& [k, v] : body["Labels"].items()) labels[k] = v;
    cfg["Labels"] = labels;
    json exposed = json::object();
    for (const auto& p : image.config.exposed_ports) exposed[p] = json::object();
    if (body.contains("ExposedPorts") && body["ExposedPorts"].is_object())
      for (const auto& [k, v] : body["ExposedPorts"].items()) exposed[k] = json::object();
    cfg["ExposedPorts"] = exposed;
    if ((!cfg.contains("StopSignal") || IsEmptyValue(cfg["StopSignal"])) &&
        !image.config.stop_signal.empty())
      cfg["StopSignal"] = image.config.stop_signal;
    for (const char* k :
         {"AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"})
      if (!cfg.contains(k) || !cfg[k].is_boolean()) cfg[k] = false;
    if (!cfg.contains("Domainname")) cfg["Domainname"] = "";
    r.config = cfg;
    json hcr = hc;
    hcr["NetworkMode"] = mode;
    r.host_config = hcr;
    if (spec.process && !spec.process->args.empty()) {
      r.path = spec.process->args[0];
      r.args.assign(spec.process->args.begin() + 1, spec.process->args.end());
    }
    r.network_mode = mode;
    r.hostname = hostname;
    r.aliases = aliases;

    for (const auto& vm : inherited) {
      if (mounted(vm.destination)) continue;
      r.volumes.push_back(engine_.volumes().Mount(id, vm.name, vm.destination, !vm.rw, ""));
      r.volumes.back().anonymous = false;  // the other container's: not removed with this one
    }
    try {
      for (const auto& v : volume_requests)
        r.volumes.push_back(
            engine_.volumes().Mount(id, v.name, v.destination, v.read_only, image.name));
    } catch (...) {
      engine_.volumes().Release(id, r.volumes, true);
      throw;
    }
    for (const auto& vm : r.volumes) spec.mounts.push_back(Volumes::OciMount(vm));

    fs::create_directories(Dir(id));
    r.log_path = Dir(id) + "/" + id + "-json.log";
    c->log_fd = ::open(r.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (hc.contains("LogConfig") && hc["LogConfig"].is_object())
      ParseLogOptions(hc["LogConfig"].value("Config", json::object()), &c->log_max_size,
                      &c->log_max_files);
    try {
      c->container = engine_.client().NewContainer(ctx, id, spec, "", lcd::RuntimeOptions{}, co);
    } catch (const lcd::Error& e) {
      if (c->log_fd >= 0) ::close(c->log_fd);
      c->log_fd = -1;
      engine_.volumes().Release(id, r.volumes, true);
      std::error_code ec;
      fs::remove_all(Dir(id), ec);
      std::string msg = e.message();
      if (msg.find("already") != std::string::npos &&
          (msg.find("port") != std::string::npos || msg.find("in use") != std::string::npos))
        throw HttpError(500, "driver failed programming external connectivity: " + msg);
      throw;
    }
    if (nr.mode != lcd::net::Mode::kHost) {
      if (auto at = engine_.net().Inspect(engine_.options().ns, id)) {
        r.network_name = at->network;
        r.ip_address = at->ip_address;
        r.prefix_length = at->prefix_length;
        r.gateway = at->gateway;
        r.mac_address = at->mac_address;
        r.ports = at->ports;
        r.hosts_path = at->hosts_path;
        r.resolv_conf_path = at->resolv_conf_path;
        r.hostname_path = at->hostname_path;
      }
    }
    {
      std::lock_guard l(c->mu);
      Save(*c);
    }
    {
      std::lock_guard l(mu_);
      by_id_[id] = c;
      names_[name] = id;
      reserved = false;
    }
    Publish(*c, "create");
    return c;
  } catch (...) {
    release();
    throw;
  }
}

// ---- start / stop / kill / remove ------------------------------------------------------------

void Containers::Start(const std::shared_ptr<Ctr>& c) {
  lcd::Context ctx = Engine::Ctx();
  std::unique_lock l(c->mu);
  if (c->removed || c->rec.status == "removing")
    throw HttpError(409, "container " + c->rec.id + " is marked for removal and cannot be started");
  if (c->rec.status == "paused")
    throw HttpError(409, "cannot start a paused container, try unpause instead");
  // One start at a time: a second waits for the first, then finds it running (304).
  c->cv.wait_for(l, std::chrono::seconds(60), [&] { return !c->starting; });
  if (c->starting) throw HttpError(409, "container " + c->rec.id + " is still being started");
  if (c->running()) throw HttpError(304, "");
  if (!c->container) c->container = engine_.client().LoadContainer(ctx, c->rec.id);
  const bool with_stdin = c->rec.config.value("OpenStdin", false);
  const std::string network_name = c->rec.network_name;
  const json hc_copy = c->rec.updated ? c->rec.host_config : json::object();
  std::weak_ptr<Ctr> weak = c;
  std::shared_ptr<lcd::DirectIO> fifos;
  std::shared_ptr<lcd::IO> io;
  auto cb = OutputCallback(&fifos, [this, weak](int stream, std::string_view data) {
    if (auto cc = weak.lock()) Deliver(*cc, stream, data);
  });
  auto capture = [&](std::shared_ptr<lcd::DirectIO> f) {
    io = cb(std::move(f));
    return io;
  };
  std::shared_ptr<lcd::Task> task;
  // Output is delivered under c->mu: release it while the task is made and started, and mark
  // the container as starting (other starts, stops and kills wait for it).
  c->starting = true;
  l.unlock();
  try {
    try {
      task = c->container->NewTask(ctx, "", with_stdin, capture);
    } catch (const lcd::Error& e) {
      // A stopped task left over (the engine went away between an exit and its task's delete):
      // deleted, then the new one made. Only then: it costs an RPC on the start path otherwise.
      if (e.kind() != lcd::ErrorKind::kAlreadyExists) throw;
      try {
        c->container->GetTask(ctx)->Delete(ctx);
      } catch (const lcd::Error& te) {
        if (te.kind() != lcd::ErrorKind::kNotFound) throw;  // gone meanwhile
      }
      task = c->container->NewTask(ctx, "", with_stdin, capture);
    }
    try {
      // Limits changed by docker update since the container was made (the spec keeps those of
      // create): applied to the new task before it runs.
      if (auto res = ResourcesFromHostConfig(hc_copy)) task->UpdateResources(ctx, *res);
      // Its /etc/hosts knows the others of a user-defined network before it runs.
      RefreshHosts(network_name, c.get());
      task->Start(ctx);
    } catch (...) {
      try {
        task->Delete(ctx);
      } catch (const lcd::Error&) {
      }
      throw;
    }
  } catch (const lcd::Error& e) {
    if (io) io->Close();
    l.lock();
    c->starting = false;
    c->rec.status = c->starts > 0 ? "exited" : "created";
    c->rec.error = e.message();
    // docker's exit code for a container that could not start (the CLI reads the message).
    c->rec.exit_code = 128;
    std::string msg = e.message();
    if (e.kind() == lcd::ErrorKind::kNotFound) c->rec.exit_code = 127;
    if (e.kind() == lcd::ErrorKind::kFailedPrecondition) c->rec.exit_code = 126;
    Save(*c);
    for (auto& s : c->subscribers) s->Close();
    c->subscribers.clear();
    c->exits++;  // waiters see the failed start as an exit with that code, as with dockerd
    c->cv.notify_all();
    const bool auto_remove = c->rec.host_config.value("AutoRemove", false);
    l.unlock();
    if (auto_remove) {  // docker run --rm waits for the removal even when the start failed
      try {
        Remove(c, true, true);
      } catch (const std::exception& re) {
        lcd::Log(lcd::LogLevel::kWarning,
                 "lcd-engine: auto-removing " + c->rec.id + ": " + re.what());
      }
    }
    std::string prefix = "failed to create task for container: ";
    if (e.kind() == lcd::ErrorKind::kNotFound)
      throw HttpError(400, prefix + "exec: " + msg + ": no such file or directory");
    if (e.kind() == lcd::ErrorKind::kFailedPrecondition)
      throw HttpError(400, prefix + "exec: " + msg + ": permission denied");
    throw HttpError(500, prefix + msg);
  }
  l.lock();
  c->starting = false;
  c->rec.status = "running";
  c->task = task;
  c->fifos = fifos;
  c->io = io;
  c->rec.pid = static_cast<int>(task->Pid());
  c->rec.started_at = Rfc3339Nano(std::chrono::system_clock::now());
  c->rec.exit_code = 0;
  c->rec.error.clear();
  c->rec.oom_killed = false;
  c->stopping = false;
  c->rec.manually_stopped = false;
  c->starts++;
  Save(*c);
  c->cv.notify_all();
  bool exited_early = c->pending_exit.has_value();
  l.unlock();
  Publish(*c, "start");
  RefreshHosts(network_name);
  if (on_started) on_started(c);
  if (exited_early) {
    auto [code, at] = *c->pending_exit;
    c->pending_exit.reset();
    Exited(c, code, at);
  }
}

void Containers::OnEvent(const std::string& container_id, lcd::EventType type,
                         const lcd::EventInfo& info) {
  auto c = Find(container_id);
  if (!c || c->rec.id != container_id) return;
  if (type == lcd::EventType::kExit) {
    if (!info.process_id.empty() && info.process_id != container_id) {
      if (on_exec_exit) on_exec_exit(container_id, info.process_id, info.exit_code);
      return;
    }
    {
      std::lock_guard l(c->mu);
      if (c->starting) {  // Start has not recorded the task yet
        c->pending_exit = std::make_pair(info.exit_code, info.exited_at);
        return;
      }
    }
    Exited(c, info.exit_code, info.exited_at);
  } else if (type == lcd::EventType::kOOM) {
    {
      std::lock_guard l(c->mu);
      c->rec.oom_killed = true;
    }
    Publish(*c, "oom");
  } else if (type == lcd::EventType::kPaused) {
    {
      std::lock_guard l(c->mu);
      if (c->rec.status == "running") c->rec.status = "paused";
    }
  } else if (type == lcd::EventType::kResumed) {
    std::lock_guard l(c->mu);
    if (c->rec.status == "paused") c->rec.status = "running";
  }
}

void Containers::Exited(const std::shared_ptr<Ctr>& c, uint32_t code, lcd::SystemTime at,
                        bool adopted) {
  std::shared_ptr<lcd::Task> task;
  std::shared_ptr<lcd::IO> io;
  {
    std::lock_guard l(c->mu);
    if (!c->task) return;  // already handled (or never started)
    task = std::move(c->task);
    io = std::move(c->io);
    c->exiting = true;         // until its task is deleted and the exit recorded (Remove waits)
    c->rec.status = "exited";  // no longer running from now on for the API
    c->rec.exit_code = static_cast<int>(code);
  }
  // The rest blocks (output drained, task deleted): on its own thread, so that this container's
  // later events and other work go on.
  Spawn([this, c, task, io, code, at, adopted] {
    // The output ends when the shim closes its ends after the process's. A task adopted after
    // its exit reopened FIFOs whose writers were already gone: its Delete ends the copy.
    if (io && !adopted) WaitForOutput(*io, 5s);
    try {
      task->Delete(Engine::Ctx());
    } catch (const lcd::Error& e) {
      if (e.kind() != lcd::ErrorKind::kNotFound)
        lcd::Log(lcd::LogLevel::kWarning,
                 "lcd-engine: deleting the task of " + c->rec.id + ": " + e.message());
    }
    FlushPartial(*c);  // the last unterminated lines, once nothing more comes
    if (io) io->Close();
    bool auto_remove = false;
    {
      std::lock_guard l(c->mu);
      c->fifos.reset();
      c->rec.pid = 0;
      c->rec.finished_at =
          Rfc3339Nano(at.time_since_epoch().count() ? at : std::chrono::system_clock::now());
      for (auto& s : c->subscribers) s->Close();
      c->subscribers.clear();
      c->exits++;
      c->exiting = false;
      auto_remove = c->rec.host_config.value("AutoRemove", false) && !c->removed;
      try {
        Save(*c);
      } catch (const std::exception& e) {
        lcd::Log(lcd::LogLevel::kWarning, std::string("lcd-engine: saving state: ") + e.what());
      }
      c->cv.notify_all();
    }
    Publish(*c, "die", {{"exitCode", std::to_string(code)}});
    RefreshHosts(c->rec.network_name);
    if (on_stopped) on_stopped(c);
    if (!auto_remove && MaybeRestart(c, code)) return;
    if (auto_remove) {
      try {
        Remove(c, true, true);
      } catch (const std::exception& e) {
        lcd::Log(lcd::LogLevel::kWarning,
                 "lcd-engine: auto-removing " + c->rec.id + ": " + e.what());
      }
    }
  });
}

void Containers::Kill(const std::shared_ptr<Ctr>& c, int signal) {
  std::shared_ptr<lcd::Task> task;
  {
    std::unique_lock l(c->mu);
    c->cv.wait_for(l, std::chrono::seconds(60), [&] { return !c->starting; });
    if (!c->running() || !c->task)
      throw HttpError(409, "Cannot kill container: " + c->rec.id + ": Container " + c->rec.id +
                               " is not running");
    task = c->task;
    c->stopping = true;
    c->rec.manually_stopped = true;
  }
  try {
    task->Kill(Engine::Ctx(), signal);
  } catch (const lcd::Error& e) {
    if (e.kind() != lcd::ErrorKind::kNotFound) throw;
  }
  Publish(*c, "kill", {{"signal", std::to_string(signal)}});
}

bool Containers::Stop(const std::shared_ptr<Ctr>& c, std::optional<int> timeout_seconds) {
  uint64_t exits0;
  int sig = SIGTERM;
  int timeout = 10;
  {
    std::unique_lock l(c->mu);
    c->cv.wait_for(l, std::chrono::seconds(60), [&] { return !c->starting; });
    if (c->rec.status == "restarting") {  // a pending restart is cancelled
      c->stopping = true;
      c->rec.manually_stopped = true;
      c->rec.status = "exited";
      Save(*c);
      c->cv.notify_all();
      return true;
    }
    if (!c->running() || !c->task) return false;
    c->rec.manually_stopped = true;
    exits0 = c->exits;
    std::string s = c->rec.config.value("StopSignal", "");
    if (!s.empty()) {
      try {
        sig = lcd::oci::ParseSignal(s);
      } catch (const lcd::Error&) {
      }
    }
    if (c->rec.config.contains("StopTimeout") && c->rec.config["StopTimeout"].is_number())
      timeout = c->rec.config["StopTimeout"].get<int>();
  }
  if (timeout_seconds) timeout = *timeout_seconds;
  auto exited = [&] { return c->exits > exits0 || c->removed; };
  try {
    Kill(c, sig);
  } catch (const HttpError&) {
    return false;
  }
  {
    std::unique_lock l(c->mu);
    if (timeout < 0) {
      c->cv.wait(l, exited);
    } else if (!c->cv.wait_for(l, std::chrono::seconds(timeout), exited)) {
      l.unlock();
      try {
        Kill(c, SIGKILL);
      } catch (const HttpError&) {
      }
      l.lock();
      if (!c->cv.wait_for(l, 30s, exited))
        throw HttpError(500, "container " + c->rec.id + " did not exit 30 s after SIGKILL");
    }
  }
  Publish(*c, "stop");
  return true;
}

void Containers::Remove(const std::shared_ptr<Ctr>& c, bool force, bool remove_volumes) {
  {
    std::unique_lock l(c->mu);
    if (c->removed) return;
    if (c->rec.status == "removing")
      throw HttpError(409, "removal of container " + c->rec.id + " is already in progress");
    if (c->running() || c->starting) {
      if (!force)
        throw HttpError(409, "You cannot remove a " + c->rec.status + " container " + c->rec.id +
                                 ". Stop the container before attempting removal or force remove");
      uint64_t exits0 = c->exits;
      auto task = c->task;
      c->stopping = true;  // the kill is no exit for the restart policy (docker cancels it too)
      l.unlock();
      if (task) {
        try {
          if (c->rec.status == "paused") task->Resume(Engine::Ctx());
        } catch (const lcd::Error&) {
        }
        try {
          task->Kill(Engine::Ctx(), SIGKILL);
        } catch (const lcd::Error&) {
        }
        Publish(*c, "kill", {{"signal", "9"}});
      }
      l.lock();
      if (!c->cv.wait_for(l, 30s, [&] { return c->exits > exits0 || c->removed; }))
        throw HttpError(500, "container " + c->rec.id + " did not exit 30 s after SIGKILL");
      if (c->removed) return;
    }
    // An exit still being handled (its output drained, its task deleted) finishes first.
    if (!c->cv.wait_for(l, 30s, [&] { return !c->exiting; }))
      throw HttpError(500, "the exit of container " + c->rec.id + " is still being handled");
    if (c->removed) return;
    c->rec.status = "removing";
  }
  lcd::Context ctx = Engine::Ctx();
  try {
    if (!c->container) c->container = engine_.client().LoadContainer(ctx, c->rec.id);
    try {
      c->container->Delete(ctx);
    } catch (const lcd::Error& e) {
      // A task left over (see Start): deleted, then the container. Not asked for otherwise.
      if (e.kind() != lcd::ErrorKind::kFailedPrecondition) throw;
      try {
        c->container->GetTask(ctx)->Delete(ctx);
      } catch (const lcd::Error& te) {
        if (te.kind() != lcd::ErrorKind::kNotFound) throw;  // gone meanwhile
      }
      c->container->Delete(ctx);
    }
  } catch (const lcd::Error& e) {
    if (e.kind() != lcd::ErrorKind::kNotFound) {
      std::lock_guard l(c->mu);
      c->rec.status = "dead";
      c->rec.error = e.message();
      throw;
    }
  }
  {
    std::lock_guard l(mu_);
    by_id_.erase(c->rec.id);
    if (auto it = names_.find(c->rec.name); it != names_.end() && it->second == c->rec.id)
      names_.erase(it);
  }
  {
    std::lock_guard l(c->mu);
    c->removed = true;
    if (c->log_fd >= 0) ::close(c->log_fd);
    c->log_fd = -1;
    for (auto& s : c->subscribers) s->Close();
    c->subscribers.clear();
    c->cv.notify_all();
  }
  std::vector<VolumeMount> vols;
  {
    std::lock_guard l(c->mu);
    vols = c->rec.volumes;
  }
  engine_.volumes().Release(c->rec.id, vols, remove_volumes);
  std::error_code ec;
  fs::remove_all(Dir(c->rec.id), ec);
  Publish(*c, "destroy");
}

void Containers::Rename(const std::shared_ptr<Ctr>& c, const std::string& new_in) {
  std::string name = new_in;
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  if (name.empty()) throw HttpError(400, "Neither old nor new names may be empty");
  if (!ValidName(name))
    throw HttpError(
        400, "Invalid container name (" + name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  std::string old;
  {
    std::lock_guard l(mu_);
    {
      std::lock_guard cl(c->mu);
      old = c->rec.name;
    }
    if (old == name)
      throw HttpError(400, "Renaming a container with the same name as its current name");
    if (auto it = names_.find(name); it != names_.end())
      throw HttpError(409, "Conflict. The container name \"/" + name +
                               "\" is already in use by container \"" + it->second +
                               "\". You have to remove (or rename) that container to be able to "
                               "reuse that name.");
    names_.erase(old);
    names_[name] = c->rec.id;
    std::lock_guard cl(c->mu);
    c->rec.name = name;
    Save(*c);
  }
  Publish(*c, "rename", {{"oldName", "/" + old}});
  RefreshHosts(c->rec.network_name);
}

void Containers::Load() {
  lcd::Context ctx = Engine::Ctx();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(engine_.options().root + "/containers", ec)) {
    std::ifstream in(entry.path() / "config.json");
    if (!in) continue;
    json j = json::parse(in, nullptr, false);
    if (j.is_discarded()) {
      lcd::Log(lcd::LogLevel::kWarning,
               "lcd-engine: ignoring unreadable " + (entry.path() / "config.json").string());
      continue;
    }
    auto c = std::make_shared<Ctr>();
    c->rec = RecordFromJson(j);
    if (c->rec.id.empty()) continue;
    try {
      c->container = engine_.client().LoadContainer(ctx, c->rec.id);
    } catch (const lcd::Error& e) {
      lcd::Log(lcd::LogLevel::kWarning,
               "lcd-engine: container " + c->rec.id + " is gone from containerd: " + e.message());
      c->rec.status = "dead";
      c->rec.error = e.message();
    }
    // The log first: an adopted task's output (what it wrote while the engine was away) comes
    // as soon as its FIFOs are open again.
    c->log_fd = ::open(c->rec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    struct stat st {};
    if (c->log_fd >= 0 && ::fstat(c->log_fd, &st) == 0) {
      c->log_bytes = st.st_size;
      c->log_size = st.st_size;
    }
    try {
      const json lc = c->rec.host_config.value("LogConfig", json::object());
      if (lc.is_object())
        ParseLogOptions(lc.value("Config", json::object()), &c->log_max_size, &c->log_max_files);
    } catch (const std::exception&) {
    }
    if (c->container && (c->rec.status == "running" || c->rec.status == "paused")) {
      // Re-adopt the running task: its output goes on into the log.
      try {
        std::weak_ptr<Ctr> weak = c;
        std::shared_ptr<lcd::DirectIO> fifos;
        std::shared_ptr<lcd::IO> io;
        auto cb = OutputCallback(&fifos, [this, weak](int stream, std::string_view data) {
          if (auto cc = weak.lock()) Deliver(*cc, stream, data);
        });
        auto task = c->container->AttachTask(ctx, [&](std::shared_ptr<lcd::DirectIO> f) {
          io = cb(std::move(f));
          return io;
        });
        auto st = task->GetStatus(ctx);
        c->task = task;
        c->io = io;
        c->fifos = fifos;
        if (st.status == lcd::Status::kStopped) {
          c->rec.exit_code = static_cast<int>(st.exit_code);
          by_id_[c->rec.id] = c;
          Exited(c, st.exit_code, st.exited_at, /*adopted=*/true);
        }
      } catch (const lcd::Error& e) {
        c->rec.status = "exited";
        c->rec.exit_code = 255;
        c->rec.finished_at = Rfc3339Nano(std::chrono::system_clock::now());
      }
    } else if (c->rec.status == "running" || c->rec.status == "paused" ||
               c->rec.status == "removing") {
      c->rec.status = "exited";
    }
    std::lock_guard l(mu_);
    by_id_[c->rec.id] = c;
    names_[c->rec.name] = c->rec.id;
  }
}

void Containers::StopAll(std::optional<int> timeout_seconds) {
  BeginShutdown();
  std::vector<std::thread> threads;
  for (auto& c : All()) {
    std::optional<int> timeout = timeout_seconds;
    {
      std::lock_guard l(c->mu);
      if (!c->running()) continue;
      // Its own stop timeout; "wait forever" (-1) would hold the engine's exit: 10 s then.
      if (!timeout && c->rec.config.contains("StopTimeout") &&
          c->rec.config["StopTimeout"].is_number() && c->rec.config["StopTimeout"].get<int>() < 0)
        timeout = 10;
    }
    threads.emplace_back([this, c, timeout] {
      try {
        Stop(c, timeout);
      } catch (const std::exception& e) {
        lcd::Log(lcd::LogLevel::kWarning, "lcd-engine: stopping " + c->rec.id + ": " + e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  WaitForBackground();  // the exits' handling: logs flushed, tasks deleted, records saved
}

void ValidateRestartPolicy(const json& policy, bool auto_remove) {
  if (policy.is_null()) return;
  if (!policy.is_object()) throw HttpError(400, "RestartPolicy: expected an object");
  std::string name = policy.value("Name", "");
  int64_t max = 0;
  if (policy.contains("MaximumRetryCount") && policy["MaximumRetryCount"].is_number_integer())
    max = policy["MaximumRetryCount"].get<int64_t>();
  if (name.empty() || name == "no") {
    if (max != 0)
      throw HttpError(400,
                      "invalid restart policy: maximum retry count can only be used with "
                      "'on-failure'");
    return;
  }
  if (name != "always" && name != "unless-stopped" && name != "on-failure")
    throw HttpError(
        400, "invalid restart policy '" + name + "' (no, always, unless-stopped, on-failure[:N])");
  if (name != "on-failure" && max != 0)
    throw HttpError(400,
                    "invalid restart policy: maximum retry count can only be used with "
                    "'on-failure'");
  if (max < 0)
    throw HttpError(400, "invalid restart policy: maximum retry count cannot be negative");
  if (auto_remove)
    throw HttpError(400, "conflicting options: cannot specify both --restart and --rm");
}

bool Containers::MaybeRestart(const std::shared_ptr<Ctr>& c, uint32_t code) {
  int64_t delay_ms;
  {
    std::lock_guard l(c->mu);
    const json p = c->rec.host_config.value("RestartPolicy", json::object());
    const std::string name = p.is_object() ? p.value("Name", "") : "";
    const int64_t max = p.is_object() && p.contains("MaximumRetryCount") &&
                                p["MaximumRetryCount"].is_number_integer()
                            ? p["MaximumRetryCount"].get<int64_t>()
                            : 0;
    if (shutting_down_ || c->removed || c->stopping || c->rec.manually_stopped ||
        c->rec.status == "removing")
      return false;
    bool restart = name == "always" || name == "unless-stopped";
    if (name == "on-failure") restart = code != 0 && (max == 0 || c->rec.restart_count < max);
    if (!restart) return false;
    // docker's back-off: 100 ms, doubling, back to 100 ms after a run of 10 s or more.
    const int64_t ran_ns =
        ParseRfc3339Nano(c->rec.finished_at) - ParseRfc3339Nano(c->rec.started_at);
    if (c->restart_delay_ms == 0 || ran_ns >= 10'000'000'000LL)
      c->restart_delay_ms = 100;
    else
      c->restart_delay_ms = std::min<int64_t>(c->restart_delay_ms * 2, 60'000);
    delay_ms = c->restart_delay_ms;
    c->rec.status = "restarting";
    c->rec.restart_count++;
    Save(*c);
    c->cv.notify_all();
  }
  Spawn([this, c, delay_ms] {
    {
      std::unique_lock l(c->mu);
      c->cv.wait_for(l, std::chrono::milliseconds(delay_ms), [&] {
        return shutting_down_ || c->stopping || c->removed || c->rec.status != "restarting";
      });
      if (c->stopping || c->removed || c->rec.status != "restarting") return;
      c->rec.status = "exited";  // Start makes it running again
      if (shutting_down_) {      // the next engine start restarts it (StartupRestarts)
        Save(*c);
        c->cv.notify_all();
        return;
      }
    }
    try {
      Start(c);
    } catch (const std::exception& e) {
      lcd::Log(lcd::LogLevel::kWarning,
               "lcd-engine: restarting " + c->rec.id + " (restart policy): " + e.what());
    }
  });
  return true;
}

void Containers::StartupRestarts() {
  for (auto& c : All()) {
    bool start = false;
    {
      std::lock_guard l(c->mu);
      if (c->running() || c->starting || c->removed || c->rec.status == "dead" ||
          c->rec.status == "restarting")
        continue;
      const json p = c->rec.host_config.value("RestartPolicy", json::object());
      const std::string name = p.is_object() ? p.value("Name", "") : "";
      // on-failure: an exit while the engine was down is handled as any exit (MaybeRestart).
      start = name == "always" || (name == "unless-stopped" && !c->rec.manually_stopped);
    }
    if (!start) continue;
    Spawn([this, c] {
      if (shutting_down_) return;
      try {
        Start(c);
      } catch (const std::exception& e) {
        lcd::Log(lcd::LogLevel::kWarning,
                 "lcd-engine: starting " + c->rec.id + " at engine start: " + e.what());
      }
    });
  }
}

void Containers::WriteLog(Ctr& c, const std::string& lines) {
  if (c.log_fd < 0) return;
  if (c.log_max_size > 0) {  // rotation is checked entry by entry, as docker's json-file does
    size_t start = 0;
    while (start < lines.size()) {
      size_t nl = lines.find('\n', start);
      size_t end = nl == std::string::npos ? lines.size() : nl + 1;
      WriteLogEntry(c, std::string_view(lines).substr(start, end - start));
      start = end;
    }
    return;
  }
  WriteLogEntry(c, lines);
}

void Containers::WriteLogEntry(Ctr& c, std::string_view lines) {
  if (c.log_fd < 0) return;
  if (c.log_max_size > 0 && c.log_size > 0 &&
      c.log_size + static_cast<int64_t>(lines.size()) > c.log_max_size) {
    // Rotate: log.N-2 -> log.N-1, ..., log -> log.1 (max-file 1: the log starts again).
    const std::string& path = c.rec.log_path;
    for (int i = c.log_max_files - 1; i >= 1; --i) {
      std::string from = i == 1 ? path : path + "." + std::to_string(i - 1);
      ::rename(from.c_str(), (path + "." + std::to_string(i)).c_str());
    }
    ::close(c.log_fd);
    c.log_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0640);
    c.log_size = 0;
    if (c.log_fd < 0) return;
  }
  ssize_t w = ::write(c.log_fd, lines.data(), lines.size());
  if (w > 0) {
    c.log_bytes += static_cast<uint64_t>(w);
    c.log_size += w;
  }
}

void ParseLogOptions(const json& config, int64_t* max_size, int* max_files) {
  *max_size = 0;
  *max_files = 1;
  if (config.is_null()) return;
  if (!config.is_object()) throw HttpError(400, "LogConfig.Config: expected an object");
  for (const auto& [k, v] : config.items()) {
    std::string val = v.is_string() ? v.get<std::string>() : v.dump();
    if (k == "max-size") {
      if (val.empty() || val == "-1") continue;
      char* end = nullptr;
      double n = std::strtod(val.c_str(), &end);
      std::string unit = end ? end : "";
      for (char& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (!unit.empty() && unit.back() == 'b') unit.pop_back();
      if (!unit.empty() && unit.back() == 'i') unit.pop_back();
      double mult = unit.empty()  ? 1.0
                    : unit == "k" ? 1024.0
                    : unit == "m" ? 1048576.0
                    : unit == "g" ? 1073741824.0
                                  : -1.0;
      if (end == val.c_str() || mult < 0 || n <= 0)
        throw HttpError(400, "invalid value for log option max-size: \"" + val +
                                 "\" (a size such as 10k, 5m, 1g)");
      *max_size = static_cast<int64_t>(n * mult);
    } else if (k == "max-file") {
      int n = 0;
      try {
        n = std::stoi(val);
      } catch (...) {
        n = 0;
      }
      if (n < 1) throw HttpError(400, "invalid value for log option max-file: \"" + val + "\"");
      *max_files = n;
    } else {
      Unsupported("the log option " + k + " (json-file: max-size and max-file)");
    }
  }
  if (*max_files > 1 && *max_size == 0)
    throw HttpError(400, "max-file cannot be set without max-size");
}

std::vector<std::string> LogFiles(const std::string& log_path, int max_files) {
  std::vector<std::string> out;
  for (int i = max_files - 1; i >= 1; --i) {
    std::string p = log_path + "." + std::to_string(i);
    if (::access(p.c_str(), F_OK) == 0) out.push_back(p);
  }
  out.push_back(log_path);
  return out;
}

void Containers::RefreshHosts(const std::string& network, const Ctr* starting) {
  if (network.empty() || network == lcd::net::kDefaultNetwork) return;
  // docker resolves names on user-defined networks (its embedded DNS); here every running
  // container of the network gets the others' names, aliases and short ids in its /etc/hosts.
  struct Member {
    std::string ip;
    std::string hosts_path;
    std::string names;
  };
  std::lock_guard serial(hosts_mu_);
  std::vector<Member> members;
  for (auto& c : All()) {
    std::lock_guard l(c->mu);
    if (c->removed || c->rec.network_name != network || c->rec.ip_address.empty()) continue;
    if (c->rec.status != "running" && c->rec.status != "paused" && c.get() != starting) continue;
    std::string names = c->rec.name;
    if (!c->rec.hostname.empty() && c->rec.hostname != c->rec.name) names += " " + c->rec.hostname;
    if (c->rec.hostname != c->rec.id.substr(0, 12)) names += " " + c->rec.id.substr(0, 12);
    for (const auto& a : c->rec.aliases) names += " " + a;
    members.push_back(Member{c->rec.ip_address, c->rec.hosts_path, names});
  }
  const std::string marker = "# lcd-engine: the containers of network " + network + "\n";
  for (const auto& m : members) {
    if (m.hosts_path.empty()) continue;
    std::ifstream in(m.hosts_path);
    if (!in) continue;
    const std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string content = old;
    if (auto at = content.find(marker); at != std::string::npos) content.erase(at);
    if (!content.empty() && content.back() != '\n') content += '\n';
    content += marker;
    for (const auto& o : members)
      if (&o != &m) content += o.ip + "\t" + o.names + "\n";
    if (content == old) continue;  // a process inside may be reading it: leave it alone
    // In place: the file is bind-mounted into the container (a rename would not be seen). The
    // new text over the old, then the excess cut: a reader never finds the file empty.
    int fd = ::open(m.hosts_path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::pwrite(fd, content.data(), content.size(), 0) != static_cast<ssize_t>(content.size()) ||
        ::ftruncate(fd, static_cast<off_t>(content.size())) != 0)
      lcd::Log(lcd::LogLevel::kWarning,
               "lcd-engine: rewriting " + m.hosts_path + ": " + std::strerror(errno));
    ::close(fd);
  }
}

BindSpec ParseBind(const std::string& b) {
  std::vector<std::string> parts;
  std::istringstream in(b);
  std::string part;
  while (std::getline(in, part, ':')) parts.push_back(part);
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty())
    throw HttpError(400, "invalid volume specification: '" + b + "'");
  if (parts[1].empty() || parts[1][0] != '/')
    throw HttpError(
        400, "invalid volume specification: '" + b + "': the container path must be absolute");
  BindSpec spec{parts[0], parts[1], parts.size() == 3 ? parts[2] : ""};
  std::istringstream os(spec.mode);
  std::string o;
  while (std::getline(os, o, ',')) {
    if (o == "ro") {
      spec.read_only = true;
    } else if (o == "shared" || o == "rshared" || o == "slave" || o == "rslave" || o == "private" ||
               o == "rprivate") {
      spec.propagation = o;
    } else if (o != "rw" && o != "z" && o != "Z" && !o.empty()) {
      throw HttpError(400, "invalid mode: " + o + " (in -v " + b + ")");
    }
  }
  return spec;
}

}  // namespace lcde
