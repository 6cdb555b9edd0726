// A Client made while containerd is down (ClientOptions::lazy_connect): made at once, its calls
// fail kUnavailable naming the address until the daemon serves; once it does, a container runs
// and its exit reaches the Backend (the event stream subscribed when the daemon came). Without
// the option a Client still fails fast. Each test runs its own daemon (Supervisor).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/supervisor.h"
#include "recording_backend.h"
#include "test_util.h"

using namespace libcontainerd;
using namespace std::chrono_literals;
using lcdtest::Eventually;
using lcdtest::RecordingBackend;
using lcdtest::Scaled;

namespace {

class LazyClientFault : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = "/tmp/lcdl-" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    backend_ = std::make_shared<RecordingBackend>();
  }
  void TearDown() override {
    if (auto err = lcdtest::TearDownPrivateDaemon(client_, sup_, root_); !err.empty())
      ADD_FAILURE() << "cleanup: " << err;
  }
  // The options of a Client of the daemon this test starts (not started yet).
  ClientOptions Options(bool lazy) const {
    ClientOptions o;
    o.address = address_();
    o.ns = ns_;
    o.state_dir = root_ + "/clients";
    o.runc_root = root_ + "/runc";  // the Supervisor's runc_root()
    o.backend = backend_;
    o.lazy_connect = lazy;
    return o;
  }
  std::string address_() const { return root_ + "/containerd.sock"; }
  void StartDaemon() {
    SupervisorOptions o;
    o.root = root_;
    o.watch = false;
    sup_ = std::make_unique<Supervisor>(o);
    ASSERT_EQ(sup_->address(), address_());
    ASSERT_EQ(sup_->runc_root(), root_ + "/runc");
  }
  // The kind of what f throws; `what` gets its message.
  template <typename F>
  static ErrorKind Fails(F&& f, std::string& what) {
    try {
      f();
    } catch (const Error& e) {
      what = e.what();
      return e.kind();
    }
    what.clear();
    return lcdtest::kNoError;
  }
  static std::chrono::milliseconds Since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t);
  }

  std::string root_;
  std::string ns_ = lcdtest::UniqueId("lazy");
  std::shared_ptr<RecordingBackend> backend_;
  std::unique_ptr<Supervisor> sup_;
  std::shared_ptr<Client> client_;
};

TEST_F(LazyClientFault, MadeWhileNoDaemonRunsItServesOnceTheDaemonStartsAndDeliversAnExit) {
  auto start = std::chrono::steady_clock::now();
  ClientOptions o = Options(true);
  o.connect_timeout = Scaled(5s);
  client_ = NewContainerdClient(o);
  EXPECT_LT(Since(start), Scaled(1s)) << "a lazy NewContainerdClient waited for the daemon";
  EXPECT_TRUE(std::filesystem::is_directory(o.state_dir)) << "state_dir not created";

  // While no daemon runs: calls fail kUnavailable naming the address, at once.
  std::string what;
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(Fails([&] { client_->ListContainers(Context()); }, what), ErrorKind::kUnavailable)
      << what;
  EXPECT_NE(what.find(address_()), std::string::npos) << what;
  EXPECT_EQ(Fails([&] { client_->GetVersion(Context()); }, what), ErrorKind::kUnavailable) << what;
  EXPECT_NE(what.find(address_()), std::string::npos) << what;
  EXPECT_LT(Since(start), Scaled(2s)) << "calls waited for a daemon that is not there";

  // The daemon stays down for 20 s (not scaled: this is what lets gRPC's default channel
  // back-off, 1 s growing by 1.6x, reach gaps of 6-10 s), and every call meanwhile fails
  // kUnavailable at once.
  const auto down_until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < down_until) {
    start = std::chrono::steady_clock::now();
    EXPECT_EQ(lcdtest::KindOf([&] { client_->ListContainers(Context()); }),
              ErrorKind::kUnavailable);
    EXPECT_LT(Since(start), Scaled(2s)) << "a call waited for a daemon that is not there";
    std::this_thread::sleep_for(500ms);
  }

  // The daemon starts: calls succeed within the library's reconnect back-off (at most 1 s
  // between attempts), not gRPC's (measured with gRPC 1.51 and its defaults: about 5 s after
  // the daemon came, here), and the event stream subscribes as soon.
  StartDaemon();
  const auto up = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually(
      [&] {
        return lcdtest::KindOf([&] { client_->ListContainers(Context()); }) == lcdtest::kNoError;
      },
      Scaled(15s)))
      << "calls still fail 15 s after the daemon started";
  EXPECT_LT(Since(up), Scaled(3s)) << "the first call to succeed waited for gRPC's back-off";
  EXPECT_TRUE(client_->ListContainers(Context()).empty());

  // A container runs; its exit reaches the Backend (stream or the reconcile after subscribing).
  oci::SpecOptions so;
  so.id = "lazy1";
  so.ns = ns_;
  so.args = {"sh", "-c", "exit 7"};
  so.rootfs = lcdtest::Rootfs();
  auto c = client_->NewContainer(Context(), "lazy1", oci::DefaultSpec(so), "", {});
  auto task = c->NewTask(Context(), "", false, nullptr);
  task->Start(Context());
  ASSERT_TRUE(backend_->WaitForEvent("lazy1", EventType::kExit, 1, Scaled(30s)))
      << "the exit never reached the Backend";
  EXPECT_LT(Since(up), Scaled(6s)) << "the exit came late after the daemon started";
  for (const auto& e : backend_->For("lazy1")) {
    if (e.type == EventType::kExit) {
      EXPECT_EQ(e.info.exit_code, 7u);
    }
  }
  EXPECT_EQ(task->Delete(Context()).exit_code, 7u);
  c->Delete(Context());
  EXPECT_EQ(backend_->Count("lazy1", EventType::kExit), 1);

  // The stream is live: a second container's start and exit both arrive from it.
  so.id = "lazy2";
  so.args = {"sh", "-c", "exit 3"};
  auto c2 = client_->NewContainer(Context(), "lazy2", oci::DefaultSpec(so), "", {});
  auto task2 = c2->NewTask(Context(), "", false, nullptr);
  task2->Start(Context());
  ASSERT_TRUE(backend_->WaitForEvent("lazy2", EventType::kExit, 1, Scaled(30s)));
  EXPECT_EQ(backend_->Count("lazy2", EventType::kStart), 1) << "the stream missed the start";
  EXPECT_EQ(task2->Delete(Context()).exit_code, 3u);
  c2->Delete(Context());
}

