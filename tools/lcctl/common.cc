#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "libcontainerd/types.h"

namespace lcctl {

namespace lcd = libcontainerd;

Session::~Session() = default;

std::string Session::Address() const {
  return Managed() ? lcd::Supervisor::AddressFor(g_.root) : g_.address;
}

lcd::Client& Session::client() {
  if (client_) return *client_;
  if (Direct()) {
    client_ = lcd::NewDirectClient(DirectOptions());
    return *client_;
  }
  lcd::ClientOptions o;
  o.ns = g_.ns;
  o.backend = backend_;
  o.state_dir = (g_.root.empty() ? std::string(kDefaultRoot) : g_.root) + "/clients";
  o.network = net();
  if (Managed()) {
    lcd::SupervisorOptions so;
    so.root = g_.root;
    so.detached = true;  // the managed daemon outlives this command
    so.watch = false;
    supervisor_ = std::make_unique<lcd::Supervisor>(so);
    o.address = supervisor_->address();
    o.runc_root = supervisor_->runc_root();
  } else {
    o.address = g_.address;
  }
  options_ = o;
  try {
    client_ = lcd::NewContainerdClient(o);
  } catch (const lcd::Error& e) {
    if (e.kind() == lcd::ErrorKind::kUnavailable || e.kind() == lcd::ErrorKind::kDeadlineExceeded)
      throw ExitError(kExitFailure,
                      "cannot reach containerd at " + o.address + ": " + OneLine(e.message()) +
                          (Managed() ? "" : " (is it running? without -a, lcctl uses its own)"));
    throw;
  }
  return *client_;
}

std::shared_ptr<lcd::net::Manager> Session::net() {
  if (net_) return net_;
  lcd::net::ManagerOptions mo;
  mo.state_dir = (g_.root.empty() ? std::string(kDefaultRoot) : g_.root) + "/net";
  mo.config_dir = g_.net_config_dir;
  if (!g_.cni_path.empty()) mo.plugin_dirs = g_.cni_path;
  net_ = lcd::net::NewManager(mo);
  return net_;
}

lcd::DirectClientOptions Session::DirectOptions() {
  lcd::DirectClientOptions o;
  o.root = (g_.root.empty() ? std::string(kDefaultRoot) : g_.root) + "/direct";
  o.ns = g_.ns;
  if (!g_.runtime.empty()) o.runtime = g_.runtime;
  // Run from a build tree (not installed): the monitor built beside lcctl. Otherwise the
  // library's own search ($LCD_MONITOR, the installed libexec, PATH).
  if (const char* env = std::getenv("LCD_MONITOR"); env == nullptr || *env == '\0') {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    auto built = exe.parent_path().parent_path() / "lcd-monitor" / "lcd-monitor";
    if (!ec && ::access(built.c_str(), X_OK) == 0) o.monitor_path = built;
  }
  o.backend = backend_;
  o.network = net();
  return o;
}

lcd::ContainerdInspector& Session::inspector() {
  if (!inspector_ && Direct()) {
    inspector_ = lcd::NewDirectInspector(DirectOptions());
  } else if (!inspector_) {
    client();
    inspector_ = lcd::NewContainerdInspector(options_);
  }
  return *inspector_;
}

lcd::Context Session::Ctx() const {
  return g_.timeout ? lcd::Context::WithTimeout(*g_.timeout) : lcd::Context();
}

std::shared_ptr<lcd::Container> Session::LoadContainer(const std::string& id) {
  CheckId(id);
  try {
    return client().LoadContainer(Ctx(), id);
  } catch (const lcd::Error& e) {
    if (lcd::IsNotFound(e))
      throw ExitError(kExitFailure, "container " + id + " not found in namespace " + g_.ns);
    throw;
  }
}

std::shared_ptr<lcd::Task> Session::LoadTask(const std::string& id) {
  auto c = LoadContainer(id);
  try {
    return c->GetTask(Ctx());
  } catch (const lcd::Error& e) {
    if (lcd::IsNotFound(e))
      throw ExitError(kExitFailure, "container " + id + " has no task in namespace " + g_.ns +
                                        " (start one with 'lcctl task start " + id + "')");
    throw;
  }
}

void NeedArgs(const ParsedArgs& a, std::size_t min, std::size_t max, const std::string& what) {
  if (a.positionals.size() < min) throw UsageError("missing " + what);
  if (a.positionals.size() > max)
    throw UsageError("unexpected argument \"" + a.positionals[max] + "\" (expected " + what + ")");
}

void CheckId(const std::string& id, const char* what) {
  try {
    lcd::ValidateIdentifier(what, id);
  } catch (const lcd::Error&) {
    throw UsageError(
        std::string("invalid ") + what + " \"" + id +
        "\": use letters and digits separated by '.', '_' or '-' (at most 76 characters)");
  }
}

int64_t ParseBytes(const std::string& flag, const std::string& v) {
  auto bad = [&] {
    return UsageError("invalid value \"" + v + "\" for --" + flag +
                      ": expected a number of bytes (e.g. 67108864, 64m, 1g)");
  };
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0]))) throw bad();
  std::size_t pos = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(v, &pos);
  } catch (...) {
    throw bad();
  }
  std::string suffix = v.substr(pos);
  std::transform(suffix.begin(), suffix.end(), suffix.begin(), ::tolower);
  unsigned long long mul = 1;
  if (suffix.empty() || suffix == "b")
    mul = 1;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib")
    mul = 1ull << 10;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib")
    mul = 1ull << 20;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib")
    mul = 1ull << 30;
  else
    throw bad();
  if (n == 0 || n > (1ull << 62) / mul) throw bad();
  return static_cast<int64_t>(n * mul);
}

