#include "args.h"

#include <algorithm>

namespace lcctl {

std::string ParsedArgs::Get(const std::string& name, const std::string& def) const {
  auto it = flags.find(name);
  return it == flags.end() || it->second.empty() ? def : it->second.back();
}

std::vector<std::string> ParsedArgs::All(const std::string& name) const {
  auto it = flags.find(name);
  return it == flags.end() ? std::vector<std::string>{} : it->second;
}

namespace {

const FlagSpec* FindLong(const std::vector<FlagSpec>& specs, const std::string& name) {
  for (const auto& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

const FlagSpec* FindShort(const std::vector<FlagSpec>& specs, char c) {
  for (const auto& s : specs)
    if (s.short_name != 0 && s.short_name == c) return &s;
  return nullptr;
}

}  // namespace

ParsedArgs Parse(const std::vector<FlagSpec>& specs, const std::vector<std::string>& argv,
                 std::size_t flag_positionals) {
  ParsedArgs out;
  bool flags_done = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (flags_done || out.positionals.size() >= flag_positionals || a.size() < 2 || a[0] != '-') {
      out.positionals.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a[1] == '-') {
      std::string name = a.substr(2);
      std::string value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
        has_value = true;
      }
      const FlagSpec* s = FindLong(specs, name);
      if (!s) throw UsageError("unknown flag --" + name);
      if (!s->takes_value) {
        if (has_value) throw UsageError("flag --" + name + " takes no value");
        out.flags[s->name].push_back("");
        continue;
      }
      if (!has_value) {
        if (i + 1 >= argv.size()) throw UsageError("flag --" + name + " needs a value");
        value = argv[++i];
      }
      out.flags[s->name].push_back(value);
      continue;
    }
    // Short flags, possibly grouped: "-it", "-s9", "-s 9".
    for (std::size_t k = 1; k < a.size(); ++k) {
      const FlagSpec* s = FindShort(specs, a[k]);
      if (!s) throw UsageError(std::string("unknown flag -") + a[k]);
      if (!s->takes_value) {
        out.flags[s->name].push_back("");
        continue;
      }
      std::string value;
      if (k + 1 < a.size()) {
        value = a.substr(k + 1);
        if (value[0] == '=') value.erase(0, 1);
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        throw UsageError(std::string("flag -") + a[k] + " needs a value");
      }
      out.flags[s->name].push_back(value);
      break;
    }
  }
  return out;
}

std::string FormatFlags(const std::vector<FlagSpec>& specs) {
  std::vector<std::pair<std::string, std::string>> rows;
  std::size_t width = 0;
  for (const auto& s : specs) {
    std::string left = s.short_name ? std::string("-") + s.short_name + ", " : "    ";
    left += "--" + s.name;
    if (s.takes_value) left += " " + (s.value_name.empty() ? std::string("VALUE") : s.value_name);
    width = std::max(width, left.size());
    rows.emplace_back(std::move(left), s.help);
  }
  std::string out;
  for (const auto& [l, h] : rows)
    out += "  " + l + std::string(width + 3 - l.size(), ' ') + h + "\n";
  return out;
}

}  // namespace lcctl
