#include "direct/runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "common/program.h"
#include "direct/events.h"
#include "libcontainerd/log.h"

namespace libcontainerd::direct {

void State::CheckOpen(const char* op, const std::string& container_id) const {
  if (closed.load())
    throw Error(ErrorKind::kUnavailable, "client closed: the direct Client was destroyed",
                {.op = op, .container_id = container_id});
}

State::~State() = default;

std::string FindExecutable(const std::string& name) {
  auto ok = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) {
    if (!ok(name)) return "";
    if (name[0] == '/') return name;
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd)) return "";
    return std::string(cwd) + "/" + name;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (!dir.empty() && dir[0] == '/' && ok(dir + "/" + name)) return dir + "/" + name;
    start = end + 1;
  }
  return "";
}

RunResult RunRuntime(const std::string& runtime, const std::string& root,
                     const std::vector<std::string>& args) {
  std::vector<std::string> argv = {runtime};
  if (!root.empty()) argv.insert(argv.end(), {"--root", root});
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunProgram(argv, {},
                      "install it, or name another runtime (DirectClientOptions::runtime, "
                      "RuncOptions::binary_name)");
  return {r.exit_code, std::move(r.out), std::move(r.err)};
}

bool MonitorDead(const std::string& task_dir, std::chrono::milliseconds grace) {
  uint32_t pid = ReadPidFile(task_dir + "/monitor.pid");
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (ProcessAlive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

ExitRecord FinishDeadTask(const ContainerRecord& rec, const std::string& task_dir) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"kill", rec.id, "KILL"},
                                                                {"delete", "--force", rec.id}}) {
    try {
      auto r = RunRuntime(rec.runtime, rec.runtime_root, args);
      if (r.exit_code != 0 && r.err.find("does not exist") == std::string::npos &&
          r.err.find("not exist") == std::string::npos)
        Log(LogLevel::kDebug, "container " + rec.id + ": runtime " + args[0] + ": " + r.err);
    } catch (const Error& e) {
      Log(LogLevel::kWarning, "container " + rec.id + ": runtime " + args[0] + ": " + e.what());
    }
  }
  if (auto existing = ReadExit(task_dir, "")) return *existing;
  ExitRecord r;
  r.pid = ReadPidFile(task_dir + "/init.pid");
  r.status = 255;
  r.exited_at = std::chrono::system_clock::now();
  r.error = "the container's monitor (lcd-monitor) died: exit status unknown";
  try {
    ::mkdir(ExitDir(task_dir).c_str(), 0700);
    if (!WriteFileExclusive(ExitDir(task_dir) + "/init", EncodeExit(r))) {
      if (auto existing = ReadExit(task_dir, "")) return *existing;
    }
  } catch (const Error& e) {
    Log(LogLevel::kWarning,
        "container " + rec.id + ": exit record of a dead monitor not written: " + e.what());
  }
  Log(LogLevel::kWarning, "container " + rec.id + ": its monitor died; exit reported as 255");
  return r;
}

}  // namespace libcontainerd::direct
