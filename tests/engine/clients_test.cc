// Clients other than the docker CLI against lcd-engine: the Docker SDK for Python (Debian's
// python3-docker, run by the system python's pytest: tests/engine/python) and docker-compose 1.29
// (tests/engine/compose). Both inherit the fixture's DOCKER_HOST; the busybox of the tier's
// loopback registry and the registry are passed in LCD_TEST_BUSYBOX and LCD_TEST_REGISTRY.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "engine_fixture.h"
#include "run_program.h"

namespace {

using namespace enginetest;
namespace fs = std::filesystem;

using EngineClientTest = EngineTest;

// This file's directory in the source tree (the suites live beside it).
fs::path SourceDir() { return fs::path(__FILE__).parent_path(); }

const char* kPython = "/usr/bin/python3";
const char* kCompose = "/usr/bin/docker-compose";

// Why a client cannot run here, or "" when it can.
std::string Missing(const std::vector<std::string>& argv, const std::string& what) {
  lcdtest::Result r = lcdtest::Collect(lcdtest::Spawn(argv, nullptr, {}), 60s);
  if (r.code == 0) return "";
  return what + " is not usable (" + lcdtest::Describe(argv, r) +
         "): install Debian's docker-compose and python3-pytest (sudo scripts/setup)";
}

std::string Output(const std::vector<std::string>& argv, const lcdtest::Result& r) {
  return lcdtest::Describe(argv, r) + "\n--- engine log (end) ---\n" + EngineLog();
}

TEST_F(EngineClientTest, PythonSdkSuitePasses) {
  const fs::path dir = SourceDir() / "python";
  ASSERT_TRUE(fs::exists(dir / "test_sdk.py"))
      << dir << " not found: engine_tests must run on the machine it was built on";
  std::string why = Missing({kPython, "-c", "import docker, pytest"}, "python3-docker/pytest");
  ASSERT_EQ(why, "");

  std::vector<std::string> argv = {kPython,
                                   "-m",
                                   "pytest",
                                   "-v",
                                   "-p",
                                   "no:cacheprovider",
                                   "-rfE",
                                   "--rootdir",
                                   dir.string(),
                                   "--color=no",
                                   (dir / "test_sdk.py").string()};
  std::vector<std::string> env = {"LCD_TEST_BUSYBOX=" + Busybox(),
                                  "LCD_TEST_REGISTRY=" + RegistryHost(),
                                  "PYTHONDONTWRITEBYTECODE=1"};
  lcdtest::Result r = lcdtest::Collect(lcdtest::Spawn(argv, nullptr, env), 300s);
  ASSERT_EQ(r.code, 0) << Output(argv, r);
  // Every test ran: none skipped, none deselected.
  EXPECT_TRUE(Contains(r.out, " passed")) << r.out;
  EXPECT_FALSE(Contains(r.out, "skipped")) << r.out;
}

// `docker-compose -p <project> -f tests/engine/compose/docker-compose.yml args...`.
class Compose {
 public:
  Compose()
      : project_("lcdc" + std::to_string(getpid())),
        file_((SourceDir() / "compose" / "docker-compose.yml").string()),
        port_(FreePort()) {}
  // Whatever happens, the project goes (containers, network, volumes).
  ~Compose() {
    if (up_) Run({"down", "-v", "--remove-orphans", "-t", "5"});
  }
  Compose(const Compose&) = delete;
  Compose& operator=(const Compose&) = delete;

  const std::string& project() const { return project_; }
  int port() const { return port_; }
  void MarkUp() { up_ = true; }

  struct Out {
    lcdtest::Result r;
    std::vector<std::string> argv;
    std::string why() const { return Output(argv, r); }
  };
  Out Run(const std::vector<std::string>& args, std::chrono::seconds timeout = 120s) {
    Out o;
    o.argv = {kCompose, "--ansi", "never", "-p", project_, "-f", file_};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    std::vector<std::string> env = {"LCD_TEST_BUSYBOX=" + Busybox(),
                                    "LCD_TEST_WEB_PORT=" + std::to_string(port_)};
    o.r = lcdtest::Collect(lcdtest::Spawn(o.argv, nullptr, env), timeout);
    return o;
  }