int64_t ParseInt(const std::string& flag, const std::string& v, bool allow_minus_one) {
  if (allow_minus_one && v == "-1") return -1;
  std::size_t pos = 0;
  long long n = 0;
  try {
    n = std::stoll(v, &pos);
  } catch (...) {
    pos = 0;
  }
  if (v.empty() || pos != v.size() || n <= 0 || !std::isdigit(static_cast<unsigned char>(v[0])))
    throw UsageError("invalid value \"" + v + "\" for --" + flag + ": expected a positive integer" +
                     (allow_minus_one ? " or -1" : ""));
  return n;
}

namespace {
// The number v starts with (std::stod's syntax) and what follows it; nullopt when v does not
// start with one.
std::optional<std::pair<double, std::string>> LeadingDouble(const std::string& v) {
  std::size_t pos = 0;
  double d = 0;
  try {
    d = std::stod(v, &pos);
  } catch (...) {
    return std::nullopt;
  }
  return std::make_pair(d, v.substr(pos));
}
}  // namespace

double ParsePositiveDouble(const std::string& flag, const std::string& v) {
  auto n = LeadingDouble(v);
  if (!n || !n->second.empty() || !(n->first > 0) || !std::isfinite(n->first))
    throw UsageError("invalid value \"" + v + "\" for --" + flag +
                     ": expected a positive number (e.g. 0.5)");
  return n->first;
}

std::chrono::milliseconds ParseDuration(const std::string& flag, const std::string& v) {
  auto n = LeadingDouble(v);
  double ms = -1;
  if (n && n->first > 0 && std::isfinite(n->first)) {
    const auto& [d, unit] = *n;
    if (unit.empty() || unit == "s")
      ms = d * 1000;
    else if (unit == "ms")
      ms = d;
    else if (unit == "m")
      ms = d * 60000;
    else if (unit == "h")
      ms = d * 3600000;
  }
  if (ms < 1 || ms > 1e12)
    throw UsageError("invalid value \"" + v + "\" for --" + flag +
                     ": expected a duration (e.g. 10s, 500ms, 2m)");
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::string OneLine(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string FormatTime(lcd::SystemTime t) {
  if (t == lcd::SystemTime{}) return "";
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - secs).count();
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lldZ", static_cast<long long>(ns));
  return std::string(buf) + frac;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> w;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 4, ' ');
    }
    out += line + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

