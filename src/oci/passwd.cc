#include "oci/passwd.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "libcontainerd/errors.h"
#include "libcontainerd/fd.h"

namespace libcontainerd::oci::detail {
namespace {

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = line.find(sep, start);
    out.push_back(line.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

bool ParseId(const std::string& s, uint32_t& out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xffffffffULL) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

template <class F>
void ForEachLine(const std::string& text, F f) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    f(line);
  }
}

}  // namespace

std::vector<PasswdEntry> ParsePasswd(const std::string& text) {
  std::vector<PasswdEntry> out;
  ForEachLine(text, [&](const std::string& line) {
    auto f = Split(line, ':');  // name:password:uid:gid:gecos:home:shell
    if (f.size() < 4 || f[0].empty()) return;
    PasswdEntry e;
    e.name = f[0];
    if (!ParseId(f[2], e.uid) || !ParseId(f[3], e.gid)) return;
    out.push_back(std::move(e));
  });
  return out;
}

std::vector<GroupEntry> ParseGroup(const std::string& text) {
  std::vector<GroupEntry> out;
  ForEachLine(text, [&](const std::string& line) {
    auto f = Split(line, ':');  // name:password:gid:member,member
    if (f.size() < 3 || f[0].empty()) return;
    GroupEntry e;
    e.name = f[0];
    if (!ParseId(f[2], e.gid)) return;
    if (f.size() > 3 && !f[3].empty()) {
      for (auto& m : Split(f[3], ',')) {
        if (!m.empty()) e.members.push_back(m);
      }
    }
    out.push_back(std::move(e));
  });
  return out;
}

std::string ReadFileInRoot(const std::string& rootfs, const std::string& path) {
  ErrorContext ctx{.op = "read " + path + " of rootfs", .path = rootfs + path};
  int root = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    int err = errno;
    ThrowErrno(err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kUnknown, err,
               "open rootfs " + rootfs, ctx);
  }
  UniqueFd root_fd(root);
  struct open_how how = {};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = path;
  while (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
  long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof(how));
  if (fd < 0) {
    int err = errno;
    ThrowErrno(err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kUnknown, err,
               "open " + path + " in rootfs " + rootfs, ctx);
  }
  UniqueFd file(static_cast<int>(fd));
  std::string text;
  char buf[8192];
  constexpr size_t kMaxSize = 16 << 20;  // passwd files are small; refuse a huge one
  for (;;) {
    ssize_t n = ::read(file.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno(ErrorKind::kUnknown, errno, "read " + path + " in rootfs " + rootfs, ctx);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxSize) {
      throw Error(ErrorKind::kInvalidArgument,
                  path + " in rootfs " + rootfs + " is larger than 16 MiB", ctx);
    }
  }
  return text;
}

}  // namespace libcontainerd::oci::detail
