#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "fd.h"

namespace lcdmon {

std::string WriteFileAtomic(const std::string& dir, const std::string& name,
                            const std::string& content) {
  std::string tmp = dir + "/." + name + ".tmp";
  std::string path = dir + "/" + name;
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return "create " + tmp + ": " + strerror(errno);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string err = "write " + tmp + ": " + strerror(n < 0 ? errno : ENOSPC);
      ::unlink(tmp.c_str());
      return err;
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd.release()) < 0 || ::rename(tmp.c_str(), path.c_str()) < 0) {
    std::string err = "write " + path + ": " + strerror(errno);
    ::unlink(tmp.c_str());
    return err;
  }
  return "";
}

bool ReadWholeFile(const std::string& path, std::string* out, size_t cap) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() >= cap) break;
  }
  return true;
}

int ReadPidFile(const std::string& path) {
  std::string s;
  if (!ReadWholeFile(path, &s, 64)) return 0;
  char* end = nullptr;
  long pid = strtol(s.c_str(), &end, 10);
  if (end == s.c_str() || pid <= 0 || pid > (1 << 22)) return 0;
  return static_cast<int>(pid);
}

namespace {

// The names in a directory (without . and ..), and whether each is a directory. False if it
// cannot be read.
bool ListDir(int dirfd, std::vector<std::pair<std::string, bool>>* out) {
  int fd = ::dup(dirfd);
  if (fd < 0) return false;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return false;
  }
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      dir = ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    out->emplace_back(std::move(name), dir);
  }
  ::closedir(d);
  return true;
}

// Removes `name` under `parent`: its contents first when it is a directory; with `dirs_only`
// (a cgroup tree, whose files are the kernel's) only subdirectories are removed.
int RemoveAt(int parent, const std::string& name, bool dirs_only, int depth) {
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return 0;
  if (errno == ENOTDIR && !dirs_only) return ::unlinkat(parent, name.c_str(), 0) == 0 ? 0 : errno;
  if (depth > 32) return errno;
  int first = errno;
  Fd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno == ENOENT ? 0 : first;
  std::vector<std::pair<std::string, bool>> entries;
  if (!ListDir(fd.get(), &entries)) return first;
  for (const auto& [entry, is_dir] : entries) {
    if (is_dir) {
      if (int e = RemoveAt(fd.get(), entry, dirs_only, depth + 1)) return e;
    } else if (!dirs_only && ::unlinkat(fd.get(), entry.c_str(), 0) != 0 && errno != ENOENT) {
      return errno;
    }
  }
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return 0;
  return errno;
}

std::string RemoveUnder(const std::string& path, bool dirs_only) {
  size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") return "cannot remove " + path;
  Fd pfd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pfd) return errno == ENOENT ? "" : "open " + parent + ": " + strerror(errno);
  if (int e = RemoveAt(pfd.get(), name, dirs_only, 0)) return "remove " + path + ": " + strerror(e);
  return "";
}

}  // namespace

std::string RemoveCgroupTree(const std::string& path) { return RemoveUnder(path, true); }

std::string RemoveTree(const std::string& path) { return RemoveUnder(path, false); }

}  // namespace lcdmon
