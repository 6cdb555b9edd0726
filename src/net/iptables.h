// Internal: the isolation between networks (docker's two-stage design, our own chains) and the
// host programs the Manager runs (iptables, ip), run with fork/exec, never through a shell.
#pragma once

#include <string>
#include <vector>

#include "common/program.h"

namespace libcontainerd::net {

using libcontainerd::ProgramResult;

// RunProgram (common/program.h) with the hint of the packages the Manager's programs come from.
ProgramResult RunProgram(const std::vector<std::string>& argv, const std::string& stdin_data = {});

// Runs iptables (/usr/sbin/iptables -w, table filter) with `args`; throws Error{kUnknown}
// naming the command and its stderr when it exits non-zero.
void Iptables(const std::vector<std::string>& args);

// The chains: LCD-ISOLATION-STAGE-1 (jumped to from the top of FORWARD) holds, per bridge,
// `-i BR ! -o BR -j LCD-ISOLATION-STAGE-2`; LCD-ISOLATION-STAGE-2 holds, per bridge,
// `-o BR -j DROP`. So a packet from one of our bridges to another is dropped, while traffic
// within a bridge and to the outside is left to the other rules.
inline constexpr const char* kIsolationStage1 = "LCD-ISOLATION-STAGE-1";
inline constexpr const char* kIsolationStage2 = "LCD-ISOLATION-STAGE-2";

// The host rules of a network made by this version, in place of the per-container rules of the
// bridge plugin's `ipMasq` and of the firewall plugin (made once, when the network is created):
//   filter LCD-FORWARD (jumped to from FORWARD right after the isolation jump), per bridge:
//     -o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT   and   -i BR -j ACCEPT
//   nat LCD-POSTROUTING (jumped to from POSTROUTING), per bridge:
//     -s SUBNET ! -d 224.0.0.0/4 ! -o BR -j MASQUERADE
inline constexpr const char* kForwardChain = "LCD-FORWARD";
inline constexpr const char* kMasqueradeChain = "LCD-POSTROUTING";

struct NetworkRules {
  std::string bridge;
  bool forward = false;  // the two LCD-FORWARD rules
  std::string subnet;    // the masquerade rule of this subnet ("": none)
};

// Adds the isolation chains, the FORWARD jump (moved to the top when another rule came before
// it) and the bridge's two isolation rules, and, as `rules` asks, the forward and masquerade
// chains, jumps and rules; each only when missing. One iptables-save to read, one
// `iptables-restore --noflush` to change (nothing when all is there). Throws Error{kUnknown}
// naming the command and its stderr.
void EnsureNetworkRules(const NetworkRules& rules);
// EnsureNetworkRules with the isolation rules only.
void EnsureIsolation(const std::string& bridge);
// Removes every rule of ours naming the bridge (isolation, forward, masquerade); a chain of ours
// left without rules goes with its jump (the two isolation chains together). One iptables-save,
// one iptables-restore. What is already gone is not an error.
void RemoveIsolation(const std::string& bridge);

// `ip link del BRIDGE`; a missing link is not an error.
void DeleteLink(const std::string& name);
// True when a network interface of this name exists in the caller's namespace.
bool LinkExists(const std::string& name);

}  // namespace libcontainerd::net
