#include "flags.h"

#include <stdlib.h>

#include <cstring>

namespace lcdmon {
namespace {

bool Alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string Absolute(const std::string& path, const std::string& cwd) {
  if (path.empty() || path[0] == '/') return path;
  if (cwd.empty() || cwd == "/") return "/" + path;
  return cwd + "/" + path;
}

}  // namespace

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 76) return false;
  bool prev_sep = true;  // a separator may neither start nor end the id, nor repeat
  for (char c : id) {
    if (Alnum(c)) {
      prev_sep = false;
    } else if (c == '.' || c == '_' || c == '-') {
      if (prev_sep) return false;
      prev_sep = true;
    } else {
      return false;
    }
  }
  return !prev_sep;
}

std::string ParseFlags(int argc, const char* const* argv, const std::string& cwd, Options* out) {
  Options o;
  bool have_ready = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    bool inline_value = false;
    if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
      inline_value = true;
    }
    auto bool_flag = [&](bool* b) -> std::string {
      if (inline_value) return "flag " + flag + " takes no value";
      *b = true;
      return "";
    };
    if (flag == "--terminal") {
      if (auto e = bool_flag(&o.terminal); !e.empty()) return e;
      continue;
    }
    if (flag == "--no-pivot") {
      if (auto e = bool_flag(&o.no_pivot); !e.empty()) return e;
      continue;
    }
    if (flag == "--no-new-keyring") {
      if (auto e = bool_flag(&o.no_new_keyring); !e.empty()) return e;
      continue;
    }
    std::string* target = nullptr;
    if (flag == "--id")
      target = &o.id;
    else if (flag == "--bundle")
      target = &o.bundle;
    else if (flag == "--task-dir")
      target = &o.task_dir;
    else if (flag == "--runtime")
      target = &o.runtime;
    else if (flag == "--runtime-root")
      target = &o.runtime_root;
    else if (flag == "--stdin")
      target = &o.stdin_path;
    else if (flag == "--stdout")
      target = &o.stdout_path;
    else if (flag == "--stderr")
      target = &o.stderr_path;
    else if (flag == "--restore")
      target = &o.restore;
    else if (flag == "--log")
      target = &o.log;
    else if (flag != "--runtime-arg" && flag != "--ready-fd")
      return "unknown flag " + flag + " (see docs/direct-backend.md)";
    if (!inline_value) {
      if (i + 1 >= argc) return "flag " + flag + " needs a value";
      value = argv[++i];
    }
    if (flag == "--runtime-arg") {
      o.runtime_args.push_back(value);
    } else if (flag == "--ready-fd") {
      char* end = nullptr;
      long fd = strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || fd < 0 || fd > 1 << 20)
        return "--ready-fd: not an fd: " + value;
      o.ready_fd = static_cast<int>(fd);
      have_ready = true;
    } else {
      *target = value;
    }
  }
  out->ready_fd = o.ready_fd;  // so that a bad command line is still answered on the ready fd
  if (o.id.empty()) return "--id is required";
  if (!ValidId(o.id)) return "--id " + o.id + ": not a valid container id";
  if (o.bundle.empty()) return "--bundle is required";
  if (o.task_dir.empty()) return "--task-dir is required";
  if (o.runtime.empty()) return "--runtime is required";
  if (o.runtime_root.empty()) return "--runtime-root is required";
  if (!have_ready) return "--ready-fd is required";
  for (std::string* p : {&o.bundle, &o.task_dir, &o.runtime_root, &o.stdin_path, &o.stdout_path,
                         &o.stderr_path, &o.restore, &o.log})
    *p = Absolute(*p, cwd);
  if (o.runtime.find('/') != std::string::npos) o.runtime = Absolute(o.runtime, cwd);
  *out = std::move(o);
  return "";
}

}  // namespace lcdmon
