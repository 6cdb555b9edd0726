// Builds a busybox rootfs into a temporary sibling directory, then renames it into place.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "libcontainerd/errors.h"
#include "libcontainerd/fd.h"
#include "libcontainerd/rootfs.h"

extern char** environ;

namespace libcontainerd {
namespace fs = std::filesystem;

namespace {
constexpr const char* kMarker = ".libcontainerd-rootfs";

std::string Stamp(const struct stat& st) {
  std::ostringstream s;
  s << "busybox size=" << st.st_size << " mtime=" << st.st_mtim.tv_sec << "\n";
  return s.str();
}

// Runs `busybox --list` without a shell and returns the applet names.
std::vector<std::string> ListApplets(const std::string& busybox) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) ThrowErrno(ErrorKind::kUnknown, errno, "pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), STDOUT_FILENO);
  std::string arg0 = busybox, arg1 = "--list";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, busybox.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) ThrowErrno(ErrorKind::kUnknown, rc, "run " + busybox + " --list", {.path = busybox});
  wr.reset();
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(rd.get(), buf, sizeof buf);
    if (n > 0)
      out.append(buf, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(ErrorKind::kUnknown, busybox + " --list failed", {.path = busybox});
  std::vector<std::string> names;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.find('/') == std::string::npos && line != "busybox")
      names.push_back(line);
  return names;
}

void WriteFile(const fs::path& p, const std::string& content, mode_t mode = 0644) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << content;
  f.close();
  if (!f) throw Error(ErrorKind::kUnknown, "cannot write " + p.string(), {.path = p.string()});
  ::chmod(p.c_str(), mode);
}
}  // namespace

void BuildBusyboxRootfs(const std::string& dir, const RootfsOptions& options) {
  ErrorContext ctx{.op = "BuildBusyboxRootfs", .path = dir};
  if (dir.empty() || dir[0] != '/')
    throw Error(ErrorKind::kInvalidArgument, "rootfs directory must be an absolute path", ctx);
  struct stat st {};
  if (::stat(options.busybox.c_str(), &st) != 0)
    throw Error(ErrorKind::kNotFound,
                "busybox binary " + options.busybox +
                    " not found: install Debian's busybox-static (scripts/setup does)",
                {.op = ctx.op, .path = options.busybox});
  const std::string stamp = Stamp(st);
  {
    std::ifstream m(fs::path(dir) / kMarker);
    std::stringstream cur;
    cur << m.rdbuf();
    if (m && cur.str() == stamp) return;  // already built from this busybox
  }

  fs::path target(dir);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec)
    ThrowErrno(ErrorKind::kUnknown, ec.value(), "create " + target.parent_path().string(), ctx);
  std::random_device rd;
  fs::path tmp =
      target.parent_path() / (target.filename().string() + ".tmp-" + std::to_string(rd()));
  try {
    for (const char* d : {"bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "etc",
                          "root", "home", "var/tmp", "run", "mnt"})
      fs::create_directories(tmp / d);
    fs::permissions(tmp / "tmp", fs::perms::all | fs::perms::sticky_bit);
    fs::copy_file(options.busybox, tmp / "bin/busybox");
    fs::permissions(tmp / "bin/busybox", fs::perms(0755));
    for (const auto& name : ListApplets(options.busybox)) {
      fs::path link = tmp / "bin" / name;
      if (!fs::exists(fs::symlink_status(link))) fs::create_symlink("busybox", link);
    }
    WriteFile(
        tmp / "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    WriteFile(tmp / "etc/group", "root:x:0:\nnogroup:x:65534:\n");
    WriteFile(tmp / "etc/hosts", "127.0.0.1 localhost\n::1 localhost\n");
    WriteFile(tmp / "etc/hostname", "busybox\n");
    WriteFile(tmp / kMarker, stamp);
    // Replace atomically: move an old tree aside first, then rename the new one in.
    if (fs::exists(target)) {
      fs::path old =
          target.parent_path() / (target.filename().string() + ".old-" + std::to_string(rd()));
      fs::rename(target, old);
      fs::rename(tmp, target);
      fs::remove_all(old, ec);
    } else {
      std::error_code rec;
      fs::rename(tmp, target, rec);
      if (rec) {
        // Lost a race with another builder: fine if the winner's tree is complete.
        std::ifstream m(target / kMarker);
        std::stringstream cur;
        cur << m.rdbuf();
        fs::remove_all(tmp, ec);
        if (!(m && cur.str() == stamp))
          ThrowErrno(ErrorKind::kUnknown, rec.value(), "rename rootfs into place", ctx);
      }
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    ctx.path = e.path1().string();
    ThrowErrno(ErrorKind::kUnknown, e.code().value(), "building rootfs failed", ctx);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace libcontainerd
