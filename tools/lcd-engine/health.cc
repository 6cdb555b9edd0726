// lcd-engine: docker's health checks (see health.h and docs/engine.md "Health checks").
// One thread per checked container: a check blocks (an exec, up to its timeout), so a slow check
// of one container never delays another's, and a thread that sleeps on a condition variable
// between checks costs nothing; containers with health checks are few.
#include "health.h"

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "containers.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/spec.h"

namespace lcde {

namespace lcd = libcontainerd;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kMinimumDurationNs = 1'000'000;  // 1 ms, docker's minimum

std::string NewProbeId() {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string out = "health-";
  for (int i = 0; i < 24; ++i) out += hex[rd() % 16];
  return out;
}

// A field of Config.Healthcheck: an integer (nanoseconds or a count); 0 when absent or null.
int64_t IntField(const json& hc, const char* key) {
  auto it = hc.find(key);
  if (it == hc.end() || it->is_null()) return 0;
  if (!it->is_number_integer())
    throw HttpError(400, std::string("Healthcheck.") + key + ": expected an integer (" +
                             (std::string(key) == "Retries" ? "a count" : "nanoseconds") +
                             "), got " + it->dump());
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX})
    throw HttpError(400, std::string("Healthcheck.") + key + ": " + it->dump() + " is too large");
  return it->get<int64_t>();
}

std::vector<std::string> TestField(const json& hc) {
  std::vector<std::string> out;
  auto it = hc.find("Test");
  if (it == hc.end() || it->is_null()) return out;
  if (!it->is_array())
    throw HttpError(400,
                    "Healthcheck.Test: expected a list of strings such as [\"CMD-SHELL\", "
                    "\"command\"], got " +
                        it->dump());
  for (const auto& x : *it) {
    if (!x.is_string())
      throw HttpError(400, "Healthcheck.Test: expected a list of strings, got " + it->dump());
    out.push_back(x.get<std::string>());
  }
  return out;
}

void CheckDuration(const char* name, int64_t ns) {
  if (ns == 0 || ns >= kMinimumDurationNs) return;
  throw HttpError(400, std::string("Healthcheck.") + name +
                           " must be 0 (the default) or at least " + "1ms, got " +
                           (ns < 0 ? "-" + HealthDuration(-ns) : HealthDuration(ns)));
}

void CheckTest(const std::vector<std::string>& test) {
  if (test.empty()) return;
  const std::string& kind = test[0];
  if (kind == "NONE") return;
  if (kind == "CMD") {
    if (test.size() < 2)
      throw HttpError(400, "Healthcheck.Test: [\"CMD\"] needs the command to run after it");
    return;
  }
  if (kind == "CMD-SHELL") {
    if (test.size() != 2)
      throw HttpError(400,
                      "Healthcheck.Test: [\"CMD-SHELL\", ...] takes exactly one command string, "
                      "got " +
                          std::to_string(test.size() - 1));
    return;
  }
  throw HttpError(400, "Healthcheck.Test: unknown kind \"" + kind +
                           "\"; the first element must be CMD, CMD-SHELL or NONE");
}

// The output of a check: stdout and stderr together, the first kHealthMaxOutputBytes.
struct ProbeOutput {
  std::mutex mu;
  std::string text;
  void Append(std::string_view d) {
    std::lock_guard l(mu);
    if (text.size() >= kHealthMaxOutputBytes) return;
    text.append(d.substr(0, kHealthMaxOutputBytes - text.size()));
  }
  std::string Get() {
    std::lock_guard l(mu);
    return text;
  }
};

struct ProbeResult {
  std::chrono::system_clock::time_point start, end;
  std::chrono::steady_clock::time_point start_steady;
  int exit_code = 0;  // -1: the check could not run or timed out
  std::string output;
};

// One container's checker, for one start of it (gen = Ctr::starts then).
struct Checker {
  std::string id;
  uint64_t gen = 0;
  HealthProbe probe;
  std::chrono::steady_clock::time_point started;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  lcd::Context ctx = lcd::Context::Background();  // cancelled by Stop: ends a running check

