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
#include <map>
#include <mutex>
#include <sstream>

#include "libcontainerd/errors.h"

namespace libcontainerd::net {
namespace {

constexpr const char* kIptables = "/usr/sbin/iptables";
constexpr const char* kIptablesSave = "/usr/sbin/iptables-save";
constexpr const char* kIptablesRestore = "/usr/sbin/iptables-restore";
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

// One table's rules as iptables-save prints them, and its chain names.
struct Table {
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

// Every table, from one `iptables-save` (a table nothing has used yet is absent: empty).
std::map<std::string, Table> ReadTables() {
  const std::vector<std::string> argv = {kIptablesSave};
  ProgramResult r = RunProgram(argv);
  if (r.exit_code != 0)
    throw Error(ErrorKind::kUnknown, Joined(argv) + " failed: " + Trimmed(r.err));
  std::map<std::string, Table> tables;
  Table* t = nullptr;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > 1 && line[0] == '*') {
      t = &tables[line.substr(1)];
    } else if (t && line.rfind("-A ", 0) == 0) {
      t->rules.push_back(line);
    } else if (t && line.size() > 1 && line[0] == ':') {
      t->chains.push_back(line.substr(1, line.find(' ') - 1));
    }
  }
  return tables;
}

// The lines of one `iptables-restore --noflush` input, per table.
class Batch {
 public:
  void Add(const std::string& table, std::string line) { lines_[table].push_back(std::move(line)); }
  bool Empty() const { return lines_.empty(); }
  std::string Text() const {
    std::string s;
    for (const auto& [table, lines] : lines_) {
      s += "*" + table + "\n";
      for (const auto& l : lines) s += l + "\n";
      s += "COMMIT\n";
    }
    return s;
  }

