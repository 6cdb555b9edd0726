// lcd-monitor's wire protocol (tools/lcd-monitor/protocol.cc) and command line (flags.cc): what
// docs/direct-backend.md fixes between the monitor and the library.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "../../tools/lcd-monitor/flags.h"
#include "../../tools/lcd-monitor/protocol.h"

namespace {

using lcdmon::ExitRecord;
using lcdmon::Kind;
using lcdmon::Request;
using nlohmann::json;

TEST(MonitorProtocol, ParsesEveryFieldOfTheTable) {
  Request r;
  std::string err;
  ASSERT_TRUE(lcdmon::ParseRequest(
      R"({"op":"exec","exec":"e1","signal":15,"all":true,"process":"/p.json","stdin":"/i","stdout":"/o",
          "stderr":"/e","terminal":true,"width":80,"height":24,"resources":"/r.json","path":"/ck",
          "exit":true,"work_path":"/w"})",
      &r, &err))
      << err;
  EXPECT_EQ(r.op, "exec");
  EXPECT_EQ(r.exec, "e1");
  EXPECT_EQ(r.signal, 15);
  EXPECT_TRUE(r.all);
  EXPECT_EQ(r.process, "/p.json");
  EXPECT_EQ(r.stdin_path, "/i");
  EXPECT_EQ(r.stdout_path, "/o");
  EXPECT_EQ(r.stderr_path, "/e");
  EXPECT_TRUE(r.terminal);
  EXPECT_EQ(r.width, 80u);
  EXPECT_EQ(r.height, 24u);
  EXPECT_EQ(r.resources, "/r.json");
  EXPECT_EQ(r.path, "/ck");
  EXPECT_TRUE(r.exit);
  EXPECT_EQ(r.work_path, "/w");
}

TEST(MonitorProtocol, AbsentFieldsMeanInitAndDefaults) {
  Request r;
  std::string err;
  ASSERT_TRUE(lcdmon::ParseRequest(R"({"op":"state","exec":null})", &r, &err)) << err;
  EXPECT_EQ(r.exec, "");
  EXPECT_EQ(r.signal, 0);
  EXPECT_FALSE(r.all);
  EXPECT_FALSE(r.terminal);
}

TEST(MonitorProtocol, RejectsMalformedRequestsWithAReason) {
  Request r;
  std::string err;
  EXPECT_FALSE(lcdmon::ParseRequest("not json", &r, &err));
  EXPECT_NE(err.find("JSON object"), std::string::npos);
  EXPECT_FALSE(lcdmon::ParseRequest("[1,2]", &r, &err));
  EXPECT_FALSE(lcdmon::ParseRequest(R"({"exec":"x"})", &r, &err));
  EXPECT_NE(err.find("op"), std::string::npos);
  EXPECT_FALSE(lcdmon::ParseRequest(R"({"op":"kill","signal":"KILL"})", &r, &err));
  EXPECT_NE(err.find("signal"), std::string::npos);
  EXPECT_FALSE(lcdmon::ParseRequest(R"({"op":"kill","signal":99})", &r, &err));
  EXPECT_FALSE(lcdmon::ParseRequest(R"({"op":"resize","width":-1})", &r, &err));
  EXPECT_FALSE(lcdmon::ParseRequest(R"({"op":"exec","terminal":"yes"})", &r, &err));
  EXPECT_NE(err.find("terminal"), std::string::npos);
}