  void Stop() {
    {
      std::lock_guard l(mu);
      stop = true;
    }
    cv.notify_all();
    ctx.Cancel();
  }
  bool stopped() {
    std::lock_guard l(mu);
    return stop;
  }
};

struct HealthState {
  Engine* engine = nullptr;
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Checker>> checkers;  // container id -> its checker
  int threads = 0;                                           // checker threads still running
  bool closing = false;
};

// Waits for an IO's output to be copied, at most `limit` (a child of the check that keeps the
// FIFOs open would hold it forever), then cancels the copy.
void DrainIo(const std::shared_ptr<lcd::IO>& io, std::chrono::milliseconds limit) {
  if (!io) return;
  struct Flag {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto flag = std::make_shared<Flag>();
  std::thread t([io, flag] {
    io->Wait();
    {
      std::lock_guard l(flag->mu);
      flag->done = true;
    }
    flag->cv.notify_all();
  });
  {
    std::unique_lock l(flag->mu);
    if (!flag->cv.wait_for(l, limit, [&] { return flag->done; })) {
      l.unlock();
      io->Cancel();
    }
  }
  t.join();
}

// Runs the check once as an exec in the task; never throws.
ProbeResult RunProbe(const std::shared_ptr<lcd::Task>& task, const lcd::oci::Process& base,
                     Checker& k) {
  ProbeResult r;
  r.start = std::chrono::system_clock::now();
  r.start_steady = std::chrono::steady_clock::now();
  const std::chrono::nanoseconds timeout(k.probe.timeout_ns);
  lcd::Context ctx = k.ctx.WithDeadline(r.start_steady + timeout);
  auto out = std::make_shared<ProbeOutput>();
  auto cb =
      Containers::OutputCallback(nullptr, [out](int, std::string_view data) { out->Append(data); });
  lcd::oci::Process p = base;
  p.args = k.probe.args;
  p.terminal = false;
  p.console_size.reset();
  const std::string exec_id = NewProbeId();
  std::shared_ptr<lcd::IO> io;
  std::shared_ptr<lcd::Process> process;
  bool timed_out = false;
  std::string error;
  try {
    process = task->Exec(ctx, exec_id, p, false, [&](std::shared_ptr<lcd::DirectIO> f) {
      io = cb(std::move(f));
      return io;
    });
    r.exit_code = static_cast<int>(process->Wait(ctx).exit_code);
  } catch (const lcd::Error& e) {
    r.exit_code = -1;
    // Past the deadline, whatever the error says (containerd may report the runtime's cancelled
    // exec as "context deadline exceeded: unknown"), the check took too long.
    if (!k.stopped() && (e.kind() == lcd::ErrorKind::kDeadlineExceeded ||
                         std::chrono::steady_clock::now() >= r.start_steady + timeout))
      timed_out = true;
    else
      error = e.message();
  } catch (const std::exception& e) {
    r.exit_code = -1;
    error = e.what();
  }
  if (process && r.exit_code == -1) {  // timed out or stopped: the check goes
    try {
      process->Kill(Engine::Ctx(), SIGKILL);
    } catch (const lcd::Error&) {
    }
    try {
      process->Wait(lcd::Context::WithTimeout(5s));
    } catch (const lcd::Error&) {
    }
  }
  DrainIo(io, 2s);
  if (process) {
    try {
      process->Delete(Engine::Ctx());
    } catch (const lcd::Error& e) {
      if (e.kind() != lcd::ErrorKind::kNotFound)
        lcd::Log(lcd::LogLevel::kWarning,
                 "lcd-engine: deleting health check exec " + exec_id + ": " + e.message());
    }
  }
  if (io) io->Close();
  r.end = std::chrono::system_clock::now();
  if (timed_out)
    r.output =
        "health check timed out after " + HealthDuration(k.probe.timeout_ns) + " and was killed";
  else if (!error.empty())
    r.output = "health check could not run: " + error;
  else
    r.output = out->Get();
  if (r.output.size() > kHealthMaxOutputBytes) r.output.resize(kHealthMaxOutputBytes);
  return r;
}

// docker's rule for a result: a success is healthy; a failure counts unless the container is
// still starting within its start period; `retries` counted failures in a row are unhealthy.
void Record(Engine& engine, const std::shared_ptr<Ctr>& c, Checker& k, const ProbeResult& r) {
  std::string status, before;
  {
    std::lock_guard l(c->mu);
    if (c->starts != k.gen || !c->health.is_object()) return;
    json& h = c->health;
    before = h.value("Status", "starting");
    json entry = json::object();
    entry["Start"] = Rfc3339Nano(r.start);
    entry["End"] = Rfc3339Nano(r.end);
    entry["ExitCode"] = r.exit_code;
    entry["Output"] = r.output;
    if (!h.contains("Log") || !h["Log"].is_array()) h["Log"] = json::array();
    json& log = h["Log"];
    log.push_back(std::move(entry));
    while (log.size() > kHealthMaxLogEntries) log.erase(log.begin());
    int64_t streak = h.value("FailingStreak", int64_t{0});
    if (r.exit_code == 0) {
      streak = 0;
      h["Status"] = "healthy";
    } else {
      bool counts = true;
      if (before == "starting" &&
          r.start_steady - k.started < std::chrono::nanoseconds(k.probe.start_period_ns))
        counts = false;
      if (counts) {
        ++streak;
        if (streak >= k.probe.retries) h["Status"] = "unhealthy";
      }
    }
    h["FailingStreak"] = streak;
    status = h["Status"].get<std::string>();
  }
  if (status != before && !k.stopped()) engine.containers().Publish(*c, "health_status: " + status);
}

void RunChecker(std::shared_ptr<HealthState> st, std::shared_ptr<Checker> k,
                std::weak_ptr<Ctr> weak) {
  std::optional<lcd::oci::Process> base;
  const auto interval = std::chrono::nanoseconds(k->probe.interval_ns);
  for (;;) {
    {
      std::unique_lock l(k->mu);
      if (k->cv.wait_for(l, interval, [&] { return k->stop; })) break;
    }
    auto c = weak.lock();
    if (!c) break;
    std::shared_ptr<lcd::Task> task;
    std::shared_ptr<lcd::Container> container;
    bool paused = false;
    {
      std::lock_guard l(c->mu);
      if (c->removed || c->starts != k->gen || !c->running() || !c->task) break;
      paused = c->rec.status == "paused";
      task = c->task;
      container = c->container;
    }
    if (paused) continue;  // an exec in a frozen cgroup would hang: the next interval
    ProbeResult r;
    if (!base) {
      try {
        lcd::Context ctx = Engine::Ctx();
        if (!container) container = st->engine->client().LoadContainer(ctx, k->id);
        lcd::oci::Spec spec = container->Spec(ctx);
        base = spec.process ? *spec.process : lcd::oci::Process{};
        if (base->cwd.empty()) base->cwd = "/";
      } catch (const std::exception& e) {
        r.start = r.end = std::chrono::system_clock::now();
        r.start_steady = std::chrono::steady_clock::now();
        r.exit_code = -1;
        r.output =
            std::string("health check could not run: reading the container's spec: ") + e.what();
      }
    }
    if (base) r = RunProbe(task, *base, *k);
    if (k->stopped()) break;  // the container stops: a killed check is no result
    Record(*st->engine, c, *k, r);
  }
  {
    std::lock_guard l(st->mu);
    auto it = st->checkers.find(k->id);
    if (it != st->checkers.end() && it->second == k) st->checkers.erase(it);
    --st->threads;
  }
  st->cv.notify_all();
}

void StopChecker(const std::shared_ptr<HealthState>& st, const std::string& id) {
  std::shared_ptr<Checker> k;
  {
    std::lock_guard l(st->mu);
    auto it = st->checkers.find(id);
    if (it == st->checkers.end()) return;
    k = it->second;
    st->checkers.erase(it);
  }
  k->Stop();
}

void OnStarted(const std::shared_ptr<HealthState>& st, const std::shared_ptr<Ctr>& c) {
  json hc;
  std::string image_ref, id;
  uint64_t gen;
  {
    std::lock_guard l(c->mu);
    if (c->removed || !c->running()) return;  // exited already (on_stopped came first)
    hc = c->rec.config.contains("Healthcheck") ? c->rec.config["Healthcheck"] : json(nullptr);
    image_ref = c->rec.image_ref;
    id = c->rec.id;
    gen = c->starts;
  }
  std::optional<HealthProbe> probe;
  try {
    // The image's HEALTHCHECK is needed unless the request's check is complete.
    bool complete = hc.is_object() && !TestField(hc).empty() && IntField(hc, "Interval") != 0 &&
                    IntField(hc, "Timeout") != 0 && IntField(hc, "StartPeriod") != 0 &&
                    IntField(hc, "Retries") != 0;
    if (hc.is_object() && !TestField(hc).empty() && TestField(hc)[0] == "NONE") complete = true;
    std::optional<lcd::images::HealthConfig> image;
    if (!complete && !image_ref.empty()) {
      try {
        image = st->engine->images().Inspect(Engine::Ctx(), image_ref).config.healthcheck;
      } catch (const lcd::Error& e) {
        if (e.kind() != lcd::ErrorKind::kNotFound) throw;
        // The image was removed since: the container's own check only.
      }
    }
    probe = ResolveHealthProbe(hc, image);
  } catch (const std::exception& e) {
    lcd::Log(lcd::LogLevel::kWarning,
             "lcd-engine: container " + id + ": no health check: " + e.what());
    return;
  }
  StopChecker(st, id);  // a checker of an earlier start
  if (!probe) return;
  {
    std::lock_guard l(c->mu);
    if (c->starts != gen || !c->running()) return;
    // docker keeps the Log of earlier runs; the status and streak begin again.
    if (!c->health.is_object()) c->health = json{{"Log", json::array()}};
    c->health["Status"] = "starting";
    c->health["FailingStreak"] = 0;
  }
  auto k = std::make_shared<Checker>();
  k->id = id;
  k->gen = gen;
  k->probe = *probe;
  k->started = std::chrono::steady_clock::now();
  {
    std::lock_guard l(st->mu);
    if (st->closing) return;
    st->checkers[id] = k;
    ++st->threads;
  }
  std::thread(RunChecker, st, k, std::weak_ptr<Ctr>(c)).detach();
}

// Owned by the Containers hooks: when they go (the engine's end), every checker is stopped and
// awaited, so that none outlives the engine.
struct Closer {
  std::shared_ptr<HealthState> st;
  ~Closer() {
    if (!st) return;
    std::vector<std::shared_ptr<Checker>> all;
    {
      std::lock_guard l(st->mu);
      st->closing = true;
      for (auto& [id, k] : st->checkers) all.push_back(k);
      st->checkers.clear();
    }
    for (auto& k : all) k->Stop();
    std::unique_lock l(st->mu);
    if (!st->cv.wait_for(l, 15s, [&] { return st->threads == 0; }))
      lcd::Log(lcd::LogLevel::kWarning, "lcd-engine: " + std::to_string(st->threads) +
                                            " health checkers did not stop in 15s");
  }
};

}  // namespace

