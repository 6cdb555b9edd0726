// The direct backend's pure parts: exit records and .delivered markers, atomic and exclusive
// writes, the container record, and the monitor protocol client against a fake monitor (a
// SEQPACKET server in a thread): replies, error kinds from the wire, a monitor gone, deadlines
// and cancellation.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "direct/monitor_client.h"
#include "direct/records.h"

namespace {
using namespace libcontainerd;
using namespace libcontainerd::direct;
using namespace std::chrono_literals;

class DirectUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lcd-direct-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (server_.joinable()) server_.join();
    std::filesystem::remove_all(dir_);
  }

  // A fake monitor on <dir>/monitor.sock answering each request with answer(request):
  // nullopt holds the request unanswered, "CLOSE" closes the connection without a reply.
  void Serve(std::function<std::optional<std::string>(const nlohmann::json&)> answer,
             int connections = 1) {
    listener_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string path = dir_ + "/monitor.sock";
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(listener_, 8), 0);
    server_ = std::thread([this, answer, connections] {
      for (int i = 0; i < connections; ++i) {
        int c = ::accept(listener_, nullptr, nullptr);
        if (c < 0) break;
        char buf[65536];
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n > 0) {
          auto reply = answer(nlohmann::json::parse(std::string(buf, n)));
          if (reply && *reply != "CLOSE") {
            ::send(c, reply->data(), reply->size(), MSG_NOSIGNAL);
          } else if (!reply) {
            char b;
            (void)!::recv(c, &b, 1, 0);  // hold the request until the client gives up
          }
        }
        ::close(c);
      }
      ::close(listener_);
    });
  }

  std::string dir_;
  int listener_ = -1;
  std::thread server_;
};

TEST_F(DirectUnitTest, ExitRecordsRoundTripAndMarkersNeedTheRecordOfThatPid) {
  ::mkdir((dir_ + "/exit").c_str(), 0700);
  EXPECT_FALSE(ReadExit(dir_, "").has_value());
  ExitRecord r{
      .pid = 42, .status = 137, .exited_at = FromUnixNanos(1700000000123456789), .error = ""};
  WriteFileAtomic(dir_ + "/exit/init", EncodeExit(r));
  auto back = ReadExit(dir_, "");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->pid, 42u);
  EXPECT_EQ(back->status, 137u);
  EXPECT_EQ(ToUnixNanos(back->exited_at), 1700000000123456789);
  EXPECT_TRUE(back->error.empty());

  MarkExitDelivered(dir_, "", 41);  // another instance's exit: no marker for this record
  EXPECT_FALSE(ExitDelivered(dir_, ""));
  MarkExitDelivered(dir_, "e1", 42);  // no record for that exec
  EXPECT_FALSE(ExitDelivered(dir_, "e1"));
  MarkExitDelivered(dir_, "", 42);
  EXPECT_TRUE(ExitDelivered(dir_, ""));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/exit/init.delivered"));
}

TEST_F(DirectUnitTest, ExclusiveWritesNeverReplaceAndLeaveNoTempFiles) {
  EXPECT_TRUE(WriteFileExclusive(dir_ + "/f", "one"));
  EXPECT_FALSE(WriteFileExclusive(dir_ + "/f", "two"));
  EXPECT_EQ(*ReadFileIfExists(dir_ + "/f"), "one");
  WriteFileAtomic(dir_ + "/f", "three");
  EXPECT_EQ(*ReadFileIfExists(dir_ + "/f"), "three");
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) n += e.exists();
  EXPECT_EQ(n, 1) << "no temp file left";
  try {
    WriteFileAtomic(dir_ + "/no/such/dir/f", "x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_ + "/no/such/dir/f"), std::string::npos) << e.what();
  }
}

