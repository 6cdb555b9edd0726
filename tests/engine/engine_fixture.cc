#include "engine_fixture.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "harness.h"
#include "registry_fixture.h"

#ifndef LCD_ENGINE_PATH
#error "LCD_ENGINE_PATH must name the lcd-engine binary"
#endif

extern char** environ;

namespace enginetest {

namespace fs = std::filesystem;

namespace {

// The engine's containerd namespace and default bridge: fixed for the tier (one test binary runs
// at a time), distinct from the integration tier's, so the net tests running beside do not
// collide.
// Per test process, so that two runs at once (developers, CI stages) do not share a bridge or a
// containerd namespace: "lcd-engine-test-<pid>", bridge "lcde<pid>" (<= 15 characters).
const std::string kNamespace = "lcd-engine-test-" + std::to_string(getpid());
const std::string kBridge = "lcde" + std::to_string(getpid());

struct State {
  std::string dir;  // /tmp/lcde-<pid>: everything of this run
  std::string root;
  std::string socket;
  std::string log;
  std::string busybox;
  pid_t engine = -1;
  int engine_status = -1;  // wait status once reaped
  std::unique_ptr<lcdtest::LocalRegistry> registry;
  std::string registry_host;
  bool engine_ready = false;
  bool image_ready = false;
  std::string failure;            // why the environment is not ready
  std::vector<std::string> argv;  // the engine's command line (RestartEngine)
};

State& S() {
  static State s;
  return s;
}

// Whether the engine still runs; once reaped, its wait status is kept in S().engine_status.
bool Alive(pid_t pid, int* status) {
  State& s = S();
  if (s.engine_status >= 0) {
    *status = s.engine_status;
    return false;
  }
  int st = 0;
  pid_t r = waitpid(pid, &st, WNOHANG);
  if (r == 0) return true;
  s.engine_status = r == pid ? st : 0;
  *status = s.engine_status;
  return false;
}

// The engine binary: LCD_ENGINE_PATH, or the environment's LCD_ENGINE_BIN (to try another build).
std::string EngineBinary() {
  const char* env = std::getenv("LCD_ENGINE_BIN");
  return env && *env ? env : LCD_ENGINE_PATH;
}

std::string DescribeStatus(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  int code = WEXITSTATUS(status);
  if (code == 127)
    return "exit code 127: could not run " + EngineBinary() +
           " (build it: lcd-build --target lcd-engine)";
  return "exit code " + std::to_string(code);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts the engine with stdout and stderr into the log; SIGKILLed when this thread dies.
pid_t StartEngine(const std::vector<std::string>& argv, const std::string& log,
                  bool append = false) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0644);
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || null < 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(null, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fd);
  close(null);
  return pid;
}

std::string ShQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Mount {
  std::string point;
  std::string fstype;
};

// The mounts at or under dir (/proc/self/mountinfo), deepest last.
std::vector<Mount> MountsUnder(const std::string& dir) {
  std::vector<Mount> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    if (point != dir && point.rfind(dir + "/", 0) != 0) continue;
    size_t dash = line.find(" - ");
    std::string fstype;
    if (dash != std::string::npos) std::istringstream(line.substr(dash + 3)) >> fstype;
    out.push_back({point, fstype});
  }
  return out;
}

// Deletes the tier's default bridge when it exists (left by an earlier run of this binary).
// The default network outlives an engine (as docker0 and its rules do): the fixture removes its
// bridge and the host rules the library made for it (masquerade, forward, isolation), so that a
// run leaves nothing on the host.
void DeleteBridge() {
  std::string dev = "/sys/class/net/" + kBridge;
  if (fs::exists(dev)) lcdtest::Sh("ip link del " + kBridge + " 2>&1");
  for (const char* table_chain : {"nat LCD-POSTROUTING", "filter LCD-FORWARD",
                                  "filter LCD-ISOLATION-STAGE-1", "filter LCD-ISOLATION-STAGE-2"}) {
    std::string tc = table_chain;
    std::string table = tc.substr(0, tc.find(' '));
    std::string chain = tc.substr(tc.find(' ') + 1);
    lcdtest::Sh("iptables -w -t " + table + " -S " + chain + " 2>/dev/null | grep -- ' " + kBridge +
                " ' | sed 's/^-A /-D /' | while read -r rule; do iptables -w -t " + table +
                " $rule; done");
  }
}

class EngineEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    State& s = S();
    s.dir = "/tmp/lcde-" + std::to_string(getpid());
    std::error_code ec;
    fs::remove_all(s.dir, ec);
    fs::create_directories(s.dir + "/cli");
    fs::create_directories(s.dir + "/oci");
    s.root = s.dir + "/root";
    s.socket = s.dir + "/docker.sock";
    s.log = s.dir + "/engine.log";

    // The docker CLI of every child: this engine, no user config or context.
    setenv("DOCKER_HOST", ("unix://" + s.socket).c_str(), 1);
    setenv("DOCKER_CONFIG", (s.dir + "/cli").c_str(), 1);
    setenv("DOCKER_CLI_HINTS", "false", 1);
    for (const char* v : {"DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
                          "DOCKER_API_VERSION", "DOCKER_DEFAULT_PLATFORM"})
      unsetenv(v);

    try {
      s.registry = std::make_unique<lcdtest::LocalRegistry>();
      s.registry_host = s.registry->host();
      lcdtest::OciLayoutBuilder b(s.dir + "/oci");
      lcdtest::TestImageConfig cfg;
      cfg.cmd = {"sh"};
      cfg.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
      b.AddImage({lcdtest::OciLayoutBuilder::BusyboxLayer()}, cfg, "busybox");
      lcdtest::TestLayer pull;
      pull.files["pulltest.txt"] = "pulled\n";
      b.AddImage({lcdtest::OciLayoutBuilder::BusyboxLayer(), pull}, cfg, "pulltest");
      lcdtest::TestLayer save;
      save.files["saveme.txt"] = "saved and loaded\n";
      b.AddImage({lcdtest::OciLayoutBuilder::BusyboxLayer(), save}, cfg, "saveme");
      s.registry->Push(b.dir(), "busybox", "busybox:latest");
      s.registry->Push(b.dir(), "pulltest", "pulltest:latest");
      s.registry->Push(b.dir(), "saveme", "saveme:latest");
    } catch (const std::exception& e) {
      s.failure = std::string("the test registry could not be set up: ") + e.what();
      return;
    }
    s.busybox = s.registry_host + "/busybox:latest";

    std::vector<std::string> argv = {EngineBinary(),
                                     "--root",
                                     s.root,
                                     "-H",
                                     "unix://" + s.socket,
                                     "--containerd",
                                     lcdtest::DaemonAddress(),
                                     "--namespace",
                                     kNamespace,
                                     "--bridge",
                                     kBridge,
                                     "--insecure-registry",
                                     s.registry_host};
    // The default bridge outlives an engine (as docker0 does); a fresh root starts with none.
    DeleteBridge();
    s.argv = argv;
    s.engine = StartEngine(argv, s.log);
    if (s.engine < 0) {
      s.failure = "could not start " + EngineBinary() + ": " + strerror(errno);
      return;
    }
    // Ready when /_ping answers 200.
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (!Alive(s.engine, &status)) {
        s.engine = -1;
        s.failure = "lcd-engine exited at start (" + DescribeStatus(status) + "); its log:\n" +
                    ReadFile(s.log);
        return;
      }
      std::string a = HttpUnix(
          s.socket, "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n", 2s);
      if (HttpStatus(a) == 200) {
        s.engine_ready = true;
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    if (!s.engine_ready) {
      s.failure = "lcd-engine did not answer GET /_ping on " + s.socket +
                  " within 60 s (is the containerd fixture running? `lcd_test_daemon start " +
                  lcdtest::DaemonRoot() + "`); its log:\n" + ReadFile(s.log);
      return;
    }
    lcdtest::Result r = Docker({"pull", "-q", s.busybox}, 120s);
    if (r.code != 0) {
      s.failure = "pulling " + s.busybox +
                  " through the engine failed: " + Why({"pull", "-q", s.busybox}, r);
      return;
    }
    s.image_ready = true;
  }

  void TearDown() override {
    State& s = S();
    if (s.engine > 0 && s.engine_ready) {
      // Every test removes its containers: any left is a failed removal (or a test's leak).
      lcdtest::Result ps = Docker({"ps", "-aq"}, 30s);
      std::vector<std::string> ids;
      for (const auto& l : Lines(ps.out))
        if (!Trim(l).empty()) ids.push_back(Trim(l));
      EXPECT_TRUE(ps.code == 0 && ids.empty())
          << "containers left at the end (removed now): " << ps.out << ps.err;
      if (!ids.empty()) {
        ids.insert(ids.begin(), {"rm", "-f"});
        Docker(ids, 60s);
      }
    }
    if (s.engine > 0) {
      kill(s.engine, SIGTERM);
      int status = 0;
      bool exited = false;
      auto deadline = std::chrono::steady_clock::now() + 30s;
      while (std::chrono::steady_clock::now() < deadline) {
        if (!Alive(s.engine, &status)) {
          exited = true;
          break;
        }
        std::this_thread::sleep_for(50ms);
      }
      if (!exited) {
        kill(s.engine, SIGKILL);
        waitpid(s.engine, &status, 0);
        s.engine_status = status;
        ADD_FAILURE() << "lcd-engine did not exit within 30 s of SIGTERM; its log:\n"
                      << ReadFile(s.log);
      } else {
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "lcd-engine's exit after SIGTERM: " << DescribeStatus(status) << "; its log (end):\n"
            << EngineLog();
        EXPECT_FALSE(fs::exists(fs::symlink_status(s.socket)))
            << "lcd-engine left its socket " << s.socket << " behind";
      }
      s.engine = -1;
    }
    // Every container was removed: a network namespace still mounted under the engine's root
    // leaked. Other mounts (the namespaces' directory) are only undone so the root can go.
    std::vector<Mount> left = MountsUnder(s.dir);
    std::string leaked;
    for (const auto& m : left)
      if (m.fstype == "nsfs") leaked += "\n  " + m.point;
    EXPECT_TRUE(leaked.empty()) << "lcd-engine left namespaces of removed containers mounted:"
                                << leaked;
    for (auto m = left.rbegin(); m != left.rend(); ++m) {
      if (m->fstype != "nsfs")
        std::fprintf(stderr, "engine fixture: note: lcd-engine left %s (%s) mounted\n",
                     m->point.c_str(), m->fstype.c_str());
      umount2(m->point.c_str(), MNT_DETACH);
    }
    DeleteBridge();
    s.registry.reset();
    std::error_code ec;
    fs::remove_all(s.dir, ec);
    if (ec)
      std::fprintf(stderr, "engine fixture: removing %s: %s\n", s.dir.c_str(),
                   ec.message().c_str());
  }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new EngineEnvironment);

}  // namespace

