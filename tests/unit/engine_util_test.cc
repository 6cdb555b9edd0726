// lcd-engine's helpers (tools/lcd-engine/util.cc) and event log (tools/lcd-engine/events.cc):
// docker's time formats and filters, the Request accessors, the JSON answers and error mapping,
// the EventBus and docker's JSON form of an event.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "../../tools/lcd-engine/engine.h"
#include "../../tools/lcd-engine/events.h"
#include "../../tools/lcd-engine/http.h"
#include "libcontainerd/errors.h"

namespace {

using lcde::Event;
using lcde::EventBus;
using lcde::HttpError;
using lcde::ParseDockerTime;
using lcde::ParseFilters;
using lcde::Request;
using lcde::Rfc3339Nano;
using libcontainerd::Error;
using libcontainerd::ErrorKind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr int64_t kSec = 1000000000;

std::chrono::system_clock::time_point FromNanos(int64_t n) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(n)));
}

int64_t NowNano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The HttpError a call throws (nullopt when it throws none).
template <typename F>
std::optional<HttpError> HttpErrorOf(F&& f) {
  try {
    f();
  } catch (const HttpError& e) {
    return e;
  }
  return std::nullopt;
}

// Sets TZ for one test and restores it afterwards.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    const char* old = std::getenv("TZ");
    if (old != nullptr) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }

 private:
  std::optional<std::string> old_;
};

// A Response that records what a helper sent.
class RecordingResponse : public lcde::Response {
 public:
  void Send(int s, std::string_view ct, std::string b,
            const std::map<std::string, std::string>& h) override {
    status = s;
    content_type = std::string(ct);
    body = std::move(b);
    headers = h;
    started = true;
  }
  void BeginStream(int s, std::string_view ct) override {
    status = s;
    content_type = std::string(ct);
    started = true;
  }
  bool Write(std::string_view d) override {
    body += d;
    return true;
  }
  int Hijack(std::string_view) override { return -1; }
  long ReadHijacked(char*, size_t) override { return -1; }
  bool ClientGone() override { return false; }
  bool Started() const override { return started; }

  int status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> headers;
  bool started = false;
};

// ---- Rfc3339Nano -------------------------------------------------------------------------

TEST(EngineTime, Rfc3339NanoWritesUtcWithGoStyleFraction) {
  EXPECT_EQ(Rfc3339Nano(FromNanos(1704164645123456789)), "2024-01-02T03:04:05.123456789Z");
  // Go's RFC3339Nano drops trailing zeros, and the whole fraction when it is zero.
  EXPECT_EQ(Rfc3339Nano(FromNanos(1704164645 * kSec + 500000000)), "2024-01-02T03:04:05.5Z");
  EXPECT_EQ(Rfc3339Nano(FromNanos(1704164645 * kSec)), "2024-01-02T03:04:05Z");
  EXPECT_EQ(Rfc3339Nano(FromNanos(0)), "1970-01-01T00:00:00Z");
}

TEST(EngineTime, Rfc3339NanoHandlesTimesBeforeTheEpoch) {
  EXPECT_EQ(Rfc3339Nano(FromNanos(-1)), "1969-12-31T23:59:59.999999999Z");
}

// ---- ParseDockerTime ---------------------------------------------------------------------

TEST(EngineTime, ParsesUnixSecondsWithAndWithoutFraction) {
  EXPECT_EQ(ParseDockerTime("1700000000"), 1700000000 * kSec);
  EXPECT_EQ(ParseDockerTime("1700000000.5"), 1700000000 * kSec + 500000000);
  EXPECT_EQ(ParseDockerTime("1700000000.000000001"), 1700000000 * kSec + 1);
  EXPECT_EQ(ParseDockerTime("0"), 0);  // docker: a bare 0 is the epoch, not a duration
}

