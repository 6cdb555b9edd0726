#include "direct/records.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "libcontainerd/log.h"

namespace libcontainerd::direct {
namespace {

std::string TempName(const std::string& path) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return path + ".tmp-" + buf;
}

// Writes data to a new file at `tmp`; throws on failure (the file is removed).
void WriteNew(const std::string& tmp, const std::string& data) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) ThrowErrno(ErrorKind::kUnknown, errno, "cannot create " + tmp, {.path = tmp});
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      ThrowErrno(ErrorKind::kUnknown, err, "cannot write " + tmp + " (is the disk full?)",
                 {.path = tmp});
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    ThrowErrno(ErrorKind::kUnknown, err, "cannot write " + tmp + " (is the disk full?)",
               {.path = tmp});
  }
}

}  // namespace

void WriteFileAtomic(const std::string& path, const std::string& data) {
  const std::string tmp = TempName(path);
  WriteNew(tmp, data);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    ThrowErrno(ErrorKind::kUnknown, err, "cannot rename " + tmp + " to " + path, {.path = path});
  }
}

bool WriteFileExclusive(const std::string& path, const std::string& data) {
  const std::string tmp = TempName(path);
  WriteNew(tmp, data);
  int rc = ::link(tmp.c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp.c_str());
  if (rc == 0) return true;
  if (err == EEXIST) return false;
  ThrowErrno(ErrorKind::kUnknown, err, "cannot link " + tmp + " to " + path, {.path = path});
}

std::optional<std::string> ReadFileIfExists(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    ThrowErrno(ErrorKind::kUnknown, errno, "cannot open " + path, {.path = path});
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ThrowErrno(ErrorKind::kUnknown, err, "cannot read " + path, {.path = path});
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void RemoveTree(const std::string& path) noexcept {
  // Entries can come and go while the tree goes: the event dispatcher writes an exit's
  // .delivered marker into exit/ when the Backend returns, concurrently with the task's Delete.
  // The rmdir of exit/ then fails with ENOTEMPTY and the task directory would stay (the
  // container's Delete found "an existing task" once in the 1,000-lifecycle fault test). Each
  // such writer adds one file, once; another pass removes it.
  std::error_code ec;
  for (int attempt = 0; attempt < 5; ++attempt) {
    ec.clear();
    std::filesystem::remove_all(path, ec);
    struct stat st {};
    if (!ec || (::lstat(path.c_str(), &st) != 0 && errno == ENOENT)) return;
  }
  Log(LogLevel::kWarning, "cannot remove " + path + ": " + ec.message());
}

void RemoveDirIfEmpty(const std::string& dir) noexcept { ::rmdir(dir.c_str()); }

std::string EncodeRecord(const ContainerRecord& r) {
  nlohmann::json j;
  j["id"] = r.id;
  j["labels"] = r.labels;
  j["image"] = r.image;
  j["shim"] = r.shim;
  j["runtime"] = r.runtime;
  j["runtime_root"] = r.runtime_root;
  j["created"] = r.created_ns;
  if (r.has_runc_options) {
    const RuncOptions& o = r.runc;
    j["runc_options"] = {{"binary_name", o.binary_name},
                         {"root", o.root},
                         {"systemd_cgroup", o.systemd_cgroup},
                         {"no_pivot_root", o.no_pivot_root},
                         {"no_new_keyring", o.no_new_keyring},
                         {"criu_path", o.criu_path},
                         {"criu_image_path", o.criu_image_path},
                         {"criu_work_path", o.criu_work_path},
                         {"io_uid", o.io_uid},
                         {"io_gid", o.io_gid},
                         {"shim_cgroup", o.shim_cgroup}};
  }
  return j.dump();
}

ContainerRecord DecodeRecord(const std::string& json, const std::string& path) {
  try {
    auto j = nlohmann::json::parse(json);
    ContainerRecord r;
    r.id = j.at("id").get<std::string>();
    r.labels = j.value("labels", std::map<std::string, std::string>{});
    r.image = j.value("image", "");
    r.shim = j.value("shim", "");
    r.runtime = j.at("runtime").get<std::string>();
    r.runtime_root = j.at("runtime_root").get<std::string>();
    r.created_ns = j.value("created", int64_t{0});
    if (j.contains("runc_options")) {
      const auto& o = j["runc_options"];
      r.has_runc_options = true;
      r.runc.binary_name = o.value("binary_name", "");
      r.runc.root = o.value("root", "");
      r.runc.systemd_cgroup = o.value("systemd_cgroup", false);
      r.runc.no_pivot_root = o.value("no_pivot_root", false);
      r.runc.no_new_keyring = o.value("no_new_keyring", false);
      r.runc.criu_path = o.value("criu_path", "");
      r.runc.criu_image_path = o.value("criu_image_path", "");
      r.runc.criu_work_path = o.value("criu_work_path", "");
      r.runc.io_uid = o.value("io_uid", 0u);
      r.runc.io_gid = o.value("io_gid", 0u);
      r.runc.shim_cgroup = o.value("shim_cgroup", "");
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kUnknown,
                "container record " + path + " is corrupt (" + e.what() +
                    "): remove the container's directory",
                {.path = path});
  }
}

std::optional<ContainerRecord> LoadRecord(const Layout& layout, const std::string& id) {
  const std::string path = layout.RecordPath(id);
  auto data = ReadFileIfExists(path);
  if (!data) return std::nullopt;
  return DecodeRecord(*data, path);
}

SystemTime FromUnixNanos(int64_t ns) {
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(std::chrono::nanoseconds(ns)));
}

