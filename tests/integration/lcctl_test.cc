// Drives the built lcctl binary end to end: against the fixture's containerd (-a, a namespace
// of this test process) and through its own managed containerd (--root). Every command and
// flag of issue 7, the exit-code conventions, bad input, and interplay with ctr.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "run_program.h"
#include "test_util.h"

using namespace std::chrono_literals;

#ifndef LCCTL_PATH
#error "LCCTL_PATH must name the lcctl binary"
#endif

extern char** environ;

namespace {

using lcdtest::Collect;
using lcdtest::Describe;
using lcdtest::Exec;
using lcdtest::Result;
using lcdtest::Spawn;
using lcdtest::Spawned;

class Lcctl : public ::testing::Test {
 protected:
  std::string ns_ = "lcctl-" + std::to_string(getpid());

  std::vector<std::string> Base() const {
    return {LCCTL_PATH, "-a", lcdtest::DaemonAddress(), "-n", ns_};
  }
  Result Run(std::vector<std::string> args, const std::string* input = nullptr) {
    auto argv = Base();
    argv.insert(argv.end(), args.begin(), args.end());
    return Exec(argv, input);
  }
  // Runs and expects exit 0.
  Result Ok(std::vector<std::string> args, const std::string* input = nullptr) {
    auto argv = Base();
    argv.insert(argv.end(), args.begin(), args.end());
    Result r = Exec(argv, input);
    EXPECT_EQ(r.code, 0) << Describe(argv, r);
    return r;
  }
  // Expects exit `code` and exactly one line on stderr starting "lcctl: ".
  Result Fails(int code, std::vector<std::string> args) {
    auto argv = Base();
    argv.insert(argv.end(), args.begin(), args.end());
    Result r = Exec(argv);
    EXPECT_EQ(r.code, code) << Describe(argv, r);
    EXPECT_EQ(r.err.rfind("lcctl: ", 0), 0u) << Describe(argv, r);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << Describe(argv, r);
    return r;
  }
  std::vector<std::string> ContainerIds() {
    Result r = Ok({"container", "ls", "-q"});
    std::vector<std::string> ids;
    std::string line;
    for (char c : r.out) {
      if (c == '\n') {
        ids.push_back(line);
        line.clear();
      } else {
        line += c;
      }
    }
    return ids;
  }
  bool Listed(const std::string& id) {
    auto ids = ContainerIds();
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  }
  std::string Id(const char* p) { return lcdtest::UniqueId(p); }
  void Cleanup(const std::string& id) { Run({"container", "rm", "-f", id}); }
  nlohmann::json Json(const Result& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  void SetUp() override { lcdtest::Rootfs(); }
};

TEST_F(Lcctl, VersionPrintsClientAndServerAndJsonParses) {
  Result r = Ok({"version"});
  EXPECT_NE(r.out.find("Client:"), std::string::npos);
  EXPECT_NE(r.out.find("Server:"), std::string::npos);
  auto j = Json(Ok({"version", "--json"}));
  EXPECT_FALSE(j["server"]["version"].get<std::string>().empty());
  Result v = Exec({LCCTL_PATH, "--version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out.rfind("lcctl version ", 0), 0u) << v.out;
}

TEST_F(Lcctl, HelpEverywhereHasAnExample) {
  Result top = Exec({LCCTL_PATH, "--help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.out.find("Commands:"), std::string::npos);
  for (std::vector<std::string> cmd : {std::vector<std::string>{"version"},
                                       {"daemon", "start"},
                                       {"daemon", "stop"},
                                       {"daemon", "status"},
                                       {"run"},
                                       {"container", "create"},
                                       {"container", "ls"},
                                       {"container", "info"},
                                       {"container", "rm"},
                                       {"task", "start"},
                                       {"task", "attach"},
                                       {"task", "ls"},
                                       {"task", "status"},
                                       {"task", "ps"},
                                       {"task", "pause"},
                                       {"task", "resume"},
                                       {"task", "kill"},
                                       {"task", "exec"},
                                       {"task", "metrics"},
                                       {"task", "update"},
                                       {"task", "resize"},
                                       {"task", "checkpoint"},
                                       {"task", "delete"},
                                       {"events"},
                                       {"stats"}}) {
    std::vector<std::string> argv{LCCTL_PATH};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    argv.push_back("--help");
    Result r = Exec(argv);
    EXPECT_EQ(r.code, 0) << Describe(argv, r);
    EXPECT_NE(r.out.find("Example:\n  lcctl "), std::string::npos) << Describe(argv, r);
    EXPECT_NE(r.out.find("Usage: lcctl"), std::string::npos) << Describe(argv, r);
  }
  EXPECT_EQ(Exec({LCCTL_PATH, "task", "--help"}).code, 0);
}

TEST_F(Lcctl, RunForegroundPrintsOutputAndExitCodePassesThrough) {
  Result r = Ok({"run", "--rm", Id("echo"), "echo", "hello", "world"});
  EXPECT_EQ(r.out, "hello world\n");
  auto argv = Base();
  argv.insert(argv.end(),
              {"run", "--rm", Id("exit7"), "sh", "-c", "echo out; echo err >&2; exit 7"});
  r = Exec(argv);
  EXPECT_EQ(r.code, 7) << Describe(argv, r);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST_F(Lcctl, RunForwardsSignalsToTheContainer) {
  auto argv = Base();
  argv.insert(argv.end(),
              {"run", "--rm", Id("sig"), "sh", "-c",
               "trap 'echo got-term; exit 9' TERM; trap 'echo got-usr1' USR1; echo ready; "
               "while true; do sleep 0.1; done"});
  Spawned sp = Spawn(argv, nullptr, {});
  // Wait for "ready" before signalling (the trap is installed by then).
  std::string seen;
  ASSERT_TRUE(lcdtest::ReadUntil(sp.out, "ready\n", seen, lcdtest::Scaled(10s))) << seen;
  kill(sp.pid, SIGUSR1);
  // Handshake: the USR1 trap ran before TERM is sent (two signals could otherwise coalesce).
  ASSERT_TRUE(lcdtest::ReadUntil(sp.out, "got-usr1\n", seen, lcdtest::Scaled(10s))) << seen;
  kill(sp.pid, SIGTERM);
  Result r = Collect(sp, std::chrono::duration_cast<std::chrono::seconds>(lcdtest::Scaled(20s)));
  EXPECT_EQ(r.code, 9) << r.err;
  EXPECT_EQ(seen + r.out, "ready\ngot-usr1\ngot-term\n");
}

TEST_F(Lcctl, RunRmLeavesNothing) {
  std::string id = Id("rm");
  Ok({"run", "--rm", id, "true"});
  EXPECT_FALSE(Listed(id));
  EXPECT_EQ(Ok({"task", "ls", "-q"}).out.find(id), std::string::npos);
  // Without --rm the container stays (its task is deleted).
  std::string keep = Id("keep");
  Ok({"run", keep, "true"});
  EXPECT_TRUE(Listed(keep));
  Ok({"container", "rm", keep});
  EXPECT_FALSE(Listed(keep));
}

TEST_F(Lcctl, MissingCommandExits127AndRemovesTheContainer) {
  std::string id = Id("nf");
  Result r = Fails(127, {"run", id, "/no/such/binary"});
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
  EXPECT_FALSE(Listed(id));
}

TEST_F(Lcctl, NonExecutableCommandExits126AndRemovesTheContainer) {
  std::string id = Id("nx");
  Fails(126, {"run", "--rm", id, "/etc/passwd"});
  EXPECT_FALSE(Listed(id));
}

TEST_F(Lcctl, StdinIsPipedWithInteractive) {
  std::string in = "hi\n";
  Result r = Ok({"run", "-i", "--rm", Id("cat"), "cat"}, &in);
  EXPECT_EQ(r.out, "hi\n");
  // Without -i the container's stdin is empty.
  r = Ok({"run", "--rm", Id("cat"), "cat"}, &in);
  EXPECT_EQ(r.out, "");
}

TEST_F(Lcctl, TtyUnderAPseudoTerminal) {
  ASSERT_EQ(access("/usr/bin/script", X_OK), 0)
      << "util-linux `script` is not installed (scripts/setup installs it; it is required)";
  std::string cmd = std::string(LCCTL_PATH) + " -a " + lcdtest::DaemonAddress() + " -n " + ns_ +
                    " run -t --rm " + Id("tty") +
                    " sh -c 'test -t 0 && test -t 1 && echo tty-yes; exit 5'";
  Result r = Exec({"script", "-qec", cmd, "/dev/null"});
  EXPECT_NE(r.out.find("tty-yes"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.code, 5) << r.out << r.err;
  // Without -t the container has no terminal even under one.
  cmd = std::string(LCCTL_PATH) + " -a " + lcdtest::DaemonAddress() + " -n " + ns_ + " run --rm " +
        Id("notty") + " sh -c 'test -t 1 || echo no-tty'";
  r = Exec({"script", "-qec", cmd, "/dev/null"});
  EXPECT_NE(r.out.find("no-tty"), std::string::npos) << r.out << r.err;
}

TEST_F(Lcctl, TtyFollowsTheTerminalSize) {
  ASSERT_EQ(access("/usr/bin/script", X_OK), 0)
      << "util-linux `script` is not installed (scripts/setup installs it; it is required)";
  // The container's terminal starts at the local size; SIGWINCH after a local resize follows.
  // Handshake through a bind-mounted directory, not sleeps: the local resize happens once the
  // container has printed its first size, and the container prints again once its size has
  // changed (or after 30 s, printing the old size and failing the test).
  std::string dir = "/tmp/lcctl-size-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string lc = std::string(LCCTL_PATH) + " -a " + lcdtest::DaemonAddress() + " -n " + ns_;
  std::string cmd =
      "stty cols 111 rows 33; " + lc + " run -t --rm --mount type=bind,src=" + dir +
      ",dst=/sync,options=rbind:rw " + Id("size") +
      " sh -c 'stty size; touch /sync/ready; i=0; while [ \"$(stty size)\" = \"33 111\" ] && "
      "[ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; stty size' & P=$!; i=0; while [ ! -e " +
      dir +
      "/ready ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; "
      "stty cols 90 rows 20; kill -WINCH $P; wait $P";
  Result r = Exec({"script", "-qec", cmd, "/dev/null"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  std::string out;
  for (char c : r.out)
    if (c != '\r') out += c;
  EXPECT_EQ(out, "33 111\n20 90\n") << r.out;
  std::filesystem::remove_all(dir);
}

TEST_F(Lcctl, RunFlagsReachTheContainer) {
  std::string host = "/tmp/lcctl-mnt-" + std::to_string(getpid());
  mkdir(host.c_str(), 0755);
  std::ofstream(host + "/f") << "from-host\n";
  std::string id = Id("flags");
  Result r = Ok({"run",
                 "--env",
                 "A=1",
                 "-e",
                 "B=two",
                 "--cwd",
                 "/tmp",
                 "--user",
                 "65534:65534",
                 "--hostname",
                 "box1",
                 "--read-only",
                 "--mount",
                 "type=bind,src=" + host + ",dst=/host,options=rbind:ro",
                 "--label",
                 "team=cli",
                 "--memory-limit",
                 "64m",
                 "--cpus",
                 "0.5",
                 "--pids-limit",
                 "50",
                 "--runtime",
                 "io.containerd.runc.v2",
                 "--runc-binary",
                 "runc",
                 id,
                 "sh",
                 "-c",
                 "echo $A $B; pwd; id -u; hostname; cat /host/f; touch /x 2>/dev/null || echo ro"});
  EXPECT_EQ(r.out, "1 two\n/tmp\n65534\nbox1\nfrom-host\nro\n");
  auto info = Json(Ok({"container", "info", id}));
  EXPECT_EQ(info["labels"]["team"], "cli");
  EXPECT_EQ(info["runtime"]["name"], "io.containerd.runc.v2");
  EXPECT_EQ(info["spec"]["linux"]["resources"]["memory"]["limit"], 64 << 20);
  EXPECT_EQ(info["spec"]["linux"]["resources"]["cpu"]["quota"], 50000);
  EXPECT_EQ(info["spec"]["linux"]["resources"]["pids"]["limit"], 50);
  EXPECT_EQ(info["spec"]["root"]["readonly"], true);
  Ok({"container", "rm", id});
  std::remove((host + "/f").c_str());
  rmdir(host.c_str());
}

TEST_F(Lcctl, DetachedRunAndEveryTaskCommand) {
  std::string id = Id("det");
  Result r = Ok({"run", "-d", id, "sleep", "300"});
  EXPECT_EQ(r.out, id + "\n");
  EXPECT_NE(Ok({"task", "ls"}).out.find(id), std::string::npos);
  auto tasks = Json(Ok({"task", "ls", "--json"}));
  bool found = false;
  for (auto& t : tasks)
    found |= t["id"] == id && t["status"] == "running" && t["pid"].get<int>() > 0;
  EXPECT_TRUE(found) << tasks.dump();
  EXPECT_EQ(Ok({"task", "status", id}).out, "running\n");
  auto cl = Json(Ok({"container", "ls", "--json"}));
  found = false;
  for (auto& c : cl) found |= c["id"] == id && c["status"] == "running";
  EXPECT_TRUE(found) << cl.dump();
  EXPECT_NE(Ok({"container", "ls"}).out.find("CONTAINER"), std::string::npos);

  Ok({"task", "pause", id});
  EXPECT_EQ(Ok({"task", "status", id}).out, "paused\n");
  Ok({"task", "resume", id});
  EXPECT_EQ(Ok({"task", "status", "--json", id}).out.find("\"running\"") != std::string::npos,
            true);

  // exec: exit code, env, cwd, user, stdin, detached, and a missing binary.
  auto argv = Base();
  argv.insert(argv.end(), {"task", "exec", "--exec-id", "e1", id, "sh", "-c", "exit 3"});
  EXPECT_EQ(Exec(argv).code, 3);
  r = Ok({"task", "exec", "--exec-id", "e2", "--env", "X=9", "--cwd", "/etc", "--user", "65534", id,
          "sh", "-c", "echo $X; pwd; id -u"});
  EXPECT_EQ(r.out, "9\n/etc\n65534\n");
  std::string in = "piped\n";
  EXPECT_EQ(Ok({"task", "exec", "-i", "--exec-id", "e3", id, "cat"}, &in).out, "piped\n");
  Ok({"task", "exec", "-d", "--exec-id", "bg1", id, "sleep", "300"});
  auto ps = Json(Ok({"task", "ps", "--json", id}));
  bool has_exec = false;
  for (auto& p : ps) has_exec |= p["exec_id"] == "bg1";
  EXPECT_TRUE(has_exec) << ps.dump();
  EXPECT_NE(Ok({"task", "ps", id}).out.find("bg1"), std::string::npos);
  Ok({"task", "kill", "-s", "KILL", "--exec-id", "bg1", id});
  Ok({"task", "delete", "-f", "--exec-id", "bg1", id});
  Fails(127, {"task", "exec", "--exec-id", "e4", id, "/nope"});
  Fails(126, {"task", "exec", "--exec-id", "e5", id, "/etc/passwd"});
  Fails(125, {"task", "exec", id, "true"});  // --exec-id missing

  // metrics and update.
  EXPECT_NE(Ok({"task", "metrics", id}).out.find(id), std::string::npos);
  Ok({"task", "update", "--memory-limit", "128m", "--cpus", "1", "--pids-limit", "100", id});
  auto m = Json(Ok({"task", "metrics", "--format", "json", id}));
  EXPECT_EQ(m["id"], id);
  EXPECT_EQ(m["cgroup"], lcdtest::CgroupV2() ? "v2" : "v1") << m.dump();
  if (m["cgroup"] == "v1") {
    EXPECT_EQ(m["metrics"]["memory"]["usage"]["limit"], 128 << 20) << m.dump();
  } else {
    EXPECT_EQ(m["metrics"]["memory"]["usage_limit"], 128 << 20) << m.dump();
  }
  EXPECT_EQ(m["metrics"]["pids"]["limit"], 100) << m.dump();
  Fails(125, {"task", "update", "--memory-limit", "lots", id});

  // delete refuses a running task; kill; rm refuses a container with a task.
  Fails(125, {"task", "delete", id});
  Fails(125, {"container", "rm", id});
  Ok({"task", "kill", id});  // SIGTERM; sleep as pid 1 ignores it
  Ok({"task", "kill", "-a", "-s", "9", id});
  lcdtest::Eventually(
      [&] {
        return Ok({"task", "status", id}).out == "stopped\n";
      },
      lcdtest::Scaled(10s));
  EXPECT_EQ(Ok({"task", "status", id}).out, "stopped\n");
  auto del = Json(Ok({"task", "delete", "--json", id}));
  EXPECT_EQ(del["exit_status"], 137);
  Fails(125, {"task", "status", id});  // no task
  Ok({"container", "rm", id});
  EXPECT_FALSE(Listed(id));
}

TEST_F(Lcctl, ContainerCreateTaskStartAttachAndForegroundStart) {
  std::string id = Id("cr");
  // The output comes after a pause, so it is written once `task attach` reads.
  const std::string script = "sleep " + lcdtest::ScaledSeconds(1) + "; echo attached-out; exit 6";
  Ok({"container", "create", id, "sh", "-c", script});
  EXPECT_TRUE(Listed(id));
  auto info = Json(Ok({"container", "info", id}));
  EXPECT_EQ(info["spec"]["process"]["args"][2], script);
  EXPECT_TRUE(info["task"].is_null());
  Ok({"task", "start", "-d", id});
  auto argv = Base();
  argv.insert(argv.end(), {"task", "attach", id});
  Result r = Exec(argv);
  EXPECT_EQ(r.code, 6) << Describe(argv, r);
  EXPECT_EQ(r.out, "attached-out\n");
  // Foreground start of the same container.
  argv = Base();
  argv.insert(argv.end(), {"task", "start", id});
  r = Exec(argv);
  EXPECT_EQ(r.code, 6) << Describe(argv, r);
  EXPECT_NE(r.out.find("attached-out"), std::string::npos);
  Ok({"container", "rm", id});
}

TEST_F(Lcctl, ResizeOfATerminalTaskAndExec) {
  std::string id = Id("rs");
  Ok({"run", "-d", "-t", id, "sleep", "300"});
  Ok({"task", "resize", id, "120", "40"});
  Ok({"task", "exec", "-d", "-t", "--exec-id", "t1", id, "sleep", "300"});
  Ok({"task", "resize", "--exec-id", "t1", id, "100", "30"});
  Fails(125, {"task", "resize", id, "0", "40"});
  Fails(125, {"task", "resize", id, "wide", "40"});
  Ok({"container", "rm", "-f", id});
}

TEST_F(Lcctl, CheckpointFailureIsOneLineError) {
  std::string id = Id("cp");
  Ok({"run", "-d", id, "sleep", "300"});
  std::string dir = "/tmp/lcctl-cp-" + std::to_string(getpid());
  Result r = Run({"task", "checkpoint", "--exit", id, dir});
  if (r.code == 0) {
    // CRIU works here: the checkpoint restores.
    Ok({"task", "delete", "-f", id});
    Ok({"task", "start", "-d", "--checkpoint", dir, id});
  } else {
    EXPECT_EQ(r.code, 125);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  Ok({"container", "rm", "-f", id});
}

TEST_F(Lcctl, StatsNoStreamListsARunningContainerWithMemory) {
  std::string id = Id("st");
  Ok({"run", "-d", id, "sleep", "300"});
  Result t = Ok({"stats", "--no-stream"});
  EXPECT_NE(t.out.find("MEM USAGE / LIMIT"), std::string::npos);
  EXPECT_NE(t.out.find(id), std::string::npos) << t.out;
  auto j = Json(Ok({"stats", "--no-stream", "--json", id}));
  ASSERT_EQ(j.size(), 1u) << j.dump();
  EXPECT_EQ(j[0]["id"], id);
  EXPECT_GT(j[0]["memory_usage"].get<uint64_t>(), 0u) << j.dump();
  EXPECT_GE(j[0]["pids"].get<uint64_t>(), 1u) << j.dump();
  Ok({"container", "rm", "-f", id});
}

TEST_F(Lcctl, BadInputGivesOneLineErrorsAndExit125) {
  Fails(125, {"frobnicate"});
  Fails(125, {"run", "--no-such-flag", "x"});
  Fails(125, {"container", "frob"});
  Fails(125, {"run"});           // missing id
  Fails(125, {"task", "kill"});  // missing id
  Fails(125, {"run", "--rm", "bad/id!", "true"});
  Result r = Fails(125, {"task", "kill", "nosuch"});
  EXPECT_EQ(r.err, "lcctl: container nosuch not found in namespace " + ns_ + "\n");
  r = Fails(125, {"container", "info", "nosuch"});
  EXPECT_NE(r.err.find("container nosuch not found"), std::string::npos);
  std::string id = Id("badroot");
  r = Fails(125, {"run", "--rm", "--rootfs", "/no/such/rootfs", id, "true"});
  EXPECT_NE(r.err.find("/no/such/rootfs"), std::string::npos);
  EXPECT_FALSE(Listed(id));
  r = Fails(125, {"run", "--rm", "--memory-limit", "lots", Id("mem"), "true"});
  EXPECT_NE(r.err.find("--memory-limit"), std::string::npos);
  Fails(125, {"run", "--rm", "--cpus", "-1", Id("cpu"), "true"});
  Fails(125, {"run", "--rm", "--pids-limit", "x", Id("pid"), "true"});
  Fails(125, {"run", "--rm", "-d", Id("rmd"), "true"});
  Fails(125, {"task", "kill", "-s", "NOTASIGNAL", "x"});
  Fails(125, {"--timeout", "soon", "version"});
  Fails(125, {"run", "--rm", "--mount", "src=/tmp", Id("mnt"), "true"});
  // A given address that does not answer.
  Result na = Exec({LCCTL_PATH, "-a", "/tmp/no-such-containerd.sock", "version"});
  EXPECT_EQ(na.code, 125);
  EXPECT_NE(na.err.find("cannot reach containerd at /tmp/no-such-containerd.sock"),
            std::string::npos)
      << na.err;
  EXPECT_EQ(std::count(na.err.begin(), na.err.end(), '\n'), 1) << na.err;
}

TEST_F(Lcctl, EnvironmentSelectsAddressAndNamespaceAndGlobalFlagsWorkAfterTheCommand) {
  std::string id = Id("env");
  Result r =
      Exec({LCCTL_PATH, "run", "--rm", id, "echo", "env-ok"}, nullptr,
           {"CONTAINERD_ADDRESS=" + lcdtest::DaemonAddress(), "CONTAINERD_NAMESPACE=" + ns_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "env-ok\n");
  r = Exec({LCCTL_PATH, "container", "ls", "--json", "--address", lcdtest::DaemonAddress(),
            "--namespace", ns_, "--timeout", "10s", "--debug"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out, nullptr, false).is_array()) << r.out;
}

TEST_F(Lcctl, InteroperatesWithCtr) {
  ASSERT_EQ(access("/usr/bin/ctr", X_OK), 0)
      << "ctr is not installed (scripts/setup installs it; it is required)";
  std::vector<std::string> ctr{"ctr", "-a", lcdtest::DaemonAddress(), "-n", ns_};
  // Made by lcctl: listed and killed by ctr.
  std::string id = Id("toctr");
  Ok({"run", "-d", id, "sleep", "300"});
  auto argv = ctr;
  argv.insert(argv.end(), {"containers", "ls", "-q"});
  Result r = Exec(argv);
  EXPECT_NE(r.out.find(id), std::string::npos) << Describe(argv, r);
  argv = ctr;
  argv.insert(argv.end(), {"tasks", "kill", "-s", "SIGKILL", id});
  r = Exec(argv);
  EXPECT_EQ(r.code, 0) << Describe(argv, r);
  lcdtest::Eventually(
      [&] {
        return Ok({"task", "status", id}).out == "stopped\n";
      },
      lcdtest::Scaled(10s));
  EXPECT_EQ(Ok({"task", "status", id}).out, "stopped\n");
  Ok({"container", "rm", "-f", id});

  // Made by ctr: inspected, exec'd into and deleted by lcctl.
  std::string cid = Id("fromctr");
  argv = ctr;
  argv.insert(argv.end(), {"run", "-d", "--rootfs", lcdtest::Rootfs(), cid, "/bin/sleep", "300"});
  r = Exec(argv);
  ASSERT_EQ(r.code, 0) << Describe(argv, r);
  auto info = Json(Ok({"container", "info", cid}));
  EXPECT_EQ(info["id"], cid);
  EXPECT_EQ(info["spec"]["process"]["args"][0], "/bin/sleep");
  EXPECT_EQ(info["task"]["status"], "running");
  EXPECT_EQ(Ok({"task", "exec", "--exec-id", "x1", cid, "/bin/echo", "inside-ctr"}).out,
            "inside-ctr\n");
  Ok({"task", "kill", "-s", "KILL", cid});
  lcdtest::Eventually(
      [&] {
        return Ok({"task", "status", cid}).out == "stopped\n";
      },
      lcdtest::Scaled(10s));
  Ok({"task", "delete", cid});
  Ok({"container", "rm", cid});
  EXPECT_FALSE(Listed(cid));
}

namespace {
// A predicate: the output has an exit event of container `id` (text or JSON line).
std::function<bool(const std::string&)> ExitLineOf(const std::string& id) {
  return [id](const std::string& got) {
    // JSON keys come sorted: exit_code (exits only) right after container.
    return got.find(" " + id + " exit ") != std::string::npos ||
           got.find("\"container\":\"" + id + "\",\"exit_code\"") != std::string::npos;
  };
}
}  // namespace

TEST_F(Lcctl, EventsShowTheLifecycleOfAContainerRunInParallel) {
  for (bool json : {false, true}) {
    auto argv = Base();
    argv.push_back("events");
    if (json) argv.push_back("--json");
    Spawned ev = Spawn(argv, nullptr, {});
    // Handshake: probe containers run until one's exit shows, so the stream is subscribed.
    std::string early;
    bool subscribed = false;
    for (int i = 0; i < 20 && !subscribed; ++i) {
      std::string probe = Id("evprobe");
      auto pargv = Base();
      pargv.insert(pargv.end(), {"run", "--rm", probe, "true"});
      EXPECT_EQ(Exec(pargv).code, 0);
      subscribed = lcdtest::ReadUntilDone(ev.out, ExitLineOf(probe), early, lcdtest::Scaled(1s));
    }
    ASSERT_TRUE(subscribed) << early;
    std::string id = Id("ev");
    auto rargv = Base();
    rargv.insert(rargv.end(), {"run", "--rm", id, "sh", "-c", "exit 3"});
    EXPECT_EQ(Exec(rargv).code, 3);
    // Handshake: the exit (the last event of a run) is out before the interrupt.
    EXPECT_TRUE(lcdtest::ReadUntilDone(ev.out, ExitLineOf(id), early, lcdtest::Scaled(10s)))
        << early;
    kill(ev.pid, SIGINT);
    Result r = Collect(ev, std::chrono::duration_cast<std::chrono::seconds>(lcdtest::Scaled(10s)));
    r.out = early + r.out;
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<std::string> types;
    std::string line;
    for (char c : r.out) {
      if (c != '\n') {
        line += c;
        continue;
      }
      if (json) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << line;
        if (!j.is_discarded() && j["container"] == id) {
          types.push_back(j["type"]);
          if (j["type"] == "exit") {
            EXPECT_EQ(j["exit_code"], 3) << line;
          }
          EXPECT_GT(j["pid"].get<int>(), 0) << line;
        }
      } else if (line.find(" " + id + " ") != std::string::npos) {
        types.push_back(
            line.substr(line.find(" " + id + " ") + id.size() + 2,
                        line.find(" process=") - line.find(" " + id + " ") - id.size() - 2));
        if (line.find(" exit ") != std::string::npos) {
          EXPECT_NE(line.find("exit_code=3"), std::string::npos) << line;
        }
      }
      line.clear();
    }
    EXPECT_EQ(types, (std::vector<std::string>{"create", "start", "exit"})) << r.out;
  }
}

// The managed containerd: started on first use under --root, left running, stopped by
// `daemon stop`.
TEST(LcctlManaged, StartsItsOwnDaemonOnFirstUseAndStopsIt) {
  lcdtest::Rootfs();
  const std::string root = "/tmp/lcdcli-" + std::to_string(getpid());
  auto lc = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{LCCTL_PATH, "--root", root};
    argv.insert(argv.end(), args.begin(), args.end());
    return Exec(argv);
  };
  Result r = lc({"daemon", "status"});
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("stopped"), std::string::npos);
  r = lc({"run", "--rm", "--rootfs", lcdtest::Rootfs(), "managed1", "echo", "managed-hi"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "managed-hi\n");
  r = lc({"daemon", "status", "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto st = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(st["serving"], true) << r.out;
  // The container ran with the daemon's private runc root.
  struct stat sb {};
  EXPECT_EQ(stat((root + "/runc").c_str(), &sb), 0);
  r = lc({"daemon", "start"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("already running"), std::string::npos) << r.out;
  r = lc({"-a", "/x.sock", "daemon", "stop"});
  EXPECT_EQ(r.code, 125);
  r = lc({"daemon", "stop"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("containerd stopped"), std::string::npos);
  EXPECT_EQ(lc({"daemon", "status"}).code, 3);
  EXPECT_EQ(lc({"daemon", "stop"}).out, "containerd was not running\n");
}

}  // namespace

// runc's options go to the runc shim only: a container of another shim is stored without any
// (containerd's own record, read with ctr), and --runc-binary with another shim is a usage error.
TEST_F(Lcctl, RuncOptionsAreForTheRuncShimOnly) {
  std::string id = Id("othershim");
  Ok({"container", "create", "--runtime", "io.example.other.v1", id, "true"});
  std::vector<std::string> argv{"ctr",  "-a", lcdtest::DaemonAddress(), "-n", ns_, "containers",
                                "info", id};
  Result r = Exec(argv);
  ASSERT_EQ(r.code, 0) << Describe(argv, r);
  auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["Runtime"]["Name"], "io.example.other.v1") << r.out;
  EXPECT_TRUE(!info["Runtime"].contains("Options") || info["Runtime"]["Options"].is_null())
      << "runc options were stored for another shim: " << r.out;
  Ok({"container", "rm", id});
  Result bad = Fails(125, {"container", "create", "--runtime", "io.example.other.v1",
                           "--runc-binary", "/x/runc", Id("othershim2"), "true"});
  EXPECT_NE(bad.err.find("--runc-binary"), std::string::npos) << bad.err;
  // The runc shim still gets them.
  std::string runc_id = Id("runcshim");
  Ok({"container", "create", "--runc-binary", "runc", runc_id, "true"});
  argv.back() = runc_id;
  r = Exec(argv);
  ASSERT_EQ(r.code, 0) << Describe(argv, r);
  EXPECT_NE(r.out.find("containerd.runc.v1.Options"), std::string::npos) << r.out;
  Ok({"container", "rm", runc_id});
}
