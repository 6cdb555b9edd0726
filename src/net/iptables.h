// Internal: the isolation between networks (docker's two-stage design, our own chains) and the
// host programs the Manager runs (iptables, ip), run with fork/exec, never through a shell.
#pragma once

#include <string>
#include <vector>

namespace libcontainerd::net {

struct ProgramResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (an absolute path) with argv, stdin from /dev/null, stdout and stderr captured.
// Throws Error{kNotFound} when the program is missing, kUnknown when it cannot be started.
ProgramResult RunProgram(const std::vector<std::string>& argv);

// Runs iptables (/usr/sbin/iptables -w, table filter) with `args`; throws Error{kUnknown}
// naming the command and its stderr when it exits non-zero.
void Iptables(const std::vector<std::string>& args);

// The chains: LCD-ISOLATION-STAGE-1 (jumped to from the top of FORWARD) holds, per bridge,
// `-i BR ! -o BR -j LCD-ISOLATION-STAGE-2`; LCD-ISOLATION-STAGE-2 holds, per bridge,
// `-o BR -j DROP`. So a packet from one of our bridges to another is dropped, while traffic
// within a bridge and to the outside is left to the other rules.
inline constexpr const char* kIsolationStage1 = "LCD-ISOLATION-STAGE-1";
inline constexpr const char* kIsolationStage2 = "LCD-ISOLATION-STAGE-2";

// Adds the chains, the FORWARD jump (moved to the top when another rule came before it) and the
// bridge's two rules, each only when missing. Throws Error{kUnknown} naming the command.
void EnsureIsolation(const std::string& bridge);
// Removes the bridge's two rules; when no rule is left in the chains, the jump and the chains
// too. What is already gone is not an error.
void RemoveIsolation(const std::string& bridge);

// `ip link del BRIDGE`; a missing link is not an error.
void DeleteLink(const std::string& name);
// True when a network interface of this name exists in the caller's namespace.
bool LinkExists(const std::string& name);

}  // namespace libcontainerd::net
