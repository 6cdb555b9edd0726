#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

}  // namespace lcdmon