const std::string& EngineSocket() { return S().socket; }
const std::string& EngineRoot() { return S().root; }
pid_t EnginePid() { return S().engine; }

std::string RestartEngine(int sig, std::chrono::milliseconds down_for) {
  State& s = S();
  if (s.engine <= 0) return "the engine is not running";
  kill(s.engine, sig);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (Alive(s.engine, &status)) {
    if (std::chrono::steady_clock::now() > deadline)
      return "the engine did not exit after a signal";
    std::this_thread::sleep_for(20ms);
  }
  if (sig == SIGTERM && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    return "the engine's exit after SIGTERM: " + DescribeStatus(status);
  std::this_thread::sleep_for(down_for);
  s.engine_status = -1;
  s.engine = StartEngine(s.argv, s.log, /*append=*/true);
  if (s.engine < 0) return std::string("could not start the engine again: ") + strerror(errno);
  deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!Alive(s.engine, &status))
      return "the engine exited at its new start (" + DescribeStatus(status) + "): " + EngineLog();
    std::string a =
        HttpUnix(s.socket, "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n", 2s);
    if (HttpStatus(a) == 200) return "";
    std::this_thread::sleep_for(50ms);
  }
  return "the engine did not answer /_ping within 60 s of its new start: " + EngineLog();
}
const std::string& RegistryHost() { return S().registry_host; }
const std::string& Busybox() { return S().busybox; }

std::string EngineLog() {
  std::string log = ReadFile(S().log);
  if (log.size() > 4000) log = "..." + log.substr(log.size() - 4000);
  return log;
}

lcdtest::Result Docker(const std::vector<std::string>& args, std::chrono::seconds timeout,
                       const std::string* input) {
  return lcdtest::Collect(lcdtest::Spawn(DockerArgv(args), input, {}), timeout);
}

int Docker(const std::vector<std::string>& args, std::string* out, std::string* err,
           std::chrono::seconds timeout) {
  lcdtest::Result r = Docker(args, timeout);
  if (out) *out = r.out;
  if (err) *err = r.err;
  return r.code;
}

std::string DockerCommandLine(const std::vector<std::string>& args) {
  std::string line = "docker";
  for (const auto& a : args) line += " " + ShQuote(a);
  return line;
}

std::vector<std::string> DockerArgv(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"docker"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<std::string> DockerTtyArgv(const std::vector<std::string>& args) {
  return {"script", "-qec", DockerCommandLine(args), "/dev/null"};
}

lcdtest::Result DockerTty(const std::vector<std::string>& args, const std::string& input,
                          std::chrono::seconds timeout) {
  return lcdtest::Collect(lcdtest::Spawn(DockerTtyArgv(args), &input, {}), timeout);
}

std::string Why(const std::vector<std::string>& args, const lcdtest::Result& r) {
  return lcdtest::Describe(DockerArgv(args), r) + "\n--- engine log (end) ---\n" + EngineLog();
}

std::string DockerRun::why() const {
  lcdtest::Result r;
  r.code = code;
  r.out = out;
  r.err = err;
  return (tty ? "(under script) " : "") + Why(args, r);
}

DockerRun D(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  lcdtest::Result r = Docker(args, timeout);
  return DockerRun{r.code, r.out, r.err, args, false};
}

DockerRun DTty(const std::vector<std::string>& args, const std::string& input,
               std::chrono::seconds timeout) {
  lcdtest::Result r = DockerTty(args, input, timeout);
  return DockerRun{r.code, r.out, r.err, args, true};
}

// Proc

Proc::Proc(const std::vector<std::string>& argv) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << strerror(errno);
    return;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawnp(&pid_, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in[0]);
  close(out[1]);
  in_ = in[1];
  out_ = out[0];
  if (rc != 0) {
    pid_ = -1;
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << strerror(rc);
  }
}