void PrintJson(const nlohmann::json& j) {
  std::string s = j.dump(2) + "\n";
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

std::string HumanSize(int64_t bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%lldB", static_cast<long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.3g%s", v, units[u]);
  return buf;
}

// --- signals and the local terminal ---
//
// One thread owns the stop signals for the whole process: they are blocked in every thread
// from the start of main (so gRPC's threads never take them), and this thread sigwaits. With
// a foreground process registered it forwards them (SIGWINCH: resize); otherwise SIGWINCH is
// ignored and the others end lcctl with 128+signal (or the code set by SetInterruptExit).

namespace {

struct Router {
  std::mutex mu;
  sigset_t set{};
  bool foreground = false;  // a ForegroundSession lives
  bool tty = false;
  std::shared_ptr<lcd::Process> proc;
  std::optional<int> interrupt_exit;
};

Router& R() {
  static Router* r = new Router();  // never destroyed: the signal thread may outlive main
  return *r;
}

void SignalLoop() {
  Router& r = R();
  for (;;) {
    int sig = 0;
    if (sigwait(&r.set, &sig) != 0) continue;
    std::shared_ptr<lcd::Process> p;
    bool fg = false, tty = false;
    std::optional<int> exit_code;
    {
      std::lock_guard l(r.mu);
      p = r.proc;
      fg = r.foreground;
      tty = r.tty;
      exit_code = r.interrupt_exit;
    }
    if (p) {
      try {
        if (sig == SIGWINCH) {
          uint32_t w = 0, h = 0;
          if (tty && ForegroundSession::TerminalSize(w, h)) p->Resize(lcd::Context(), w, h);
        } else {
          p->Kill(lcd::Context(), sig);
        }
      } catch (const lcd::Error& e) {
        lcd::Log(lcd::LogLevel::kDebug, std::string("forwarding signal failed: ") + e.what());
      }
      continue;
    }
    if (fg || sig == SIGWINCH) continue;  // a process is being set up: it will be told
    std::fflush(stdout);
    std::_Exit(exit_code ? *exit_code : 128 + sig);
  }
}

}  // namespace

void BlockStopSignals() {
  Router& r = R();
  sigemptyset(&r.set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&r.set, s);
  pthread_sigmask(SIG_BLOCK, &r.set, nullptr);
}

void StartSignalThread() { std::thread(SignalLoop).detach(); }

void SetInterruptExit(int code) {
  std::lock_guard l(R().mu);
  R().interrupt_exit = code;
}

struct ForegroundSession::Impl {
  bool raw = false;
  termios saved{};
};

ForegroundSession::ForegroundSession(bool tty) : impl_(std::make_unique<Impl>()) {
  if (tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &impl_->saved) == 0) {
    termios raw = impl_->saved;
    cfmakeraw(&raw);
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) impl_->raw = true;
  }
  std::lock_guard l(R().mu);
  R().foreground = true;
  R().tty = tty;
}

ForegroundSession::~ForegroundSession() {
  {
    std::lock_guard l(R().mu);
    R().foreground = false;
    R().proc.reset();
  }
  if (impl_->raw) tcsetattr(STDIN_FILENO, TCSANOW, &impl_->saved);
}

void ForegroundSession::Forward(std::shared_ptr<lcd::Process> proc, Session*) {
  std::lock_guard l(R().mu);
  R().proc = std::move(proc);
}

bool ForegroundSession::TerminalSize(uint32_t& w, uint32_t& h) {
  winsize ws{};
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
      w = ws.ws_col;
      h = ws.ws_row;
      return true;
    }
  }
  w = h = 0;
  return false;
}

}  // namespace lcctl
