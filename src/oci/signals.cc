#include "libcontainerd/oci/signals.h"

#include <csignal>
#include <cstdlib>
#include <string>

#include "libcontainerd/errors.h"

namespace libcontainerd::oci {
namespace {

struct SignalEntry {
  const char* name;  // without "SIG"
  int number;
};

// The first name of a number is its canonical one.
constexpr SignalEntry kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT},
#endif
    {"CHLD", SIGCHLD},     {"CLD", SIGCHLD},  {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

// Real-time signals as Go (golang.org/x/sys/unix) and moby number them: glibc reserves 32 and
// 33, so RTMIN is 34 and RTMAX 64.
constexpr int kRtMin = 34;
constexpr int kRtMax = 64;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

// Parses a non-empty run of decimal digits (at most 3); -1 otherwise.
int SmallNumber(std::string_view s) {
  if (s.empty() || s.size() > 3) return -1;
  int n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

[[noreturn]] void Unknown(std::string_view input) {
  std::string shown(input.substr(0, 64));
  throw Error(ErrorKind::kInvalidArgument,
              "invalid signal \"" + shown +
                  "\": use a name like SIGTERM, TERM or SIGRTMIN+1, or a number from 1 to 64",
              ErrorContext{.op = "ParseSignal"});
}

}  // namespace

int ParseSignal(std::string_view input) {
  std::string_view s = input;
  if (int n = SmallNumber(s); n >= 0) {
    if (n < 1 || n > kRtMax) Unknown(input);
    return n;
  }
  if (s.size() > 3 && EqualsIgnoreCase(s.substr(0, 3), "SIG")) s.remove_prefix(3);
  for (const auto& e : kSignals) {
    if (EqualsIgnoreCase(s, e.name)) return e.number;
  }
  if (s.size() >= 5) {
    std::string_view base = s.substr(0, 5);
    bool min = EqualsIgnoreCase(base, "RTMIN"), max = EqualsIgnoreCase(base, "RTMAX");
    if (min || max) {
      std::string_view rest = s.substr(5);
      int offset = 0;
      if (!rest.empty()) {
        if ((min && rest[0] != '+') || (max && rest[0] != '-')) Unknown(input);
        offset = SmallNumber(rest.substr(1));
        if (offset < 0) Unknown(input);
      }
      int n = min ? kRtMin + offset : kRtMax - offset;
      if (n < kRtMin || n > kRtMax) Unknown(input);
      return n;
    }
  }
  Unknown(input);
}

std::string SignalName(int signal) {
  for (const auto& e : kSignals) {
    if (e.number == signal) return std::string("SIG") + e.name;
  }
  if (signal >= kRtMin && signal <= kRtMax) {
    if (signal == kRtMin) return "SIGRTMIN";
    if (signal == kRtMax) return "SIGRTMAX";
    int a = signal - kRtMin, b = kRtMax - signal;
    return a <= b ? "SIGRTMIN+" + std::to_string(a) : "SIGRTMAX-" + std::to_string(b);
  }
  return "SIG" + std::to_string(signal);
}

}  // namespace libcontainerd::oci