TEST(MonitorProtocol, ErrorKindsAreTheSnakeCaseNamesOfErrorKind) {
  EXPECT_STREQ(lcdmon::KindName(Kind::kNotFound), "not_found");
  EXPECT_STREQ(lcdmon::KindName(Kind::kAlreadyExists), "already_exists");
  EXPECT_STREQ(lcdmon::KindName(Kind::kInvalidArgument), "invalid_argument");
  EXPECT_STREQ(lcdmon::KindName(Kind::kFailedPrecondition), "failed_precondition");
  EXPECT_STREQ(lcdmon::KindName(Kind::kUnavailable), "unavailable");
  EXPECT_STREQ(lcdmon::KindName(Kind::kDeadlineExceeded), "deadline_exceeded");
  EXPECT_STREQ(lcdmon::KindName(Kind::kCancelled), "cancelled");
  EXPECT_STREQ(lcdmon::KindName(Kind::kNotImplemented), "not_implemented");
  EXPECT_STREQ(lcdmon::KindName(Kind::kUnknown), "unknown");
}

TEST(MonitorProtocol, ErrorReplyCarriesKindAndMessageEvenWithInvalidUtf8) {
  json j = json::parse(lcdmon::ErrorReply(Kind::kNotFound, "process already finished"));
  EXPECT_EQ(j,
            json({{"ok", false}, {"kind", "not_found"}, {"message", "process already finished"}}));
  // A runtime's stderr is not always UTF-8: the reply must still be one valid JSON object.
  json k = json::parse(lcdmon::ErrorReply(Kind::kUnknown, std::string("bad \xff byte")));
  EXPECT_EQ(k["kind"], "unknown");
  EXPECT_EQ(json::parse(lcdmon::OkReply()), json({{"ok", true}}));
}

TEST(MonitorProtocol, ExitRecordRoundTripsAndTheEventNamesTheProcess) {
  ExitRecord in{42, 137, 1700000000123456789, ""};
  std::string text = lcdmon::FormatExitRecord(in);
  EXPECT_EQ(json::parse(text),
            json({{"pid", 42}, {"status", 137}, {"exited_at", 1700000000123456789}}));
  ExitRecord out;
  ASSERT_TRUE(lcdmon::ParseExitRecord(text, &out));
  EXPECT_EQ(out.pid, 42);
  EXPECT_EQ(out.status, 137);
  EXPECT_EQ(out.exited_at, 1700000000123456789);
  EXPECT_EQ(out.error, "");

  ExitRecord unknown{7, 255, 1, "the monitor died"};
  ASSERT_TRUE(lcdmon::ParseExitRecord(lcdmon::FormatExitRecord(unknown), &out));
  EXPECT_EQ(out.error, "the monitor died");

  json ev = json::parse(lcdmon::ExitEvent("e1", in));
  EXPECT_EQ(ev, json({{"event", "exit"},
                      {"exec", "e1"},
                      {"pid", 42},
                      {"status", 137},
                      {"exited_at", 1700000000123456789}}));
  EXPECT_FALSE(lcdmon::ParseExitRecord(R"({"pid":1,"status":0})", &out));  // torn/foreign
  EXPECT_FALSE(lcdmon::ParseExitRecord("", &out));
}

TEST(MonitorProtocol, ExitStatusIsTheCodeOr128PlusTheSignal) {
  pid_t a = fork();
  if (a == 0) _exit(3);
  pid_t b = fork();
  if (b == 0) {
    pause();
    _exit(0);
  }
  kill(b, SIGKILL);
  int sa = 0, sb = 0;
  ASSERT_EQ(waitpid(a, &sa, 0), a);
  ASSERT_EQ(waitpid(b, &sb, 0), b);
  EXPECT_EQ(lcdmon::ExitStatusFromWait(sa), 3);
  EXPECT_EQ(lcdmon::ExitStatusFromWait(sb), 137);
}

TEST(MonitorProtocol, NowNanosIsUnixNanoseconds) {
  int64_t now = lcdmon::NowNanos();
  EXPECT_NEAR(static_cast<double>(now / 1000000000), static_cast<double>(time(nullptr)), 2.0);
}

std::string Parse(std::vector<const char*> args, lcdmon::Options* o) {
  args.insert(args.begin(), "lcd-monitor");
  return lcdmon::ParseFlags(static_cast<int>(args.size()), args.data(), "/work", o);
}