TEST(EngineTime, ParsesRfc3339WithZones) {
  EXPECT_EQ(ParseDockerTime("2024-01-02T03:04:05Z"), 1704164645 * kSec);
  EXPECT_EQ(ParseDockerTime("2024-01-02T03:04:05.25Z"), 1704164645 * kSec + 250000000);
  EXPECT_EQ(ParseDockerTime("2024-01-02T04:04:05+01:00"), 1704164645 * kSec);
  EXPECT_EQ(ParseDockerTime("2024-01-02T02:34:05-00:30"), 1704164645 * kSec);
}

TEST(EngineTime, ZonelessTimesAndDatesAreLocalTime) {
  {
    ScopedTz tz("UTC");
    EXPECT_EQ(ParseDockerTime("2024-01-02"), 1704153600 * kSec);
    EXPECT_EQ(ParseDockerTime("2024-01-02T03:04:05"), 1704164645 * kSec);
    EXPECT_EQ(ParseDockerTime("2024-01-02T03:04"), (1704164645 - 5) * kSec);
  }
  {
    ScopedTz tz("UTC-2");  // POSIX: two hours east of UTC
    EXPECT_EQ(ParseDockerTime("2024-01-02T05:04:05"), 1704164645 * kSec);
  }
}

TEST(EngineTime, RoundTripsItsOwnFormat) {
  for (int64_t n : {int64_t{0}, int64_t{1704164645123456789}, int64_t{1700000000} * kSec + 1}) {
    EXPECT_EQ(ParseDockerTime(Rfc3339Nano(FromNanos(n))), n) << n;
  }
}

TEST(EngineTime, DurationsMeanThatLongBeforeNow) {
  const int64_t slack = 5 * kSec;
  int64_t before = NowNano();
  int64_t t = ParseDockerTime("10m");
  EXPECT_NEAR(static_cast<double>(before - 600 * kSec), static_cast<double>(t),
              static_cast<double>(slack));
  t = ParseDockerTime("1h30m");
  EXPECT_NEAR(static_cast<double>(before - 5400 * kSec), static_cast<double>(t),
              static_cast<double>(slack));
  t = ParseDockerTime("1.5s");
  EXPECT_NEAR(static_cast<double>(before - 1500000000), static_cast<double>(t),
              static_cast<double>(slack));
  t = ParseDockerTime("0s");  // docker events --until 0s: now
  EXPECT_NEAR(static_cast<double>(before), static_cast<double>(t), static_cast<double>(slack));
}

TEST(EngineTime, MalformedValuesAre400NamingTheValue) {
  for (const char* bad : {"", "yesterday", "10x", "2024-13-01", "2024-01-02T25:00:00Z",
                          "1700000000.5x", "2024-01-02T03:04:05+0100"}) {
    std::optional<HttpError> e = HttpErrorOf([&] { ParseDockerTime(bad); });
    ASSERT_TRUE(e.has_value()) << "accepted: '" << bad << "'";
    EXPECT_EQ(e->status(), 400);
    EXPECT_THAT(e->what(), HasSubstr(std::string("'") + bad + "'"));
  }
}

// ---- ParseFilters ------------------------------------------------------------------------

TEST(EngineFilters, EmptyMeansNoFilters) {
  EXPECT_TRUE(ParseFilters("").empty());
  EXPECT_TRUE(ParseFilters("{}").empty());
  EXPECT_TRUE(ParseFilters("null").empty());
}

TEST(EngineFilters, ReadsTheListForm) {
  auto f = ParseFilters(R"({"status":["running","paused"],"label":["a=b"]})");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_THAT(f["status"], ElementsAre("running", "paused"));
  EXPECT_THAT(f["label"], ElementsAre("a=b"));
}

TEST(EngineFilters, ReadsTheBooleanMapForm) {
  auto f = ParseFilters(R"({"status":{"running":true},"name":{"web":true,"db":true}})");
  EXPECT_THAT(f["status"], ElementsAre("running"));
  EXPECT_THAT(f["name"], ElementsAre("db", "web"));
}

