// The engine tier's fixture: one lcd-engine (LCD_ENGINE_PATH, or $LCD_ENGINE_BIN) on the
// integration tier's containerd, in a private root and containerd namespace, with its own default
// bridge, and one LocalRegistry on 127.0.0.1 holding busybox (<registry>/busybox:latest, pulled
// through the engine at start) and two more small images for the pull and save/load tests. Both
// live for the whole test binary (a gtest Environment); the real docker CLI drives the engine
// through DOCKER_HOST=unix://<root>/docker.sock (set in this process's environment, with a private
// DOCKER_CONFIG). At the end the engine gets SIGTERM and must exit 0 and remove its socket.
// Traffic: loopback only (the registry, published ports on 127.0.0.1, the engine's socket).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "run_program.h"

namespace enginetest {

using namespace std::chrono_literals;

// Where things are (valid once the environment's SetUp ran).
const std::string& EngineSocket();  // "/tmp/.../docker.sock"
const std::string& EngineRoot();
pid_t EnginePid();
// Stops the engine with sig (SIGKILL: a crash; SIGTERM: a graceful stop, which must exit 0),
// waits down_for, starts it again with the same command line and waits for /_ping. "" on
// success, else why not.
std::string RestartEngine(int sig, std::chrono::milliseconds down_for);
const std::string& RegistryHost();  // "127.0.0.1:PORT"
const std::string& Busybox();       // "127.0.0.1:PORT/busybox:latest", pulled at start
std::string EngineLog();            // the engine's stderr so far (for failure messages)

// Runs `docker args...` (no shell) with the fixture's DOCKER_HOST, killed after timeout; the
// exit code, stdout and stderr.
lcdtest::Result Docker(const std::vector<std::string>& args, std::chrono::seconds timeout = 60s,
                       const std::string* input = nullptr);
// The same, returning the exit code and filling out/err when given.
int Docker(const std::vector<std::string>& args, std::string* out, std::string* err = nullptr,
           std::chrono::seconds timeout = 60s);
// A docker command line (words quoted for sh) run under a pseudo-terminal:
// `script -qec "docker ..." /dev/null`, input written to the terminal then EOF.
lcdtest::Result DockerTty(const std::vector<std::string>& args, const std::string& input = "",
                          std::chrono::seconds timeout = 60s);
// The sh-quoted command line `docker args...`.
std::string DockerCommandLine(const std::vector<std::string>& args);
// A failure message: the command, its result and the end of the engine's log.
std::string Why(const std::vector<std::string>& args, const lcdtest::Result& r);

// A docker command's result with its arguments, for short assertions:
//   auto r = D({"run", "--rm", Busybox(), "true"});  ASSERT_EQ(r.code, 0) << r.why();
struct DockerRun {
  int code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> args;
  bool tty = false;
  std::string why() const;
};
DockerRun D(const std::vector<std::string>& args, std::chrono::seconds timeout = 60s);
// The same under a pseudo-terminal (DockerTty), input written to it.
DockerRun DTty(const std::vector<std::string>& args, const std::string& input = "",
               std::chrono::seconds timeout = 60s);

// A program running in the background (its own process group), stdin kept open as a pipe,
// stdout and stderr merged into one pipe read by ReadUntil. Killed (SIGKILL) by the destructor
// when still running.
class Proc {
 public:
  explicit Proc(const std::vector<std::string>& argv);
  ~Proc();
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  pid_t pid() const { return pid_; }
  bool Write(const std::string& data);
  void CloseStdin();
  // Reads until the output so far contains needle or timeout passes; whether it does.
  bool ReadUntil(const std::string& needle, std::chrono::milliseconds timeout);
  const std::string& output() const { return output_; }
  void Signal(int sig);  // to the process group
  // Waits for the exit (reading the output meanwhile); the code (128 + signal when killed), or
  // -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);

 private:
  void Pump(int timeout_ms);
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int status_ = -1;
  std::string output_;
};

// `docker` in the background (Proc) with the fixture's environment.
std::vector<std::string> DockerArgv(const std::vector<std::string>& args);
// `script -qec "docker args..." /dev/null`, for a Proc that needs a terminal.
std::vector<std::string> DockerTtyArgv(const std::vector<std::string>& args);

// Names for the engine's objects, unique in this run ("et<pid>-<what>-<n>"), removed with
// `docker rm -f` / `docker network rm` when the guard goes out of scope, even on failure.
class Cleanup {
 public:
  Cleanup() = default;
  ~Cleanup();
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  std::string Container(const std::string& what);  // a fresh container name, removed at the end
  std::string Network(const std::string& what);    // a fresh network name, removed at the end
  void AddImage(const std::string& ref);           // `docker rmi -f ref` at the end

 private:
  std::vector<std::string> containers_, networks_, images_;
};

// Text helpers.
std::string Trim(const std::string& s);
std::vector<std::string> Lines(const std::string& s);
bool Contains(const std::string& haystack, const std::string& needle);
// Polls pred every 100 ms until true or timeout; its last answer.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// A free TCP port on 127.0.0.1 (bound and released).
int FreePort();
// An HTTP/1.1 exchange: connects (TCP 127.0.0.1:port, or a unix socket path), writes request,
// reads the whole answer until the peer closes or timeout; "" when connecting failed.
std::string HttpTcp(int port, const std::string& request, std::chrono::milliseconds timeout = 5s);
std::string HttpUnix(const std::string& path, const std::string& request,
                     std::chrono::milliseconds timeout = 10s);
// The status code of an HTTP answer's status line, or -1.
int HttpStatus(const std::string& answer);
// The body of an HTTP answer (after the blank line; chunked bodies are not decoded).
std::string HttpBody(const std::string& answer);

// The number of open fds of a process (/proc/<pid>/fd).
int FdCount(pid_t pid);

// A test whose SetUp fails (with the reason) when the environment could not start the engine or
// pull busybox, or the engine died: every test of the tier derives from it.
class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override;
  bool needs_image_ = true;
};

// A test that needs the engine only (not the pulled busybox).
class EngineApiTest : public EngineTest {
 protected:
  EngineApiTest() { needs_image_ = false; }
};

}  // namespace enginetest