 private:
  std::map<std::string, std::vector<std::string>> lines_;
};

// Applies the batch in one transaction of iptables-restore (nothing is flushed).
void Restore(const Batch& b) {
  const std::vector<std::string> argv = {kIptablesRestore, "-w", "--noflush"};
  const std::string input = b.Text();
  ProgramResult r = RunProgram(argv, input);
  if (r.exit_code != 0)
    throw Error(ErrorKind::kUnknown, Joined(argv) + " failed (exit " + std::to_string(r.exit_code) +
                                         "): " + Trimmed(r.err) + "; its input was:\n" + input);
}

// Runs `plan` (which reads the tables and fills a batch) and applies the batch; when the apply
// fails (another program changed the tables between the read and the write), once more from a
// new read.
template <typename Plan>
void ReadPlanApply(Plan plan) {
  for (int attempt = 0;; ++attempt) {
    Batch b;
    plan(ReadTables(), b);
    if (b.Empty()) return;
    try {
      Restore(b);
      return;
    } catch (const Error&) {
      if (attempt > 0) throw;
    }
  }
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
const std::string& ForwardJumpRule() {
  static const std::string r = "-A FORWARD -j " + std::string(kForwardChain);
  return r;
}
const std::string& MasqueradeJumpRule() {
  static const std::string r = "-A POSTROUTING -j " + std::string(kMasqueradeChain);
  return r;
}
std::vector<std::string> ForwardRules(const std::string& br) {
  const std::string c = "-A " + std::string(kForwardChain);
  return {c + " -o " + br + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
          c + " -i " + br + " -j ACCEPT"};
}
std::string MasqueradeRule(const std::string& br, const std::string& subnet) {
  return "-A " + std::string(kMasqueradeChain) + " -s " + subnet + " ! -d 224.0.0.0/4 ! -o " + br +
         " -j MASQUERADE";
}
// The bridge's masquerade rules, whatever the subnet (RemoveIsolation knows only the bridge).
bool IsMasqueradeRuleOf(const std::string& rule, const std::string& br) {
  return rule.rfind("-A " + std::string(kMasqueradeChain) + " ", 0) == 0 &&
         rule.find(" ! -o " + br + " -j MASQUERADE") != std::string::npos;
}

// "-A CHAIN a b c" -> "-D CHAIN a b c" (a line of iptables-restore).
std::string AsDeleteLine(const std::string& rule) { return "-D" + rule.substr(2); }

// The deletes of `rule` as often as it is in the table.
void DeleteAll(const Table& t, const std::string& table, const std::string& rule, Batch& b) {
  for (const auto& r : t.rules)
    if (r == rule) b.Add(table, AsDeleteLine(rule));
}

}  // namespace

ProgramResult RunProgram(const std::vector<std::string>& argv, const std::string& stdin_data) {
  return libcontainerd::RunProgram(argv, stdin_data,
                                   "install it (Debian packages iptables, iproute2)");
}

void Iptables(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kIptables, "-w", "-t", "filter"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProgramResult r = RunProgram(argv);
  if (r.exit_code != 0)
    throw Error(ErrorKind::kUnknown, Joined(argv) + " failed (exit " + std::to_string(r.exit_code) +
                                         "): " + Trimmed(r.err));
}

void EnsureNetworkRules(const NetworkRules& want) {
  const std::string& br = want.bridge;
  ChainLock lock;
  ReadPlanApply([&](const std::map<std::string, Table>& tables, Batch& b) {
    static const Table kEmpty;
    auto it = tables.find("filter");
    const Table& f = it == tables.end() ? kEmpty : it->second;
    for (const char* chain : {kIsolationStage2, kIsolationStage1})
      if (!f.HasChain(chain)) b.Add("filter", ":" + std::string(chain) + " - [0:0]");
    const auto forward = f.Of("FORWARD");
    if (forward.empty() || forward.front() != JumpRule()) {
      DeleteAll(f, "filter", JumpRule(), b);
      b.Add("filter", "-I FORWARD 1 -j " + std::string(kIsolationStage1));
    }
    for (const auto& rule : {Stage1Rule(br), Stage2Rule(br)})
      if (!f.HasRule(rule)) b.Add("filter", rule);
    if (want.forward) {
      if (!f.HasChain(kForwardChain))
        b.Add("filter", ":" + std::string(kForwardChain) + " - [0:0]");
      // After the isolation jump (first), so that isolation drops before these accept.
      if (!f.HasRule(ForwardJumpRule()))
        b.Add("filter", "-I FORWARD 2 -j " + std::string(kForwardChain));
      for (const auto& rule : ForwardRules(br))
        if (!f.HasRule(rule)) b.Add("filter", rule);
    }
    if (!want.subnet.empty()) {
      auto nit = tables.find("nat");
      const Table& n = nit == tables.end() ? kEmpty : nit->second;
      if (!n.HasChain(kMasqueradeChain))
        b.Add("nat", ":" + std::string(kMasqueradeChain) + " - [0:0]");
      if (!n.HasRule(MasqueradeJumpRule())) b.Add("nat", MasqueradeJumpRule());
      const std::string rule = MasqueradeRule(br, want.subnet);
      if (!n.HasRule(rule)) b.Add("nat", rule);
    }
  });
}

void EnsureIsolation(const std::string& bridge) { EnsureNetworkRules({.bridge = bridge}); }

void RemoveIsolation(const std::string& bridge) {
  ChainLock lock;
  ReadPlanApply([&](const std::map<std::string, Table>& tables, Batch& b) {
    if (auto it = tables.find("filter"); it != tables.end()) {
      const Table& f = it->second;
      // Deletes the rules of `chain` that `mine` picks; true when the chain is then empty.
      auto remove = [&](const char* chain, const std::vector<std::string>& mine) {
        size_t left = 0;
        for (const auto& r : f.Of(chain)) {
          if (std::find(mine.begin(), mine.end(), r) != mine.end()) {
            b.Add("filter", AsDeleteLine(r));
          } else {
            ++left;
          }
        }
        return left == 0;
      };
      const bool stage1_empty = remove(kIsolationStage1, {Stage1Rule(bridge)});
      const bool stage2_empty = remove(kIsolationStage2, {Stage2Rule(bridge)});
      if (stage1_empty && stage2_empty) {
        DeleteAll(f, "filter", JumpRule(), b);
        for (const char* chain : {kIsolationStage1, kIsolationStage2})
          if (f.HasChain(chain)) b.Add("filter", "-X " + std::string(chain));
      }
      if (remove(kForwardChain, ForwardRules(bridge))) {
        DeleteAll(f, "filter", ForwardJumpRule(), b);
        if (f.HasChain(kForwardChain)) b.Add("filter", "-X " + std::string(kForwardChain));
      }
    }
    if (auto it = tables.find("nat"); it != tables.end()) {
      const Table& n = it->second;
      size_t left = 0;
      for (const auto& r : n.Of(kMasqueradeChain)) {
        if (IsMasqueradeRuleOf(r, bridge)) {
          b.Add("nat", AsDeleteLine(r));
        } else {
          ++left;
        }
      }
      if (left == 0) {
        DeleteAll(n, "nat", MasqueradeJumpRule(), b);
        if (n.HasChain(kMasqueradeChain)) b.Add("nat", "-X " + std::string(kMasqueradeChain));
      }
    }
  });
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