TEST_F(LazyClientFault, MadeWhileTheDaemonServesItIsAnOrdinaryClient) {
  StartDaemon();
  client_ = NewContainerdClient(Options(true));
  EXPECT_NO_THROW(client_->GetVersion(Context()));
  oci::SpecOptions so;
  so.id = "up1";
  so.ns = ns_;
  so.args = {"sh", "-c", "exit 5"};
  so.rootfs = lcdtest::Rootfs();
  auto c = client_->NewContainer(Context(), "up1", oci::DefaultSpec(so), "", {});
  auto task = c->NewTask(Context(), "", false, nullptr);
  task->Start(Context());
  ASSERT_TRUE(backend_->WaitForEvent("up1", EventType::kExit, 1, Scaled(30s)));
  // Subscribed before NewContainerdClient returned, as without the option: the start too.
  EXPECT_EQ(backend_->Count("up1", EventType::kStart), 1);
  EXPECT_EQ(task->Delete(Context()).exit_code, 5u);
  c->Delete(Context());
}

TEST_F(LazyClientFault, DestroyedWhileStillWaitingForTheDaemonItReturnsPromptly) {
  client_ = NewContainerdClient(Options(true));
  std::this_thread::sleep_for(Scaled(300ms));  // the event reader is in its back-off
  const auto start = std::chrono::steady_clock::now();
  client_.reset();
  EXPECT_LT(Since(start), Scaled(2s));
}

TEST_F(LazyClientFault, WithoutTheOptionNoDaemonFailsFastWithUnavailableNamingTheAddress) {
  std::string what;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Fails([&] { NewContainerdClient(Options(false)); }, what), ErrorKind::kUnavailable)
      << what;
  EXPECT_NE(what.find(address_()), std::string::npos) << what;
  EXPECT_LT(Since(start), Scaled(2s));

  // A socket file nobody listens on (a crashed daemon's): kUnavailable after at most
  // connect_timeout, naming the address.
  std::filesystem::create_directories(root_);
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", address_().c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ::close(fd);  // the file stays; connecting to it is refused
  ClientOptions o = Options(false);
  o.connect_timeout = Scaled(1s);
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(Fails([&] { NewContainerdClient(o); }, what), ErrorKind::kUnavailable) << what;
  EXPECT_NE(what.find(address_()), std::string::npos) << what;
  EXPECT_LT(Since(start), o.connect_timeout + Scaled(2s));

  // The same with lazy_connect: made, and its calls fail kUnavailable naming the address.
  client_ = NewContainerdClient(Options(true));
  EXPECT_EQ(Fails([&] { client_->ListContainers(Context()); }, what), ErrorKind::kUnavailable)
      << what;
  EXPECT_NE(what.find(address_()), std::string::npos) << what;
  client_.reset();
  std::filesystem::remove(address_());
}

TEST_F(LazyClientFault, LazyStillValidatesAddressNamespaceAndStateDir) {
  ClientOptions o = Options(true);
  o.address = "relative.sock";
  EXPECT_EQ(lcdtest::KindOf([&] { NewContainerdClient(o); }), ErrorKind::kInvalidArgument);
  o = Options(true);
  o.ns = "bad/namespace";
  EXPECT_EQ(lcdtest::KindOf([&] { NewContainerdClient(o); }), ErrorKind::kInvalidArgument);
  o = Options(true);
  o.state_dir = "relative/state";
  EXPECT_EQ(lcdtest::KindOf([&] { NewContainerdClient(o); }), ErrorKind::kInvalidArgument);
  // An address that exists and is not a socket is a mistake, not a daemon still to come.
  std::filesystem::create_directories(root_);
  std::ofstream(address_()) << "not a socket";
  o = Options(true);
  EXPECT_EQ(lcdtest::KindOf([&] { NewContainerdClient(o); }), ErrorKind::kInvalidArgument);
  // Positive control: the same options with the path gone make a Client.
  std::filesystem::remove(address_());
  EXPECT_EQ(lcdtest::KindOf([&] { client_ = NewContainerdClient(o); }), lcdtest::kNoError);
  client_.reset();  // no daemon to clean up in
}

}  // namespace