TEST_F(DirectUnitTest, ContainerRecordsRoundTripAndACorruptOneNamesItsPath) {
  ContainerRecord r;
  r.id = "c1";
  r.labels = {{"k", "v"}};
  r.shim = "io.containerd.runc.v2";
  r.runtime = "/usr/sbin/runc";
  r.runtime_root = "/run/x";
  r.has_runc_options = true;
  r.runc.no_pivot_root = true;
  r.runc.root = "/run/x";
  auto back = DecodeRecord(EncodeRecord(r), "p");
  EXPECT_EQ(back.id, "c1");
  EXPECT_EQ(back.labels, r.labels);
  EXPECT_EQ(back.runc, r.runc);
  EXPECT_TRUE(back.has_runc_options);
  try {
    DecodeRecord("{not json", "/some/container.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnknown);
    EXPECT_NE(std::string(e.what()).find("/some/container.json"), std::string::npos);
  }
}

TEST_F(DirectUnitTest, WireKindsMapToErrorKinds) {
  EXPECT_EQ(KindFromWire("not_found"), ErrorKind::kNotFound);
  EXPECT_EQ(KindFromWire("already_exists"), ErrorKind::kAlreadyExists);
  EXPECT_EQ(KindFromWire("failed_precondition"), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(KindFromWire("invalid_argument"), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindFromWire("unavailable"), ErrorKind::kUnavailable);
  EXPECT_EQ(KindFromWire("deadline_exceeded"), ErrorKind::kDeadlineExceeded);
  EXPECT_EQ(KindFromWire("cancelled"), ErrorKind::kCancelled);
  EXPECT_EQ(KindFromWire("not_implemented"), ErrorKind::kNotImplemented);
  EXPECT_EQ(KindFromWire("unknown"), ErrorKind::kUnknown);
  EXPECT_EQ(KindFromWire("something new"), ErrorKind::kUnknown);
}

TEST_F(DirectUnitTest, CallReturnsTheReplyAndThrowsTheMonitorsErrorWithItsKind) {
  Serve(
      [](const nlohmann::json& req) -> std::optional<std::string> {
        if (req["op"] == "state") return R"({"ok":true,"status":"running","pid":7})";
        return R"({"ok":false,"kind":"failed_precondition","message":"cannot pause a stopped task"})";
      },
      2);
  auto r = Call(dir_, Context::WithTimeout(5s), {{"op", "state"}}, {.op = "GetStatus"});
  EXPECT_EQ(r["pid"], 7);
  try {
    Call(dir_, Context::WithTimeout(5s), {{"op", "pause"}}, {.op = "Pause", .container_id = "c"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition);
    EXPECT_EQ(e.message(), "cannot pause a stopped task");
    EXPECT_EQ(e.context().container_id, "c");
    EXPECT_FALSE(IsMonitorGone(e));
  }
}

TEST_F(DirectUnitTest, NoMonitorIsMonitorGone) {
  try {
    Call(dir_, Context::WithTimeout(5s), {{"op", "state"}}, {.op = "GetStatus"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_TRUE(IsMonitorGone(e)) << e.what();
  }
}

TEST_F(DirectUnitTest, AMonitorThatClosesWithoutReplyIsGone) {
  Serve([](const nlohmann::json&) -> std::optional<std::string> { return "CLOSE"; });
  try {
    Call(dir_, Context::WithTimeout(5s), {{"op", "wait"}}, {.op = "Wait"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
    EXPECT_TRUE(IsMonitorGone(e)) << e.what();
  }
}

TEST_F(DirectUnitTest, DeadlinesAndCancellationAbandonAPendingRequest) {
  Serve([](const nlohmann::json&) -> std::optional<std::string> { return std::nullopt; }, 2);
  auto t0 = std::chrono::steady_clock::now();
  try {
    Call(dir_, Context::WithTimeout(100ms), {{"op", "wait"}}, {.op = "Wait"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDeadlineExceeded) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  Context ctx = Context::Background();
  std::thread canceller([&] {
    std::this_thread::sleep_for(100ms);
    ctx.Cancel();
  });
  try {
    Call(dir_, ctx, {{"op", "wait"}}, {.op = "Wait"});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  }
  canceller.join();
}

}  // namespace
