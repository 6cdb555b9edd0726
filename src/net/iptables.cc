// Host programs (iptables, ip) run with fork/exec, and the isolation chains between networks.
#include "net/iptables.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <sstream>

#include "libcontainerd/errors.h"

namespace libcontainerd::net {
namespace {

constexpr const char* kIptables = "/usr/sbin/iptables";
constexpr const char* kIptablesSave = "/usr/sbin/iptables-save";
constexpr const char* kIp = "/usr/sbin/ip";

std::string Joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// One changer of the chains at a time, on the whole host: every Manager of every process shares
// them. A mutex in the process and a flock on a host-wide lock file (each hold opens it anew).
constexpr const char* kChainLock = "/run/libcontainerd-isolation.lock";

class ChainLock {
 public:
  ChainLock() : guard_(Mutex()) {
    fd_ = ::open(kChainLock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0)
      throw Error(ErrorKind::kUnknown, "open the isolation lock",
                  {.path = kChainLock, .sys_errno = errno});
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~ChainLock() { ::close(fd_); }
  ChainLock(const ChainLock&) = delete;
  ChainLock& operator=(const ChainLock&) = delete;

 private:
  static std::mutex& Mutex() {
    static std::mutex m;
    return m;
  }
  std::lock_guard<std::mutex> guard_;
  int fd_ = -1;
};

// The filter table's rules as iptables-save prints them, and its chain names.
struct FilterTable {
  std::vector<std::string> rules;  // "-A CHAIN ..."
  std::vector<std::string> chains;
  bool HasChain(const std::string& c) const {
    return std::find(chains.begin(), chains.end(), c) != chains.end();
  }
  bool HasRule(const std::string& r) const {
    return std::find(rules.begin(), rules.end(), r) != rules.end();
  }
  // The rules of one chain in order.
  std::vector<std::string> Of(const std::string& chain) const {
    std::vector<std::string> out;
    for (const auto& r : rules)
      if (r.rfind("-A " + chain + " ", 0) == 0) out.push_back(r);
    return out;
  }
};

FilterTable ReadFilter() {
  const std::vector<std::string> argv = {kIptablesSave, "-t", "filter"};
  ProgramResult r = RunProgram(argv);
  if (r.exit_code != 0)
    throw Error(ErrorKind::kUnknown, Joined(argv) + " failed: " + Trimmed(r.err));
  FilterTable t;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("-A ", 0) == 0) t.rules.push_back(line);
    if (line.size() > 1 && line[0] == ':') t.chains.push_back(line.substr(1, line.find(' ') - 1));
  }
  return t;
}

std::string Stage1Rule(const std::string& br) {
  return "-A " + std::string(kIsolationStage1) + " -i " + br + " ! -o " + br + " -j " +
         kIsolationStage2;
}
std::string Stage2Rule(const std::string& br) {
  return "-A " + std::string(kIsolationStage2) + " -o " + br + " -j DROP";
}
const std::string& JumpRule() {
  static const std::string r = "-A FORWARD -j " + std::string(kIsolationStage1);
  return r;
}

// "-A CHAIN a b c" -> {"-D", "CHAIN", "a", "b", "c"} (our own rules have no quoted parts).
std::vector<std::string> AsDelete(const std::string& rule) {
  std::vector<std::string> args;
  std::istringstream in(rule);
  for (std::string w; in >> w;) args.push_back(w);
  args[0] = "-D";
  return args;
}

}  // namespace

ProgramResult RunProgram(const std::vector<std::string>& argv) {
  if (argv.empty() || ::access(argv[0].c_str(), X_OK) != 0)
    throw Error(ErrorKind::kNotFound,
                (argv.empty() ? std::string("(no program)") : argv[0]) +
                    " is missing: install it (Debian packages iptables, iproute2)");
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw Error(ErrorKind::kUnknown, "pipe for " + argv[0], {.sys_errno = errno});
  if (::pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out[0]);
    ::close(out[1]);
    throw Error(ErrorKind::kUnknown, "pipe for " + argv[0], {.sys_errno = e});
  }
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  int fork_errno = errno;
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    throw Error(ErrorKind::kUnknown, "fork for " + argv[0], {.sys_errno = fork_errno});
  }
  ProgramResult r;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

void Iptables(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kIptables, "-w", "-t", "filter"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProgramResult r = RunProgram(argv);
  if (r.exit_code != 0)
    throw Error(ErrorKind::kUnknown, Joined(argv) + " failed (exit " + std::to_string(r.exit_code) +
                                         "): " + Trimmed(r.err));
}

void EnsureIsolation(const std::string& bridge) {
  ChainLock lock;
  FilterTable t = ReadFilter();
  for (const char* chain : {kIsolationStage2, kIsolationStage1})
    if (!t.HasChain(chain)) Iptables({"-N", chain});
  const auto forward = t.Of("FORWARD");
  if (forward.empty() || forward.front() != JumpRule()) {
    if (t.HasRule(JumpRule())) Iptables(AsDelete(JumpRule()));
    Iptables({"-I", "FORWARD", "1", "-j", kIsolationStage1});
  }
  if (!t.HasRule(Stage1Rule(bridge)))
    Iptables({"-A", kIsolationStage1, "-i", bridge, "!", "-o", bridge, "-j", kIsolationStage2});
  if (!t.HasRule(Stage2Rule(bridge)))
    Iptables({"-A", kIsolationStage2, "-o", bridge, "-j", "DROP"});
}

void RemoveIsolation(const std::string& bridge) {
  ChainLock lock;
  FilterTable t = ReadFilter();
  for (const auto& rule : {Stage1Rule(bridge), Stage2Rule(bridge)})
    if (t.HasRule(rule)) Iptables(AsDelete(rule));
  t = ReadFilter();
  if (!t.Of(kIsolationStage1).empty() || !t.Of(kIsolationStage2).empty()) return;
  while (t.HasRule(JumpRule())) {
    Iptables(AsDelete(JumpRule()));
    t = ReadFilter();
  }
  for (const char* chain : {kIsolationStage1, kIsolationStage2}) {
    if (!t.HasChain(chain)) continue;
    try {
      Iptables({"-X", chain});
    } catch (const Error&) {
      if (ReadFilter().HasChain(chain)) throw;  // gone meanwhile (another program): fine
    }
  }
}

void DeleteLink(const std::string& name) {
  if (!LinkExists(name)) return;
  const std::vector<std::string> argv = {kIp, "link", "del", name};
  ProgramResult r = RunProgram(argv);
  if (r.exit_code != 0 && LinkExists(name))
    throw Error(ErrorKind::kUnknown, Joined(argv) + " failed: " + Trimmed(r.err));
}

bool LinkExists(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos &&
         ::access(("/sys/class/net/" + name).c_str(), F_OK) == 0;
}

}  // namespace libcontainerd::net
