// Hostile and malformed input: each case fails with the documented ErrorKind, before anything is
// created (no container, no FIFO directory), and leaves the Client usable.
// Cases already covered elsewhere are not repeated here: "../x", "a/b", 77 chars and empty
// container ids (remote_lifecycle_test InvalidIdsAreInvalidArgumentAndCreateNothing), a missing
// rootfs (MissingRootfsIsNotFoundBeforeAnyFifo), resize 0x0 of a task (ResizeToZeroIsInvalid), exec
// id reuse (remote_exec_test ExecIdReuseWhileRunningIsAlreadyExists), exec with empty args, a
// Container of a destroyed Client, a socket path that is a regular file (ClientConnect).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/signals.h"
#include "remote/event_decode.h"
#include "test_util.h"

using namespace libcontainerd;
using lcdtest::ClientTest;
using lcdtest::ContainerdClientTest;
using lcdtest::ExecSpec;
using lcdtest::KindOf;
using lcdtest::kNoError;
using namespace std::chrono_literals;

namespace {

// Ids containerd refuses (its rule: [A-Za-z0-9]+([._-][A-Za-z0-9]+)*, at most 76 characters).
std::vector<std::string> BadIds() {
  return {std::string("a\0b", 3),
          std::string("\0", 1),
          "a b",
          " a",
          "a ",
          "..",
          ".",
          "a..b",
          "a/..",
          "/",
          "a\nb",
          "-a",
          "a-",
          "a\tb",
          "a:b",
          "a\\b",
          std::string(77, 'x'),
          std::string(200, 'y'),
          "",
          "\xc3\xa9t\xc3\xa9"};
}

int FifoDirEntries(const std::string& dir) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

}  // namespace