TEST(MonitorFlags, ParsesTheDocumentedCommandLineAndMakesPathsAbsolute) {
  lcdmon::Options o;
  ASSERT_EQ(Parse({"--id",
                   "c1",
                   "--bundle",
                   "b",
                   "--task-dir",
                   "/s/t",
                   "--runtime",
                   "runc",
                   "--runtime-root",
                   "/r",
                   "--stdin",
                   "/f/in",
                   "--stdout=/f/out",
                   "--stderr",
                   "/f/err",
                   "--terminal",
                   "--runtime-arg",
                   "--systemd-cgroup",
                   "--runtime-arg",
                   "--debug",
                   "--no-pivot",
                   "--no-new-keyring",
                   "--restore",
                   "ck",
                   "--ready-fd",
                   "5",
                   "--log",
                   "l"},
                  &o),
            "");
  EXPECT_EQ(o.id, "c1");
  EXPECT_EQ(o.bundle, "/work/b");
  EXPECT_EQ(o.task_dir, "/s/t");
  EXPECT_EQ(o.runtime, "runc");  // a name stays a name: looked up in PATH
  EXPECT_EQ(o.stdout_path, "/f/out");
  EXPECT_TRUE(o.terminal);
  EXPECT_EQ(o.runtime_args, (std::vector<std::string>{"--systemd-cgroup", "--debug"}));
  EXPECT_TRUE(o.no_pivot);
  EXPECT_TRUE(o.no_new_keyring);
  EXPECT_EQ(o.restore, "/work/ck");
  EXPECT_EQ(o.ready_fd, 5);
  EXPECT_EQ(o.log, "/work/l");
  EXPECT_EQ(o.stdin_path, "/f/in");
}

TEST(MonitorFlags, NamesWhatIsMissingOrWrong) {
  lcdmon::Options o;
  EXPECT_NE(Parse({"--id", "c1"}, &o).find("--bundle"), std::string::npos);
  std::vector<const char*> base = {"--bundle",  "/b",   "--task-dir",     "/t",
                                   "--runtime", "runc", "--runtime-root", "/r"};
  auto with = [&](std::vector<const char*> extra) {
    std::vector<const char*> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return Parse(a, &o);
  };
  EXPECT_NE(with({"--id", "c1"}).find("--ready-fd"), std::string::npos);
  EXPECT_NE(with({"--id", "a/b", "--ready-fd", "3"}).find("not a valid container id"),
            std::string::npos);
  EXPECT_EQ(o.ready_fd, 3);  // a bad command line is still answered on the ready fd
  EXPECT_NE(with({"--id", "c1", "--ready-fd", "x"}).find("--ready-fd"), std::string::npos);
  EXPECT_NE(with({"--id", "c1", "--ready-fd", "3", "--bogus"}).find("unknown flag --bogus"),
            std::string::npos);
  EXPECT_NE(with({"--id", "c1", "--ready-fd"}).find("needs a value"), std::string::npos);
  EXPECT_NE(with({"--id", "c1", "--ready-fd", "3", "--terminal=1"}).find("takes no value"),
            std::string::npos);
}

TEST(MonitorFlags, IdsFollowContainerdsRule) {
  EXPECT_TRUE(lcdmon::ValidId("a"));
  EXPECT_TRUE(lcdmon::ValidId("web-1.x_y"));
  EXPECT_FALSE(lcdmon::ValidId(""));
  EXPECT_FALSE(lcdmon::ValidId("-a"));
  EXPECT_FALSE(lcdmon::ValidId("a-"));
  EXPECT_FALSE(lcdmon::ValidId("a--b"));
  EXPECT_FALSE(lcdmon::ValidId("a/b"));
  EXPECT_FALSE(lcdmon::ValidId(".."));
  EXPECT_TRUE(lcdmon::ValidId(std::string(76, 'a')));
  EXPECT_FALSE(lcdmon::ValidId(std::string(77, 'a')));
}

}  // namespace