 private:
  std::string project_;
  std::string file_;
  int port_;
  bool up_ = false;
};

// The ids (`-q`) of `docker <kind> ls` for objects with the project's label.
std::string Labelled(const std::string& kind, const std::string& project) {
  std::vector<std::string> args;
  if (kind == "container")
    args = {"ps", "-a", "-q"};
  else
    args = {kind, "ls", "-q"};
  args.insert(args.end(), {"--filter", "label=com.docker.compose.project=" + project});
  auto r = D(args);
  EXPECT_EQ(r.code, 0) << r.why();
  return Trim(r.out);
}

TEST_F(EngineClientTest, ComposeUpServesByNameAndDownLeavesNothing) {
  ASSERT_TRUE(fs::exists(SourceDir() / "compose" / "docker-compose.yml"))
      << SourceDir() << " not found: engine_tests must run on the machine it was built on";
  ASSERT_EQ(Missing({kCompose, "version"}, "docker-compose"), "");

  Compose c;
  ASSERT_GT(c.port(), 0);
  const std::string& p = c.project();
  c.MarkUp();
  auto up = c.Run({"up", "-d"}, 180s);
  ASSERT_EQ(up.r.code, 0) << up.why();

  // The client fetched the web service's file by name and exited 0.
  auto id = c.Run({"ps", "-q", "client"});
  ASSERT_EQ(id.r.code, 0) << id.why();
  std::string client_id = Trim(id.r.out);
  ASSERT_FALSE(client_id.empty()) << id.why();
  auto wait = D({"wait", client_id}, 60s);
  ASSERT_EQ(wait.code, 0) << wait.why();
  auto logs = c.Run({"logs", "--no-color", "client"});
  ASSERT_EQ(logs.r.code, 0) << logs.why();
  EXPECT_TRUE(Contains(logs.r.out, "hello-from-web")) << logs.why();
  EXPECT_EQ(Trim(wait.out), "0") << logs.why();

  auto ps = c.Run({"ps"});
  ASSERT_EQ(ps.r.code, 0) << ps.why();
  EXPECT_TRUE(Contains(ps.r.out, p + "_web_1")) << ps.why();
  EXPECT_TRUE(Contains(ps.r.out, p + "_client_1")) << ps.why();
  EXPECT_TRUE(Contains(ps.r.out, "Exit 0")) << ps.why();
  EXPECT_TRUE(Contains(ps.r.out, "127.0.0.1:" + std::to_string(c.port()) + "->80/tcp")) << ps.why();

  // The published port answers on the host's loopback.
  std::string answer;
  bool served = WaitFor(
      [&] {
        answer = HttpTcp(c.port(), "GET /index.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        return HttpStatus(answer) == 200;
      },
      10s);
  ASSERT_TRUE(served) << "GET http://127.0.0.1:" << c.port() << "/index.html: " << answer;
  EXPECT_EQ(HttpBody(answer), "hello-from-web\n");

  // What compose made carries the project's label.
  EXPECT_EQ(Lines(Labelled("container", p)).size(), 2u);
  EXPECT_EQ(Labelled("volume", p), p + "_www");
  auto net = D({"network", "ls", "--format", "{{.Name}}", "--filter",
                "label=com.docker.compose.project=" + p});
  EXPECT_EQ(Trim(net.out), p + "_default") << net.why();

  auto down = c.Run({"down", "-v"}, 120s);
  ASSERT_EQ(down.r.code, 0) << down.why();
  EXPECT_EQ(Labelled("container", p), "");
  EXPECT_EQ(Labelled("volume", p), "");
  EXPECT_EQ(Labelled("network", p), "");
  EXPECT_EQ(HttpTcp(c.port(), "GET / HTTP/1.0\r\n\r\n", 1s), "") << "the port is still published";
}

}  // namespace
