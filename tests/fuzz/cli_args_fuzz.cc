// Fuzz target: lcctl's argument parser (tools/lcctl/args.h). The input is split at NUL bytes
// into argv; its first byte (when present) chooses flag_positionals (0..3, or "no limit").
// Any argv must either parse or throw lcctl::UsageError, and a successful parse must satisfy:
//   - every flag key is a declared long name; boolean flags only carry "" values;
//   - positionals are argv elements, in argv order;
//   - parsing is deterministic;
//   - re-serialised as "--name=value"... "--" positionals..., it parses to the same result.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "../../tools/lcctl/args.h"

namespace {

const std::vector<lcctl::FlagSpec>& Specs() {
  static const std::vector<lcctl::FlagSpec> specs = {
      {"address", 'a', true, "ADDR", "daemon socket"},
      {"namespace", 'n', true, "NS", "namespace"},
      {"interactive", 'i', false, "", "keep stdin open"},
      {"tty", 't', false, "", "allocate a terminal"},
      {"detach", 'd', false, "", "run in the background"},
      {"signal", 's', true, "SIGNAL", "signal to send"},
      {"env", 'e', true, "KEY=VALUE", "environment"},
      {"memory", 0, true, "BYTES", "memory limit"},
      {"rm", 0, false, "", "remove afterwards"},
      {"x=y", 0, false, "", "a name no flag can spell"},
  };
  return specs;
}

bool SameParse(const lcctl::ParsedArgs& a, const lcctl::ParsedArgs& b) {
  return a.flags == b.flags && a.positionals == b.positionals;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::size_t limit = std::numeric_limits<std::size_t>::max();
  if (size > 0) {
    if (data[0] % 5 != 4) limit = data[0] % 5;
    ++data;
    --size;
  }
  std::vector<std::string> argv;
  std::string cur;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      argv.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (size > 0) argv.push_back(cur);

  const auto& specs = Specs();
  lcctl::ParsedArgs parsed;
  try {
    parsed = lcctl::Parse(specs, argv, limit);
  } catch (const lcctl::UsageError& e) {
    if (std::string(e.what()).empty()) std::abort();
    return 0;
  }  // any other exception escapes and is reported by libFuzzer

  for (const auto& [name, values] : parsed.flags) {
    const lcctl::FlagSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == name) spec = &s;
    if (!spec || values.empty()) std::abort();
    if (!spec->takes_value)
      for (const auto& v : values)
        if (!v.empty()) std::abort();
    if (!parsed.Has(name) || parsed.Get(name, "?") != values.back() || parsed.All(name) != values)
      std::abort();
  }
  // Positionals are a subsequence of argv.
  std::size_t k = 0;
  for (const auto& p : parsed.positionals) {
    while (k < argv.size() && argv[k] != p) ++k;
    if (k == argv.size()) std::abort();
    ++k;
  }
  if (!SameParse(parsed, lcctl::Parse(specs, argv, limit))) std::abort();

  std::vector<std::string> again;
  for (const auto& [name, values] : parsed.flags) {
    const lcctl::FlagSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == name) spec = &s;
    if (spec->name.find('=') != std::string::npos) continue;  // unreachable by construction
    for (const auto& v : values)
      again.push_back(spec->takes_value ? "--" + name + "=" + v : "--" + name);
  }
  again.push_back("--");
  for (const auto& p : parsed.positionals) again.push_back(p);
  lcctl::ParsedArgs reparsed;
  try {
    reparsed = lcctl::Parse(specs, again);
  } catch (const lcctl::UsageError&) {
    std::abort();
  }
  if (!SameParse(parsed, reparsed)) std::abort();
  if (lcctl::FormatFlags(specs).empty()) std::abort();
  return 0;
}