std::string HealthDuration(int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? uint64_t(0) - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  auto frac = [](uint64_t v, uint64_t unit) {  // "1.5" for v = 1500, unit = 1000
    std::string s = std::to_string(v / unit);
    uint64_t rest = v % unit;
    if (rest == 0) return s;
    std::string digits = std::to_string(rest);
    digits = std::string(std::to_string(unit).size() - 1 - digits.size(), '0') + digits;
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    return s + "." + digits;
  };
  if (u < 1'000) return sign + std::to_string(u) + "ns";
  if (u < 1'000'000) return sign + frac(u, 1'000) + "µs";
  if (u < 1'000'000'000) return sign + frac(u, 1'000'000) + "ms";
  uint64_t hours = u / 3'600'000'000'000, minutes = u / 60'000'000'000 % 60;
  std::string out = sign;
  if (hours) out += std::to_string(hours) + "h";
  if (hours || minutes) out += std::to_string(minutes) + "m";
  return out + frac(u % 60'000'000'000, 1'000'000'000) + "s";
}

void ValidateHealthcheck(const json& hc) {
  if (hc.is_null()) return;
  if (!hc.is_object())
    throw HttpError(400,
                    "Healthcheck: expected an object {Test, Interval, Timeout, StartPeriod, "
                    "Retries}, got " +
                        hc.dump());
  CheckTest(TestField(hc));
  CheckDuration("Interval", IntField(hc, "Interval"));
  CheckDuration("Timeout", IntField(hc, "Timeout"));
  CheckDuration("StartPeriod", IntField(hc, "StartPeriod"));
  int64_t retries = IntField(hc, "Retries");
  if (retries < 0)
    throw HttpError(400, "Healthcheck.Retries must be 0 (the default, 3) or more, got " +
                             std::to_string(retries));
  if (retries > INT32_MAX)
    throw HttpError(400, "Healthcheck.Retries: " + std::to_string(retries) + " is too large");
}

std::optional<HealthProbe> ResolveHealthProbe(
    const json& hc, const std::optional<lcd::images::HealthConfig>& image) {
  ValidateHealthcheck(hc);
  lcd::images::HealthConfig m;
  if (hc.is_object()) {
    m.test = TestField(hc);
    m.interval = IntField(hc, "Interval");
    m.timeout = IntField(hc, "Timeout");
    m.start_period = IntField(hc, "StartPeriod");
    m.retries = static_cast<int>(IntField(hc, "Retries"));
    if (image) {
      if (m.test.empty()) m.test = image->test;
      if (m.interval == 0) m.interval = image->interval;
      if (m.timeout == 0) m.timeout = image->timeout;
      if (m.start_period == 0) m.start_period = image->start_period;
      if (m.retries == 0) m.retries = image->retries;
    }
  } else if (image) {
    m = *image;
  } else {
    return std::nullopt;
  }
  // The image's values are checked as the request's are (an image is input too).
  json merged = {{"Test", m.test},
                 {"Interval", m.interval},
                 {"Timeout", m.timeout},
                 {"StartPeriod", m.start_period},
                 {"Retries", m.retries}};
  ValidateHealthcheck(merged);
  if (m.test.empty() || m.test[0] == "NONE") return std::nullopt;
  HealthProbe p;
  if (m.test[0] == "CMD-SHELL")
    p.args = {"/bin/sh", "-c", m.test[1]};
  else
    p.args.assign(m.test.begin() + 1, m.test.end());
  p.interval_ns = m.interval ? m.interval : kHealthDefaultIntervalNs;
  p.timeout_ns = m.timeout ? m.timeout : kHealthDefaultTimeoutNs;
  p.start_period_ns = m.start_period;
  p.retries = m.retries ? m.retries : kHealthDefaultRetries;
  return p;
}

void RegisterHealth(Engine& engine) {
  auto st = std::make_shared<HealthState>();
  st->engine = &engine;
  auto closer = std::make_shared<Closer>();
  closer->st = st;
  Containers& cs = engine.containers();
  cs.on_started = [st, closer](const std::shared_ptr<Ctr>& c) { OnStarted(st, c); };
  cs.on_stopped = [st, closer](const std::shared_ptr<Ctr>& c) {
    std::string id;
    {
      std::lock_guard l(c->mu);
      id = c->rec.id;
    }
    StopChecker(st, id);
  };
  // Containers re-attached at engine start run already: their checks begin again.
  for (auto& c : cs.All()) OnStarted(st, c);
}

}  // namespace lcde