TEST_F(ClientTest, ContainerIdsWithNulSpacesDotsOrOver76CharactersAreInvalidArgument) {
  auto opts = Options("x", {"true"});
  auto spec = oci::DefaultSpec(opts);
  for (const auto& id : BadIds()) {
    EXPECT_EQ(KindOf([&] { client_->NewContainer(ctx_, id, spec, "", {}); }),
              ErrorKind::kInvalidArgument)
        << "NewContainer of \"" << id << "\" (" << id.size() << " bytes)";
    EXPECT_EQ(KindOf([&] { client_->LoadContainer(ctx_, id); }), ErrorKind::kInvalidArgument)
        << "LoadContainer of \"" << id << "\"";
  }
  EXPECT_EQ(KindOf([&] { client_->StatsMany(ctx_, {"ok", "a b"}); }), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(client_->ListContainers(ctx_).empty());
  // The boundary itself is accepted: 76 characters.
  std::string longest(76, 'z');
  auto o = Options(longest, {"true"});
  EXPECT_EQ(client_->NewContainer(ctx_, longest, oci::DefaultSpec(o), "", {})->ID(), longest);
}

TEST_F(ClientTest, ExecIdsWithSlashDotsNulSpacesOver76CharactersOrEmptyAreInvalidArgument) {
  auto c = Create(lcdtest::UniqueId("badexec"), {"sleep", "1000"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  // This namespace only: other tests of the same backend may run at the same time.
  int fifo_entries = FifoDirEntries(lcdtest::BackendStateDir() + "/" + ns_);
  auto ids = BadIds();
  ids.push_back("../x");
  ids.push_back("a/b");
  for (const auto& id : ids) {
    EXPECT_EQ(KindOf([&] {
                task->Exec(ctx_, id, ExecSpec({"true"}), true,
                           cio::Capture(std::make_shared<cio::Captured>()));
              }),
              ErrorKind::kInvalidArgument)
        << "Exec id \"" << id << "\" (" << id.size() << " bytes)";
  }
  EXPECT_EQ(FifoDirEntries(lcdtest::BackendStateDir() + "/" + ns_), fifo_entries)
      << "a refused exec left files";
  EXPECT_EQ(task->Pids(ctx_).size(), 1u);
  task->ForceDelete(ctx_);
}

TEST(BadSpec, MalformedSpecJsonIsInvalidArgument) {
  const std::vector<std::string> inputs = {"",
                                           "{",
                                           "[]",
                                           "null",
                                           "42",
                                           "\"spec\"",
                                           "{\"ociVersion\": 1}",
                                           "{\"process\": []}",
                                           "{\"process\": {\"args\": \"sh\"}}",
                                           "{\"process\": {\"user\": {\"uid\": -1}}}",
                                           "{\"process\": {\"user\": {\"uid\": 4294967296}}}",
                                           "{\"root\": {\"path\": 7}}",
                                           "{\"ociVersion\": \"1.0\"} trailing",
                                           "{\"a\": \"\\ud800\"}",
                                           std::string("{\"x\":\"\xff\"}"),
                                           std::string(300, '[') + std::string(300, ']'),
                                           "{\"ociVersion\": \"1.0\",}",
                                           std::string("{\"ociVersion\"\0: \"1\"}", 20)};
  for (const auto& in : inputs) {
    try {
      oci::DecodeSpec(in);
      ADD_FAILURE() << "decoded: " << in.substr(0, 80);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << in.substr(0, 80) << ": " << e.what();
      EXPECT_FALSE(e.message().empty());
    }
  }
}

TEST_F(ClientTest, SpecWithEmptyArgsEnvWithoutEqualsOrRelativeCwdIsRefusedByNewContainer) {
  struct Case {
    const char* what;
    std::function<void(oci::Spec&)> change;
    const char* path;  // the JSON path the message must name
  };
  const std::vector<Case> cases = {
      {"empty args", [](oci::Spec& s) { s.process->args.clear(); }, "process.args"},
      {"env without =", [](oci::Spec& s) { s.process->env.push_back("JUSTAKEY"); }, "process.env"},
      {"env with empty key", [](oci::Spec& s) { s.process->env.push_back("=v"); }, "process.env"},
      {"relative cwd", [](oci::Spec& s) { s.process->cwd = "tmp"; }, "process.cwd"},
      {"empty cwd", [](oci::Spec& s) { s.process->cwd = ""; }, "process.cwd"},
      {"memory limit -5",
       [](oci::Spec& s) { s.linux->resources.emplace().memory.emplace().limit = -5; },
       "memory.limit"},
  };
  for (const auto& c : cases) {
    std::string id = lcdtest::UniqueId("badspec");
    auto spec = oci::DefaultSpec(Options(id, {"true"}));
    c.change(spec);
    try {
      client_->NewContainer(ctx_, id, spec, "", {});
      ADD_FAILURE() << c.what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << c.what << ": " << e.what();
      EXPECT_NE(e.message().find(c.path), std::string::npos) << c.what << ": " << e.what();
    }
  }
  EXPECT_TRUE(client_->ListContainers(ctx_).empty());
}

TEST_F(ClientTest, ExecWithEnvWithoutEqualsOrRelativeCwdIsInvalidArgument) {
  auto c = Create(lcdtest::UniqueId("badexecspec"), {"sleep", "1000"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  auto env = ExecSpec({"true"});
  env.env.push_back("NOEQUALS");
  EXPECT_EQ(KindOf([&] { task->Exec(ctx_, "env", env, false, nullptr); }),
            ErrorKind::kInvalidArgument);
  auto cwd = ExecSpec({"true"});
  cwd.cwd = "relative/dir";
  EXPECT_EQ(KindOf([&] { task->Exec(ctx_, "cwd", cwd, false, nullptr); }),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(task->Pids(ctx_).size(), 1u);
  task->ForceDelete(ctx_);
}

TEST_F(ClientTest, NegativeOrAbsurdResourcesAreInvalidArgumentAndLeaveTheTaskRunning) {
  auto c = Create(lcdtest::UniqueId("badres"), {"sleep", "1000"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  std::vector<std::pair<const char*, Resources>> cases;
  {
    Resources r;
    r.memory.emplace().limit = -5;
    cases.emplace_back("memory limit -5", r);
  }
  {
    Resources r;
    r.cpu.emplace().shares = uint64_t{1} << 40;
    cases.emplace_back("cpu shares 1<<40", r);
  }
  {
    Resources r;
    r.cpu.emplace().quota = -7;
    cases.emplace_back("cpu quota -7", r);
  }
  {
    Resources r;
    r.cpu.emplace().period = uint64_t{1} << 62;
    cases.emplace_back("cpu period 1<<62", r);
  }
  {
    Resources r;
    r.memory.emplace().swappiness = 1000;
    cases.emplace_back("swappiness 1000", r);
  }
  {
    Resources r;
    r.cpu.emplace().cpus = "0-3;rm -rf /";
    cases.emplace_back("cpuset with shell text", r);
  }
  for (const auto& c : cases)
    EXPECT_EQ(KindOf([&] { task->UpdateResources(ctx_, c.second); }), ErrorKind::kInvalidArgument)
        << c.first;
  EXPECT_EQ(task->GetStatus(ctx_), Status::kRunning);
  task->ForceDelete(ctx_);
}

TEST(BadSignal, UnknownSignalNamesAreInvalidArgument) {
  for (std::string s : std::vector<std::string>{
           "", "SIG", "SIGFOO", "KILLL", "0", "-9", "65", "999", "SIGRTMIN+99", "RTMAX-40", "9x",
           " 9", "SIGKILL ", std::string("KILL\0", 5), "99999999999999999999"}) {
    EXPECT_EQ(KindOf([&] { oci::ParseSignal(s); }), ErrorKind::kInvalidArgument)
        << "\"" << s << "\"";
  }
  EXPECT_EQ(oci::ParseSignal("kill"), SIGKILL);  // the valid spellings still parse
  EXPECT_EQ(oci::ParseSignal("64"), 64);
}

TEST_F(ClientTest, KillWithSignalZeroNegativeOr999IsInvalidArgumentAndTheTaskKeepsRunning) {
  auto c = Create(lcdtest::UniqueId("badsig"), {"sleep", "1000"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  auto exec = task->Exec(ctx_, "e", ExecSpec({"sleep", "1000"}), false, nullptr);
  for (int sig : {0, -1, 65, 999, 1 << 30}) {
    EXPECT_EQ(KindOf([&] { task->Kill(ctx_, sig); }), ErrorKind::kInvalidArgument) << sig;
    EXPECT_EQ(KindOf([&] { exec->Kill(ctx_, sig); }), ErrorKind::kInvalidArgument)
        << "exec " << sig;
  }
  EXPECT_EQ(task->GetStatus(ctx_), Status::kRunning);
  EXPECT_EQ(task->Pids(ctx_).size(), 2u);
  task->ForceDelete(ctx_);
}

TEST_F(ClientTest, ResizeOfAnExecToZeroWidthOrHeightIsInvalidArgument) {
  auto c = Create(lcdtest::UniqueId("rzexec"), {"sleep", "1000"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  // The exec prints its terminal's size once told to: the valid resize shows, the refused
  // ones after it change nothing.
  auto p = ExecSpec({"sh", "-c", "read x; stty size"});
  p.terminal = true;
  auto cap = std::make_shared<cio::Captured>();
  auto exec = task->Exec(ctx_, "tty", p, true, cio::Capture(cap));
  exec->Resize(ctx_, 91, 33);
  EXPECT_EQ(KindOf([&] { exec->Resize(ctx_, 0, 0); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf([&] { exec->Resize(ctx_, 0, 24); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf([&] { exec->Resize(ctx_, 80, 0); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf([&] { task->Resize(ctx_, 80, 0); }), ErrorKind::kInvalidArgument);
  cap->fifos->WriteStdin("go\n");
  EXPECT_EQ(exec->Wait(Context::WithTimeout(lcdtest::Scaled(std::chrono::seconds(20)))).exit_code,
            0u);
  exec->Delete(ctx_);  // waits for the output copier: the captured text is complete after it
  EXPECT_NE(cap->Out().find("33 91\r\n"), std::string::npos) << cap->Out();
  task->ForceDelete(ctx_);
}

TEST_F(ClientTest, ExecIdReuseWhileRunningIsAlreadyExistsAndTheFirstExecIsUntouched) {
  auto c = Create(lcdtest::UniqueId("reuse"), {"sleep", "1000"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  auto first = task->Exec(ctx_, "same", ExecSpec({"sleep", "1000"}), false, nullptr);
  // Another Client (another process, say) asks for the same exec id.
  auto other = lcdtest::NewTestClient(ns_);
  auto task2 = other->LoadContainer(ctx_, c->ID())->GetTask(ctx_);
  EXPECT_EQ(KindOf([&] { task2->Exec(ctx_, "same", ExecSpec({"true"}), false, nullptr); }),
            ErrorKind::kAlreadyExists);
  EXPECT_TRUE(lcdtest::PidAlive(first->Pid()));
  first->Kill(ctx_, SIGKILL);
  EXPECT_EQ(first->Wait(ctx_).exit_code, 137u);
  first->Delete(ctx_);
  task->ForceDelete(ctx_);
}

TEST_F(ClientTest, TaskAndExecAfterDeleteAreNotFound) {
  auto c = Create(lcdtest::UniqueId("deleted"), {"sleep", "1000"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  auto exec = task->Exec(ctx_, "gone", ExecSpec({"true"}), false, nullptr);
  exec->Wait(ctx_);
  exec->Delete(ctx_);
  EXPECT_EQ(KindOf([&] { exec->Kill(ctx_, SIGTERM); }), ErrorKind::kNotFound) << "exec Kill";
  EXPECT_EQ(KindOf([&] { exec->Wait(ctx_); }), ErrorKind::kNotFound) << "exec Wait";
  EXPECT_EQ(KindOf([&] { exec->Delete(ctx_); }), ErrorKind::kNotFound) << "exec Delete";
  task->Kill(ctx_, SIGKILL);
  task->Wait(ctx_);
  task->Delete(ctx_);
  EXPECT_EQ(KindOf([&] { task->Start(ctx_); }), ErrorKind::kNotFound) << "Start";
  EXPECT_EQ(KindOf([&] { task->Kill(ctx_, SIGTERM); }), ErrorKind::kNotFound) << "Kill";
  EXPECT_EQ(KindOf([&] { task->GetStatus(ctx_); }), ErrorKind::kNotFound) << "GetStatus";
  EXPECT_EQ(KindOf([&] { task->Pids(ctx_); }), ErrorKind::kNotFound) << "Pids";
  EXPECT_EQ(KindOf([&] { task->Pause(ctx_); }), ErrorKind::kNotFound) << "Pause";
  EXPECT_EQ(KindOf([&] { task->Wait(ctx_); }), ErrorKind::kNotFound) << "Wait";
  EXPECT_EQ(KindOf([&] { task->Delete(ctx_); }), ErrorKind::kNotFound) << "Delete";
  EXPECT_EQ(KindOf([&] { task->Exec(ctx_, "late", ExecSpec({"true"}), false, nullptr); }),
            ErrorKind::kNotFound)
      << "Exec";
  EXPECT_EQ(KindOf([&] { c->GetTask(ctx_); }), ErrorKind::kNotFound) << "GetTask";
}

TEST_F(ClientTest, ContainerAfterDeleteIsNotFound) {
  auto c = Create(lcdtest::UniqueId("cdeleted"), {"true"});
  c->Delete(ctx_);
  EXPECT_EQ(KindOf([&] { c->Spec(ctx_); }), ErrorKind::kNotFound) << "Spec";
  EXPECT_EQ(KindOf([&] { c->Labels(ctx_); }), ErrorKind::kNotFound) << "Labels";
  EXPECT_EQ(KindOf([&] { c->GetTask(ctx_); }), ErrorKind::kNotFound) << "GetTask";
  EXPECT_EQ(KindOf([&] { c->NewTask(ctx_, "", false, nullptr); }), ErrorKind::kNotFound)
      << "NewTask";
  EXPECT_EQ(KindOf([&] { c->Delete(ctx_); }), ErrorKind::kNotFound) << "Delete";
  EXPECT_EQ(KindOf([&] { client_->LoadContainer(ctx_, c->ID()); }), ErrorKind::kNotFound);
}

TEST_F(ClientTest, TaskAndExecOfADestroyedClientFailUnavailableClientClosed) {
  auto c = Create(lcdtest::UniqueId("closedtask"), {"sleep", "1000"});
  auto other = lcdtest::NewTestClient(ns_);
  auto task = other->LoadContainer(ctx_, c->ID())->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  auto exec = task->Exec(ctx_, "e", ExecSpec({"sleep", "1000"}), false, nullptr);
  other.reset();
  std::vector<std::pair<const char*, std::function<void()>>> calls = {
      {"Task.GetStatus", [&] { task->GetStatus(ctx_); }},
      {"Task.Kill", [&] { task->Kill(ctx_, SIGTERM); }},
      {"Task.Pids", [&] { task->Pids(ctx_); }},
      {"Task.Exec", [&] { task->Exec(ctx_, "e2", ExecSpec({"true"}), false, nullptr); }},
      {"Task.Delete", [&] { task->Delete(ctx_); }},
      {"Exec.Kill", [&] { exec->Kill(ctx_, SIGTERM); }},
      {"Exec.Wait", [&] { exec->Wait(ctx_); }},
  };
  for (const auto& [what, call] : calls) {
    try {
      call();
      ADD_FAILURE() << what << " succeeded on a closed client";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnavailable) << what << ": " << e.what();
      EXPECT_NE(e.message().find("client closed"), std::string::npos) << what << ": " << e.what();
    }
  }
  // The task itself was not harmed: this test's client can still clean it up.
  EXPECT_TRUE(lcdtest::PidAlive(task->Pid()));
  client_->LoadContainer(ctx_, c->ID())->GetTask(ctx_)->ForceDelete(ctx_);
}

TEST(ClientConnect, ADaemonThatAcceptsButNeverAnswersFailsWithinTheConnectTimeout) {
  std::string path = "/tmp/lcd-mute-" + std::to_string(getpid()) + ".sock";
  ::unlink(path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);  // connections complete in the kernel; nobody ever reads
  auto o = lcdtest::TestClientOptions("mute");
  o.address = path;
  o.connect_timeout = 1s;
  auto t0 = std::chrono::steady_clock::now();
  ErrorKind kind = KindOf([&] { NewContainerdClient(o); });
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(kind == ErrorKind::kUnavailable || kind == ErrorKind::kDeadlineExceeded)
      << "kind " << static_cast<int>(kind);
  EXPECT_LT(took, lcdtest::Scaled(2500ms))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_GE(took, 900ms) << "gave up before the connect timeout";
  ::close(fd);
  ::unlink(path.c_str());
}

TEST(ClientConnect, SocketPathThatIsADirectoryOrTooLongIsRefused) {
  std::string dir = "/tmp/lcd-dir-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  auto o = lcdtest::TestClientOptions("x");
  o.address = dir;
  o.connect_timeout = 1s;
  EXPECT_EQ(KindOf([&] { NewContainerdClient(o); }), ErrorKind::kUnavailable);
  o.address = "/tmp/" + std::string(200, 's') + ".sock";
  ErrorKind k = KindOf([&] { NewContainerdClient(o); });
  EXPECT_TRUE(k == ErrorKind::kInvalidArgument || k == ErrorKind::kUnavailable)
      << static_cast<int>(k);
  o.address = "relative.sock";
  EXPECT_EQ(KindOf([&] { NewContainerdClient(o); }), ErrorKind::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

// protobuf's own complaints (here: invalid UTF-8 in a string field, as a broken daemon or shim
// could send) go to the library's log sink once a Client exists, not to the process's stderr.
TEST_F(ContainerdClientTest, ProtobufComplaintsReachTheLogSinkNotStderr) {
  std::vector<std::string> seen;
  std::mutex mu;
  SetLogSink([&](LogLevel, std::string_view m) {
    std::lock_guard l(mu);
    seen.emplace_back(m);
  });
  struct Reset {
    ~Reset() { SetLogSink(nullptr); }
  } reset;
  const std::string bytes = "\x0a\x01\xff";  // TaskExit.container_id = "\xff"
  EXPECT_EQ(
      KindOf([&] { remote::DecodeEnvelope("/tasks/exit", "containerd.events.TaskExit", bytes); }),
      ErrorKind::kInvalidArgument);
  std::lock_guard l(mu);
  bool routed = false;
  for (const auto& m : seen)
    routed |= m.rfind("protobuf (", 0) == 0 && m.find("UTF-8") != std::string::npos;
  EXPECT_TRUE(routed) << "protobuf's UTF-8 complaint did not reach the sink (" << seen.size()
                      << " messages)";
}
