// lcctl's argument parser: a pure function of argv (no I/O, no globals), so it can be fuzzed.
//
// Flags: "--name", "--name=value", "--name value", "-x", "-x value", "-xVALUE", grouped
// booleans "-it"; "--" ends the flags; an unknown flag, a missing value or a value given to a
// boolean flag is an error. Repeated flags keep every value in order.
#pragma once

#include <cstddef>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace lcctl {

// A usage error of lcctl itself (exit 125): one line, no "lcctl:" prefix.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FlagSpec {
  std::string name;     // long name without "--"
  char short_name = 0;  // 0: none
  bool takes_value = false;
  std::string value_name;  // for help ("BYTES"); empty for booleans
  std::string help;
};

struct ParsedArgs {
  // Every flag seen, by long name, with its values ("" for booleans) in order.
  std::map<std::string, std::vector<std::string>> flags;
  std::vector<std::string> positionals;

  bool Has(const std::string& name) const { return flags.count(name) != 0; }
  // The last value of a flag, or def.
  std::string Get(const std::string& name, const std::string& def = "") const;
  std::vector<std::string> All(const std::string& name) const;
};

// Parses argv (without the program or command name). After `flag_positionals` positionals
// have been seen, everything that follows is positional (for "run ID CMD ARG..." whose
// command has flags of its own). Throws UsageError.
ParsedArgs Parse(const std::vector<FlagSpec>& specs, const std::vector<std::string>& argv,
                 std::size_t flag_positionals = std::numeric_limits<std::size_t>::max());

// "  -a, --address ADDR   help" lines for a help text.
std::string FormatFlags(const std::vector<FlagSpec>& specs);

}  // namespace lcctl