Proc::~Proc() {
  if (pid_ > 0 && status_ < 0) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  if (in_ >= 0) close(in_);
  if (out_ >= 0) close(out_);
}

bool Proc::Write(const std::string& data) {
  if (in_ < 0) return false;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(in_, data.data() + done, data.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void Proc::CloseStdin() {
  if (in_ >= 0) close(in_);
  in_ = -1;
}

void Proc::Pump(int timeout_ms) {
  if (out_ < 0) {
    if (timeout_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    return;
  }
  pollfd p = {out_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return;
  char buf[4096];
  ssize_t n = read(out_, buf, sizeof buf);
  if (n <= 0) {
    close(out_);
    out_ = -1;
  } else {
    output_.append(buf, static_cast<size_t>(n));
  }
}

bool Proc::ReadUntil(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (output_.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (out_ < 0) return false;
    Pump(static_cast<int>(std::min<long long>(left.count(), 100)));
  }
  return true;
}

void Proc::Signal(int sig) {
  if (pid_ > 0 && status_ < 0) kill(-pid_, sig);
}

int Proc::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (status_ < 0) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    Pump(50);
  }
  // Drain what is left (a grandchild may still hold the pipe: bounded).
  auto drain = std::chrono::steady_clock::now() + 500ms;
  while (out_ >= 0 && std::chrono::steady_clock::now() < drain) Pump(50);
  return status_;
}

// Cleanup

Cleanup::~Cleanup() {
  if (!containers_.empty()) {
    std::vector<std::string> args = {"rm", "-f"};
    args.insert(args.end(), containers_.begin(), containers_.end());
    Docker(args, 60s);
  }
  for (const auto& n : networks_) Docker({"network", "rm", n}, 30s);
  for (const auto& i : images_) Docker({"rmi", "-f", i}, 30s);
}

std::string Cleanup::Container(const std::string& what) {
  static int counter = 0;
  containers_.push_back("et" + std::to_string(getpid()) + "-" + what + "-" +
                        std::to_string(++counter));
  return containers_.back();
}

std::string Cleanup::Network(const std::string& what) {
  static int counter = 0;
  networks_.push_back("etnet" + std::to_string(getpid()) + "-" + what + "-" +
                      std::to_string(++counter));
  return networks_.back();
}

void Cleanup::AddImage(const std::string& ref) { images_.push_back(ref); }

// Text

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    out.push_back(l);
  }
  return out;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
}

// Network helpers

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

namespace {

std::string Exchange(int fd, const std::string& request, std::chrono::milliseconds timeout) {
  std::string answer;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t done = 0;
  while (done < request.size()) {
    ssize_t n = send(fd, request.data() + done, request.size() - done, MSG_NOSIGNAL);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

}  // namespace

std::string HttpTcp(int port, const std::string& request, std::chrono::milliseconds timeout) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  return Exchange(fd, request, timeout);
}

std::string HttpUnix(const std::string& path, const std::string& request,
                     std::chrono::milliseconds timeout) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) {
    close(fd);
    return "";
  }
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  return Exchange(fd, request, timeout);
}

int HttpStatus(const std::string& answer) {
  // "HTTP/1.1 200 OK"
  if (answer.rfind("HTTP/1.", 0) != 0) return -1;
  size_t sp = answer.find(' ');
  if (sp == std::string::npos) return -1;
  return std::atoi(answer.c_str() + sp + 1);
}

std::string HttpBody(const std::string& answer) {
  size_t p = answer.find("\r\n\r\n");
  return p == std::string::npos ? "" : answer.substr(p + 4);
}

int FdCount(pid_t pid) {
  int n = 0;
  if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
  }
  return n;
}

void EngineTest::SetUp() {
  const State& s = S();
  ASSERT_TRUE(s.engine_ready) << s.failure;
  if (needs_image_) {
    ASSERT_TRUE(s.image_ready) << s.failure;
  }
  int status = 0;
  ASSERT_TRUE(Alive(s.engine, &status))
      << "lcd-engine is no longer running (" << DescribeStatus(status) << "); its log (end):\n"
      << EngineLog();
}

}  // namespace enginetest
