#include "oom.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdlib>

namespace lcdmon {
namespace {

constexpr long kCgroup2Magic = 0x63677270;

// The path of a controller's line in /proc/self/cgroup ("" controller: the v2 line "0::").
bool OwnCgroup(std::string_view text, std::string_view controller, std::string* out) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t a = line.find(':');
    if (a == std::string_view::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    std::string_view ctrls = line.substr(a + 1, b - a - 1);
    bool match = false;
    if (controller.empty()) {
      match = ctrls.empty();
    } else {
      while (!ctrls.empty() && !match) {
        size_t c = ctrls.find(',');
        match = ctrls.substr(0, c) == controller;
        ctrls = c == std::string_view::npos ? std::string_view() : ctrls.substr(c + 1);
      }
    }
    if (match) {
      *out = std::string(line.substr(b + 1));
      return true;
    }
  }
  return false;
}

std::string ReadSmall(const std::string& path) {
  char buf[1024];
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

std::string MemoryCgroupDir(std::string_view cgroups_path, std::string_view id,
                            std::string_view self_cgroup, bool v2, std::string_view root) {
  if (cgroups_path.find(':') != std::string_view::npos) return "";  // systemd driver
  std::string path(cgroups_path.empty() ? id : cgroups_path);
  if (path.empty()) return "";
  if (path[0] != '/') {
    std::string own;
    if (!OwnCgroup(self_cgroup, v2 ? "" : "memory", &own)) return "";
    while (!own.empty() && own.back() == '/') own.pop_back();
    path = own + "/" + path;
  }
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string dir(root);
  if (!v2) dir += "/memory";
  return dir + path;
}

bool ParseOomKill(std::string_view text, uint64_t* count) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.rfind("oom_kill ", 0) != 0) continue;
    std::string value(line.substr(9));
    char* end = nullptr;
    errno = 0;
    unsigned long long v = strtoull(value.c_str(), &end, 10);
    if (errno || end == value.c_str()) return false;
    *count = v;
    return true;
  }
  return false;
}

std::string OomWatch::Start(std::string_view cgroups_path, std::string_view id) {
  struct statfs fs {};
  v2_ = ::statfs("/sys/fs/cgroup", &fs) == 0 && static_cast<long>(fs.f_type) == kCgroup2Magic;
  dir_ = MemoryCgroupDir(cgroups_path, id, ReadSmall("/proc/self/cgroup"), v2_);
  if (dir_.empty())
    return "the memory cgroup of cgroupsPath \"" + std::string(cgroups_path) + "\" is unknown";
  if (v2_) {
    std::string events = dir_ + "/memory.events";
    Fd in(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!in) return std::string("inotify: ") + strerror(errno);
    if (inotify_add_watch(in.get(), events.c_str(), IN_MODIFY) < 0)
      return "watch " + events + ": " + strerror(errno);
    oom_kills_ = 0;
    ParseOomKill(ReadSmall(events), &oom_kills_);
    notify_ = std::move(in);
    return "";
  }
  std::string control = dir_ + "/memory.oom_control";
  Fd oc(::open(control.c_str(), O_RDONLY | O_CLOEXEC));
  if (!oc) return "open " + control + ": " + strerror(errno);
  Fd ev(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!ev) return std::string("eventfd: ") + strerror(errno);
  std::string event_control = dir_ + "/cgroup.event_control";
  Fd ec(::open(event_control.c_str(), O_WRONLY | O_CLOEXEC));
  if (!ec) return "open " + event_control + ": " + strerror(errno);
  std::string line = std::to_string(ev.get()) + " " + std::to_string(oc.get());
  if (::write(ec.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    return "register with " + event_control + ": " + strerror(errno);
  oom_control_ = std::move(oc);
  notify_ = std::move(ev);
  return "";
}

bool OomWatch::OnReadable() {
  if (!notify_) return false;
  if (v2_) {
    char buf[4096];
    while (::read(notify_.get(), buf, sizeof buf) > 0) {
    }
    uint64_t now = 0;
    if (!ParseOomKill(ReadSmall(dir_ + "/memory.events"), &now)) {
      Stop();  // the cgroup is gone
      return false;
    }
    bool oom = now > oom_kills_;
    oom_kills_ = now;
    return oom;
  }
  uint64_t n = 0;
  if (::read(notify_.get(), &n, sizeof n) != sizeof n) return false;
  if (::access(dir_.c_str(), F_OK) != 0) {  // v1 also signals the removal of the cgroup
    Stop();
    return false;
  }
  return true;
}

void OomWatch::Stop() {
  notify_.reset();
  oom_control_.reset();
}

}  // namespace lcdmon