TEST(EngineFilters, MalformedFiltersAre400) {
  for (const char* bad : {"{", "[\"a\"]", R"({"a":"b"})", R"({"a":[1]})", R"({"a":{"b":1}})"}) {
    std::optional<HttpError> e = HttpErrorOf([&] { ParseFilters(bad); });
    ASSERT_TRUE(e.has_value()) << "accepted: " << bad;
    EXPECT_EQ(e->status(), 400);
    EXPECT_THAT(e->what(), HasSubstr("invalid filters"));
  }
}

// ---- Request -----------------------------------------------------------------------------

TEST(EngineRequest, QueryReturnsTheValueOrTheDefault) {
  Request r;
  r.query = {{"all", "1"}, {"name", ""}};
  EXPECT_EQ(r.Query("all"), "1");
  EXPECT_EQ(r.Query("name", "x"), "");
  EXPECT_EQ(r.Query("missing", "def"), "def");
}

TEST(EngineRequest, QueryBoolFollowsDockersRule) {
  Request r;
  r.query = {{"t1", "1"},     {"t2", "true"},  {"t3", "yes"}, {"f1", ""},      {"f2", "0"},
             {"f3", "false"}, {"f4", "False"}, {"f5", "no"},  {"f6", " none "}};
  for (const char* k : {"t1", "t2", "t3"}) EXPECT_TRUE(r.QueryBool(k, false)) << k;
  for (const char* k : {"f1", "f2", "f3", "f4", "f5", "f6"})
    EXPECT_FALSE(r.QueryBool(k, true)) << k;
  EXPECT_TRUE(r.QueryBool("absent", true));
  EXPECT_FALSE(r.QueryBool("absent", false));
}

TEST(EngineRequest, QueryIntParsesOrRefusesWith400) {
  Request r;
  r.query = {{"n", "42"}, {"neg", "-7"}, {"empty", ""}, {"bad", "12abc"}};
  EXPECT_EQ(r.QueryInt("n", 0), 42);
  EXPECT_EQ(r.QueryInt("neg", 0), -7);
  EXPECT_EQ(r.QueryInt("empty", 5), 5);
  EXPECT_EQ(r.QueryInt("absent", 9), 9);
  std::optional<HttpError> e = HttpErrorOf([&] { r.QueryInt("bad", 0); });
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status(), 400);
  EXPECT_THAT(e->what(), HasSubstr("bad"));
  EXPECT_THAT(e->what(), HasSubstr("12abc"));
}

TEST(EngineRequest, HeaderAndParam) {
  Request r;
  r.headers = {{"content-type", "application/json"}};
  r.params = {{"id", "abc"}};
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("x-missing"), "");
  EXPECT_EQ(r.Param("id"), "abc");
  std::optional<HttpError> e = HttpErrorOf([&] { r.Param("name"); });
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status(), 500);
  EXPECT_THAT(e->what(), HasSubstr("{name}"));
}

