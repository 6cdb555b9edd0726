// The library's own sync events (subscription confirmation, barriers) stay out of the user's
// namespaces: `ctr events` beside a Client, filtered on the Client's namespace as moby's own
// subscription is, sees the task events of that namespace and none of the library's; an
// unfiltered `ctr events` (which receives every event containerd 1.6 publishes, whatever its
// namespace) sees none in the user's namespace and decodes all of them (no warning).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "client_fixture.h"
#include "harness.h"
#include "recording_backend.h"
#include "run_program.h"
#include "test_util.h"

using namespace libcontainerd;
using namespace std::chrono_literals;

namespace {

// `ctr events [filters]`, read as it goes.
class CtrEvents {
 public:
  explicit CtrEvents(const std::vector<std::string>& filters) {
    std::vector<std::string> argv{"ctr", "-a", lcdtest::DaemonAddress(), "events"};
    argv.insert(argv.end(), filters.begin(), filters.end());
    sp_ = lcdtest::Spawn(argv, nullptr, {});
    if (sp_.out >= 0) fcntl(sp_.out, F_SETFL, fcntl(sp_.out, F_GETFL) | O_NONBLOCK);
  }
  ~CtrEvents() { Stop(); }
  // Reads what ctr printed until `needle` is in it or timeout; true when found.
  bool WaitFor(const std::string& needle, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (out_.find(needle) != std::string::npos) return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0 || sp_.out < 0) return false;
      pollfd p{sp_.out, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 100))) > 0) {
        char buf[4096];
        ssize_t n = read(sp_.out, buf, sizeof buf);
        if (n > 0) out_.append(buf, static_cast<size_t>(n));
        if (n == 0) return out_.find(needle) != std::string::npos;  // ctr ended
      }
    }
  }
  // Stops ctr and returns everything it printed (stdout, then stderr).
  std::string Stop() {
    if (sp_.pid > 0) {
      kill(sp_.pid, SIGTERM);
      auto r = lcdtest::Collect(sp_, std::chrono::seconds(10));
      out_ += r.out;
      err_ = r.err;
      sp_ = {};
    }
    return out_ + err_;
  }
  const std::string& out() const { return out_; }

 private:
  lcdtest::Spawned sp_;
  std::string out_, err_;
};

}  // namespace

class EventsIsolation : public lcdtest::ClientTest {};

TEST_F(EventsIsolation, CtrEventsBesideAClientSeesItsTaskEventsButNoneOfTheLibrarysOwn) {
  CtrEvents scoped({"namespace==" + ns_});
  CtrEvents all(std::vector<std::string>{});
  // containerd registers ctr's subscription a little after it starts: make a marker event (a
  // container created in this test's namespace) until both show it.
  std::string marker = lcdtest::UniqueId("marker");
  auto mc = Create(marker, {"true"});
  auto both_saw = [&] {
    return scoped.WaitFor(marker, lcdtest::Scaled(500ms)) &&
           all.WaitFor(marker, lcdtest::Scaled(500ms));
  };
  bool seen = both_saw();
  for (int i = 0; !seen && i < 40; ++i) {
    mc->Delete(ctx_);
    mc = Create(marker, {"true"});
    seen = both_saw();
  }
  ASSERT_TRUE(seen) << "ctr events never showed /containers/create of " << marker << ":\n"
                    << scoped.Stop() << "\n---\n"
                    << all.Stop();
  mc->Delete(ctx_);

  // A Client with a Backend confirms its subscription with a sync event; a task's exit held
  // by a Delete waits for a barrier (another sync event) when the stream has not shown it.
  auto backend = std::make_shared<lcdtest::RecordingBackend>();
  auto o = lcdtest::TestClientOptions(ns_);
  o.backend = backend;
  auto client = NewContainerdClient(o);
  std::string id = lcdtest::UniqueId("iso");
  auto c =
      client->NewContainer(ctx_, id, oci::DefaultSpec(Options(id, {"sh", "-c", "exit 5"})), "", {});
  auto t = c->NewTask(ctx_, "", false, nullptr);
  t->Start(ctx_);
  t->Wait(ctx_);
  ASSERT_TRUE(backend->WaitForEvent(id, EventType::kExit, 1, lcdtest::Scaled(10s)));
  t->Delete(ctx_);
  c->Delete(ctx_);
  // Positive control: both see this namespace's task events (the exit, then the delete).
  EXPECT_TRUE(scoped.WaitFor("/tasks/delete", lcdtest::Scaled(10s))) << scoped.Stop();
  EXPECT_TRUE(all.WaitFor("/tasks/delete", lcdtest::Scaled(10s))) << all.Stop();
  client.reset();
  const std::string in_ns = scoped.Stop(), everything = all.Stop();
  EXPECT_NE(in_ns.find("/tasks/exit"), std::string::npos) << in_ns;
  EXPECT_EQ(in_ns.find("libcontainerd"), std::string::npos)
      << "a subscriber of the user's namespace saw the library's own events:\n"
      << in_ns;
  EXPECT_EQ(in_ns.find("cannot unmarshal"), std::string::npos) << in_ns;
  EXPECT_EQ(everything.find("cannot unmarshal"), std::string::npos)
      << "ctr could not decode an event:\n"
      << everything;
  std::istringstream lines(everything);
  for (std::string line; std::getline(lines, line);)
    EXPECT_FALSE(line.find(" " + ns_ + " ") != std::string::npos &&
                 line.find("/libcontainerd") != std::string::npos)
        << "a library event in the user's namespace: " << line;
}
