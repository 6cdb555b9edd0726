// lcd-monitor: start-up: the runtime's create (or restore), the ready line, and the clean-up of a
// start that failed (docs/direct-backend.md, "Starting a task").
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "files.h"
#include "log.h"
#include "monitor.h"
#include "process_io.h"

namespace lcdmon {
namespace {

// linux.cgroupsPath of the bundle's config.json. False (with `error`) for a bundle the runtime
// cannot use: no config.json, or one that is not a JSON object.
bool ReadBundle(const std::string& bundle, std::string* cgroups_path, std::string* error) {
  std::string text;
  std::string path = bundle + "/config.json";
  if (!ReadWholeFile(path, &text, 16 << 20)) {
    *error = "bundle " + bundle + ": cannot read config.json: " + strerror(errno);
    return false;
  }
  auto spec = nlohmann::json::parse(text, nullptr, false);
  if (spec.is_discarded() || !spec.is_object()) {
    *error = "bundle " + bundle + ": config.json is not a JSON object";
    return false;
  }
  auto lx = spec.find("linux");
  if (lx != spec.end() && lx->is_object()) {
    auto cg = lx->find("cgroupsPath");
    if (cg != lx->end() && cg->is_string()) *cgroups_path = cg->get<std::string>();
  }
  return true;
}

std::string Listen(const std::string& path, Fd* out) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return "socket path " + path + " is longer than " + std::to_string(sizeof addr.sun_path - 1) +
           " bytes: choose a shorter state root";
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return std::string("socket: ") + strerror(errno);
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return "bind " + path + ": " + strerror(errno);
  ::chmod(path.c_str(), 0600);
  if (::listen(fd.get(), 64) < 0) return "listen " + path + ": " + strerror(errno);
  *out = std::move(fd);
  return "";
}

}  // namespace

bool Monitor::Start(Kind* kind, std::string* message) {
  *kind = Kind::kUnknown;
  if (std::string err = reaper_.Init(this); !err.empty()) {
    *message = err;
    return false;
  }
  struct stat st {};
  if (::stat(options_.task_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *kind = Kind::kInvalidArgument;
    *message = "task directory " + options_.task_dir + " does not exist";
    return false;
  }
  if (!ReadBundle(options_.bundle, &cgroups_path_, message)) {
    *kind = Kind::kInvalidArgument;
    return false;
  }
  // exec/ is made by the library with the first exec's process JSON: a directory less to make
  // and remove (rmdir can cost milliseconds on a file system that discards freed blocks).
  if (::mkdir(Path("exit").c_str(), 0700) < 0 && errno != EEXIST) {
    *message = "mkdir " + Path("exit") + ": " + strerror(errno);
    return false;
  }
  if (std::string err = WriteFileAtomic(options_.task_dir, "monitor.pid", std::to_string(getpid()));
      !err.empty()) {
    *message = err;
    return false;
  }
  if (std::string err = Listen(Path("monitor.sock"), &listener_); !err.empty()) {
    *kind = Kind::kInvalidArgument;
    *message = err;
    return false;
  }

  Proc& p = table_.Add("");
  p.io = std::make_unique<ProcessIo>();
  if (std::string err = p.io->Open(
          {options_.stdin_path, options_.stdout_path, options_.stderr_path}, options_.terminal);
      !err.empty()) {
    *message = err;
    return false;
  }
  Fd console;
  if (options_.terminal) {
    if (std::string err = ListenConsole(Path("console.sock"), &console); !err.empty()) {
      *message = err;
      return false;
    }
  }

  std::vector<std::string> args;
  if (options_.restore.empty()) {
    args = {"create", "--bundle", options_.bundle, "--pid-file", Path("init.pid")};
    if (options_.no_new_keyring) args.push_back("--no-new-keyring");
  } else {
    args = {"restore",    "--detach",       "--bundle",     options_.bundle,
            "--pid-file", Path("init.pid"), "--image-path", options_.restore};
  }
  if (options_.terminal) args.insert(args.end(), {"--console-socket", Path("console.sock")});
  if (options_.no_pivot) args.push_back("--no-pivot");
  args.push_back(options_.id);
  int stdio[3] = {p.io->child_fd(0), p.io->child_fd(1), p.io->child_fd(2)};
  runtime_called_ = true;
  RuntimeResult r = Call(std::move(args), options_.restore.empty() ? 60000 : 0, stdio);
  p.io->CloseChildFds();  // the container holds its own copies
  const char* what = options_.restore.empty() ? "create" : "restore";
  if (!r.ok()) {
    if (r.spawn_errno == ENOENT || r.spawn_errno == EACCES) {
      *kind = r.spawn_errno == ENOENT ? Kind::kNotFound : Kind::kFailedPrecondition;
      *message = "OCI runtime " + options_.runtime + ": " + strerror(r.spawn_errno) +
                 (options_.runtime.find('/') == std::string::npos ? " (looked up in PATH)" : "");
    } else {
      *message = "OCI runtime " + std::string(what) + " failed: " + r.Message();
    }
    return false;
  }
  if (options_.terminal) {
    Fd master;
    std::string err = ReceiveMaster(console.get(), &master);
    console.reset();
    ::unlink(Path("console.sock").c_str());
    if (!err.empty()) {
      *message = err;
      return false;
    }
    p.io->SetMaster(std::move(master));
  }
  int pid = ReadPidFile(Path("init.pid"));
  if (pid <= 0) {
    *message = "the runtime's pid file " + Path("init.pid") + " has no pid";
    return false;
  }
  if (!options_.restore.empty()) p.state = ProcState::kRunning;
  if (table_.SetPid(p, pid)) RecordExit(p);
  if (std::string err = oom_.Start(cgroups_path_, options_.id); !err.empty())
    Log("no OOM events: %s", err.c_str());
  return true;
}

void Monitor::CleanupFailedStart() {
  if (runtime_called_) Call({"delete", "--force", options_.id});
  if (Proc* p = table_.Find(""); p && p->pid > 0 && p->state != ProcState::kStopped) {
    ::kill(p->pid, SIGKILL);
    WaitForExit(*p, 2000);
  }
  listener_.reset();
  RemoveTaskFiles();
  ::unlink(Path("init.pid").c_str());
  for (const char* d : {"exit/init", "exit/.init.tmp"}) ::unlink(Path(d).c_str());
  ::rmdir(Path("exit").c_str());
  ::rmdir(Path("exec").c_str());
}

void Monitor::WriteReady(const std::string& line) {
  if (options_.ready_fd < 0) return;
  std::string l = line + "\n";
  size_t off = 0;
  while (off < l.size()) {
    ssize_t n = ::write(options_.ready_fd, l.data() + off, l.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(options_.ready_fd);
  options_.ready_fd = -1;
}

}  // namespace lcdmon