TEST(EngineRequest, UrlDecodeHandlesPercentAndPlus) {
  EXPECT_EQ(lcde::UrlDecode("a%20b+c%2Fd"), "a b c/d");
  EXPECT_EQ(lcde::UrlDecode("busybox%3Alatest"), "busybox:latest");
  EXPECT_EQ(lcde::UrlDecode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
  // Malformed escapes stay as they are.
  EXPECT_EQ(lcde::UrlDecode("100%"), "100%");
  EXPECT_EQ(lcde::UrlDecode("%4"), "%4");
  EXPECT_EQ(lcde::UrlDecode("%zz"), "%zz");
}

// ---- answers and errors ------------------------------------------------------------------

TEST(EngineErrors, ErrorBodyIsEscapedJson) {
  std::string body = lcde::ErrorBody("bad \"name\"\n\ttab \x01");
  json j = json::parse(body);
  EXPECT_EQ(j["message"], "bad \"name\"\n\ttab \x01");
  // Invalid UTF-8 does not throw; it is replaced.
  json bad = json::parse(lcde::ErrorBody("bad \xff byte"));
  EXPECT_THAT(bad["message"].get<std::string>(), HasSubstr("bad "));
}

TEST(EngineErrors, StatusForErrorMapsEveryKind) {
  EXPECT_EQ(lcde::StatusForError(HttpError(418, "x")), 418);
  EXPECT_EQ(lcde::StatusForError(Error(ErrorKind::kNotFound, "x")), 404);
  EXPECT_EQ(lcde::StatusForError(Error(ErrorKind::kAlreadyExists, "x")), 409);
  EXPECT_EQ(lcde::StatusForError(Error(ErrorKind::kFailedPrecondition, "x")), 409);
  EXPECT_EQ(lcde::StatusForError(Error(ErrorKind::kInvalidArgument, "x")), 400);
  EXPECT_EQ(lcde::StatusForError(Error(ErrorKind::kNotImplemented, "x")), 501);
  EXPECT_EQ(lcde::StatusForError(Error(ErrorKind::kUnavailable, "x")), 500);
  EXPECT_EQ(lcde::StatusForError(Error(ErrorKind::kUnknown, "x")), 500);
  EXPECT_EQ(lcde::StatusForError(std::runtime_error("x")), 500);
}

TEST(EngineErrors, SendErrorAnswersJsonWithTheStatus) {
  RecordingResponse res;
  lcde::SendError(res, Error(ErrorKind::kNotFound, "no such container: abc"));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.content_type, "application/json");
  EXPECT_THAT(json::parse(res.body)["message"].get<std::string>(),
              HasSubstr("no such container: abc"));
}

TEST(EngineErrors, SendErrorAfterTheAnswerStartedSendsNothing) {
  RecordingResponse res;
  res.BeginStream(200, "application/json");
  res.Write("{}\n");
  lcde::SendError(res, HttpError(500, "late"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "{}\n");
}

TEST(EngineErrors, SendJsonAndSendNoContent) {
  RecordingResponse res;
  lcde::SendJson(res, 201, R"({"Id":"x"})");
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.content_type, "application/json");
  EXPECT_EQ(res.body, "{\"Id\":\"x\"}\n");
  RecordingResponse none;
  lcde::SendNoContent(none);
  EXPECT_EQ(none.status, 204);
  EXPECT_EQ(none.body, "");
}

// ---- EventBus ----------------------------------------------------------------------------

Event MakeEvent(const std::string& action, int64_t time_nano = 0) {
  Event e;
  e.type = "container";
  e.action = action;
  e.id = "abc";
  e.time_nano = time_nano;
  return e;
}

TEST(EngineEvents, PublishNumbersEventsAndStampsTheTime) {
  EventBus bus;
  EXPECT_EQ(bus.LastSeq(), 0u);
  const int64_t before = NowNano();
  bus.Publish(MakeEvent("create"));
  bus.Publish(MakeEvent("start", 42));
  EXPECT_EQ(bus.LastSeq(), 2u);
  std::vector<Event> all = bus.History(0, 0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].seq, 1u);
  EXPECT_EQ(all[1].seq, 2u);
  EXPECT_GE(all[0].time_nano, before);
  EXPECT_EQ(all[1].time_nano, 42);  // a time given is kept
}

TEST(EngineEvents, HistoryKeepsTheTimeWindow) {
  EventBus bus;
  for (int64_t t : {10, 20, 30, 40}) bus.Publish(MakeEvent("t" + std::to_string(t), t));
  std::vector<std::string> actions;
  for (const Event& e : bus.History(20, 30)) actions.push_back(e.action);
  EXPECT_THAT(actions, ElementsAre("t20", "t30"));
  actions.clear();
  for (const Event& e : bus.History(25, 0)) actions.push_back(e.action);
  EXPECT_THAT(actions, ElementsAre("t30", "t40"));
}