int64_t ToUnixNanos(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::string EncodeExit(const ExitRecord& r) {
  nlohmann::json j{{"pid", r.pid}, {"status", r.status}, {"exited_at", ToUnixNanos(r.exited_at)}};
  if (!r.error.empty()) j["error"] = r.error;
  return j.dump();
}

std::optional<ExitRecord> ReadExit(const std::string& task_dir, const std::string& exec_id) {
  const std::string path = ExitDir(task_dir) + "/" + ExitName(exec_id);
  std::optional<std::string> data;
  try {
    data = ReadFileIfExists(path);
  } catch (const Error& e) {
    Log(LogLevel::kWarning, std::string("exit record unreadable: ") + e.what());
    return std::nullopt;
  }
  if (!data) return std::nullopt;
  try {
    auto j = nlohmann::json::parse(*data);
    ExitRecord r;
    r.pid = j.value("pid", 0u);
    r.status = j.value("status", 255u);
    r.exited_at = FromUnixNanos(j.value("exited_at", int64_t{0}));
    r.error = j.value("error", "");
    return r;
  } catch (const nlohmann::json::exception& e) {
    Log(LogLevel::kWarning, "exit record " + path + " is corrupt: " + e.what());
    return std::nullopt;
  }
}

bool ExitDelivered(const std::string& task_dir, const std::string& exec_id) {
  struct stat st {};
  return ::stat((ExitDir(task_dir) + "/" + ExitName(exec_id) + ".delivered").c_str(), &st) == 0;
}

void MarkExitDelivered(const std::string& task_dir, const std::string& exec_id,
                       uint32_t pid) noexcept {
  auto rec = ReadExit(task_dir, exec_id);
  if (!rec || (pid != 0 && rec->pid != 0 && rec->pid != pid)) return;
  const std::string path = ExitDir(task_dir) + "/" + ExitName(exec_id) + ".delivered";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != ENOENT) {
    Log(LogLevel::kWarning, "cannot write " + path + ": " + std::strerror(errno) +
                                " (the exit may be delivered again to the next Client)");
  }
}

uint32_t ReadPidFile(const std::string& path) noexcept {
  try {
    auto data = ReadFileIfExists(path);
    if (!data) return 0;
    return static_cast<uint32_t>(std::stoul(*data));
  } catch (...) {
    return 0;
  }
}

bool ProcessAlive(uint32_t pid) noexcept {
  if (pid == 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  // A zombie is dead: its state in /proc/<pid>/stat is 'Z' (or 'X').
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto p = line.rfind(')');
  if (p == std::string::npos || p + 2 >= line.size()) return true;
  char state = line[p + 2];
  return state != 'Z' && state != 'X';
}

std::vector<std::string> ListContainerIds(const Layout& layout) {
  std::vector<std::string> ids;
  DIR* d = ::opendir(layout.NsDir().c_str());
  if (!d) {
    if (errno == ENOENT) return ids;
    ThrowErrno(ErrorKind::kUnknown, errno, "cannot list " + layout.NsDir(),
               {.path = layout.NsDir()});
  }
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::stat(layout.RecordPath(name).c_str(), &st) == 0) ids.push_back(name);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace libcontainerd::direct