TEST(EngineEvents, HistoryIsCappedAtKHistory) {
  EventBus bus;
  const size_t n = EventBus::kHistory + 10;
  for (size_t i = 0; i < n; ++i) bus.Publish(MakeEvent("e", static_cast<int64_t>(i + 1)));
  std::vector<Event> all = bus.History(0, 0);
  ASSERT_EQ(all.size(), EventBus::kHistory);
  EXPECT_EQ(all.front().seq, 11u);
  EXPECT_EQ(all.back().seq, n);
  EXPECT_EQ(bus.LastSeq(), n);
}

TEST(EngineEvents, WaitAfterTimesOutEmpty) {
  EventBus bus;
  bus.Publish(MakeEvent("create"));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(bus.WaitAfter(1, std::chrono::milliseconds(50)).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(45));
}

TEST(EngineEvents, WaitAfterReturnsWhatIsNewAtOnce) {
  EventBus bus;
  bus.Publish(MakeEvent("a"));
  bus.Publish(MakeEvent("b"));
  bus.Publish(MakeEvent("c"));
  std::vector<Event> got = bus.WaitAfter(1, std::chrono::milliseconds(0));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].action, "b");
  EXPECT_EQ(got[1].action, "c");
}

TEST(EngineEvents, WaitAfterWakesOnPublishFromAnotherThread) {
  EventBus bus;
  std::thread publisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    bus.Publish(MakeEvent("die"));
  });
  auto start = std::chrono::steady_clock::now();
  std::vector<Event> got = bus.WaitAfter(0, std::chrono::seconds(10));
  publisher.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].action, "die");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// ---- EventJson ---------------------------------------------------------------------------

TEST(EngineEvents, ContainerEventsCarryDockersLegacyFields) {
  Event e = MakeEvent("start", 1704164645123456789);
  e.attributes = {{"image", "busybox"}, {"name", "web"}};
  json j = json::parse(lcde::EventJson(e));
  EXPECT_EQ(j["status"], "start");
  EXPECT_EQ(j["id"], "abc");
  EXPECT_EQ(j["from"], "busybox");
  EXPECT_EQ(j["Type"], "container");
  EXPECT_EQ(j["Action"], "start");
  EXPECT_EQ(j["Actor"]["ID"], "abc");
  EXPECT_EQ(j["Actor"]["Attributes"]["name"], "web");
  EXPECT_EQ(j["scope"], "local");
  EXPECT_EQ(j["time"], 1704164645);
  EXPECT_EQ(j["timeNano"], 1704164645123456789);
  EXPECT_EQ(lcde::EventJson(e).find('\n'), std::string::npos);
}

TEST(EngineEvents, NetworkEventsHaveNoLegacyFields) {
  Event e;
  e.type = "network";
  e.action = "create";
  e.id = std::string(64, 'a');
  e.time_nano = 5 * kSec;
  e.attributes = {{"name", "front"}, {"type", "bridge"}};
  json j = json::parse(lcde::EventJson(e));
  EXPECT_FALSE(j.contains("status"));
  EXPECT_FALSE(j.contains("id"));
  EXPECT_FALSE(j.contains("from"));
  EXPECT_EQ(j["Type"], "network");
  EXPECT_EQ(j["Actor"]["Attributes"]["type"], "bridge");
  EXPECT_EQ(j["time"], 5);
}

TEST(EngineEvents, ImageEventsHaveStatusAndIdButNoFrom) {
  Event e;
  e.type = "image";
  e.action = "pull";
  e.id = "busybox:latest";
  e.time_nano = kSec;
  json j = json::parse(lcde::EventJson(e));
  EXPECT_EQ(j["status"], "pull");
  EXPECT_EQ(j["id"], "busybox:latest");
  EXPECT_FALSE(j.contains("from"));
  EXPECT_TRUE(j["Actor"]["Attributes"].is_object());
}

}  // namespace
