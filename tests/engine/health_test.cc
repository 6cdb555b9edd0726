// Health checks through lcd-engine (docker run --health-*, the image's HEALTHCHECK): a failing
// check turns a container unhealthy after its retries (events health_status), a passing one
// healthy (docker ps "(healthy)"), --no-healthcheck leaves no State.Health, a check that outlives
// its timeout is a failure, and invalid settings are refused naming them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "engine_fixture.h"
#include "images/descriptor.h"
#include "registry_fixture.h"

namespace {

using namespace enginetest;
using json = nlohmann::json;
namespace fs = std::filesystem;

using EngineHealthTest = EngineTest;

std::string Inspect(const std::string& name, const std::string& format) {
  return Trim(D({"inspect", "--format", format, name}).out);
}

std::string HealthStatus(const std::string& name) {
  return Inspect(name, "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}");
}

json Health(const std::string& name) {
  json j = json::parse(Inspect(name, "{{json .State.Health}}"), nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

// The container's events so far (actions, one a line).
std::string Events(const std::string& name) {
  return D({"events", "--since", "0", "--until", std::to_string(time(nullptr) + 1), "--filter",
            "container=" + name, "--format", "{{.Action}}"})
      .out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Writes a blob into an OCI layout; its digest.
std::string PutBlob(const std::string& layout, const std::string& data) {
  std::string digest = libcontainerd::images::Sha256Digest(data);
  WriteFile(layout + "/blobs/sha256/" + digest.substr(7), data);
  return digest;
}

// An OCI archive of busybox named `ref` whose config has `healthcheck` (docker's image config
// Healthcheck), as `docker build` with a HEALTHCHECK would make it; "" on success, else why not.
std::string MakeImageWithHealthcheck(const std::string& dir, const std::string& ref,
                                     const json& healthcheck, const std::string& tar) {
  lcdtest::OciLayoutBuilder b(dir);
  lcdtest::TestImageConfig cfg;
  cfg.cmd = {"sleep", "300"};
  cfg.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  std::string manifest_digest = b.AddImage({lcdtest::OciLayoutBuilder::BusyboxLayer()}, cfg, "hc");
  json manifest = json::parse(ReadFile(b.BlobPath(manifest_digest)));
  json config = json::parse(ReadFile(b.BlobPath(manifest["config"]["digest"])));
  config["config"]["Healthcheck"] = healthcheck;
  std::string config_text = config.dump();
  manifest["config"]["digest"] = PutBlob(dir, config_text);
  manifest["config"]["size"] = config_text.size();
  std::string manifest_text = manifest.dump();
  std::string new_digest = PutBlob(dir, manifest_text);
  json index = json::parse(ReadFile(dir + "/index.json"));
  for (auto& m : index["manifests"]) {
    if (m["digest"] != manifest_digest) continue;
    m["digest"] = new_digest;
    m["size"] = manifest_text.size();
    m["annotations"]["io.containerd.image.name"] = ref;
  }
  WriteFile(dir + "/index.json", index.dump());
  auto r = lcdtest::Collect(lcdtest::Spawn({"tar", "-C", dir, "-cf", tar, "."}, nullptr, {}), 60s);
  if (r.code != 0) return "tar failed: " + r.err;
  return "";
}

TEST_F(EngineHealthTest, FailingCheckTurnsUnhealthyAfterItsRetries) {
  Cleanup c;
  std::string name = c.Container("unhealthy");
  auto r = D({"run", "-d", "--name", name, "--health-cmd", "test ! -f /tmp/bad",
              "--health-interval", "200ms", "--health-retries", "2", Busybox(), "sleep", "300"});
  ASSERT_EQ(r.code, 0) << r.why();
  ASSERT_TRUE(WaitFor([&] { return HealthStatus(name) == "healthy"; }, 10s))
      << HealthStatus(name) << "\n"
      << EngineLog();
  auto t = D({"exec", name, "touch", "/tmp/bad"});
  ASSERT_EQ(t.code, 0) << t.why();
  ASSERT_TRUE(WaitFor([&] { return HealthStatus(name) == "unhealthy"; }, 10s))
      << Health(name).dump() << "\n"
      << EngineLog();
  json h = Health(name);
  ASSERT_TRUE(h.is_object()) << h.dump();
  EXPECT_GE(h["FailingStreak"].get<int>(), 2) << h.dump();
  ASSERT_TRUE(h["Log"].is_array()) << h.dump();
  EXPECT_GE(h["Log"].size(), 1u);
  EXPECT_LE(h["Log"].size(), 5u) << "the log keeps the last 5 results: " << h.dump();
  EXPECT_EQ(h["Log"].back()["ExitCode"], 1) << h.dump();
  EXPECT_TRUE(h["Log"].back().contains("Start") && h["Log"].back().contains("End")) << h.dump();

  std::string events = Events(name);
  EXPECT_TRUE(Contains(events, "health_status: healthy")) << events;
  EXPECT_TRUE(Contains(events, "health_status: unhealthy")) << events;
  auto ps = D({"ps", "--filter", "name=" + name, "--filter", "health=unhealthy", "--format",
               "{{.Names}} {{.Status}}"});
  EXPECT_TRUE(Contains(ps.out, name) && Contains(ps.out, "(unhealthy)")) << ps.why();

  // It stays unhealthy while failing; the checker stops with the container, which keeps its
  // last health in inspect.
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(HealthStatus(name), "unhealthy");
  ASSERT_EQ(D({"stop", "-t", "1", name}).code, 0);
  json after = Health(name);
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(HealthStatus(name), "unhealthy");
  EXPECT_EQ(Health(name)["Log"].size(), after["Log"].size())
      << "a check ran after the container stopped: " << Health(name).dump();
}

TEST_F(EngineHealthTest, PassingCheckIsHealthyAndShownByPs) {
  Cleanup c;
  std::string name = c.Container("healthy");
  auto r = D({"run", "-d", "--name", name, "--health-cmd", "echo all-good", "--health-interval",
              "1s", Busybox(), "sleep", "300"});
  ASSERT_EQ(r.code, 0) << r.why();
  // Before the first interval: starting.
  EXPECT_EQ(HealthStatus(name), "starting");
  auto ps0 = D({"ps", "--filter", "name=" + name, "--format", "{{.Status}}"});
  EXPECT_TRUE(Contains(ps0.out, "(health: starting)")) << ps0.why();
  ASSERT_TRUE(WaitFor([&] { return HealthStatus(name) == "healthy"; }, 10s))
      << Health(name).dump() << "\n"
      << EngineLog();
  json h = Health(name);
  EXPECT_EQ(h["FailingStreak"], 0) << h.dump();
  ASSERT_TRUE(h["Log"].is_array() && !h["Log"].empty()) << h.dump();
  EXPECT_EQ(h["Log"].back()["ExitCode"], 0) << h.dump();
  EXPECT_EQ(h["Log"].back()["Output"], "all-good\n") << h.dump();
  auto ps = D({"ps", "--filter", "name=" + name, "--format", "{{.Status}}"});
  EXPECT_TRUE(Contains(ps.out, "(healthy)")) << ps.why();
  auto filtered = D({"ps", "-q", "--filter", "name=" + name, "--filter", "health=healthy"});
  EXPECT_FALSE(Trim(filtered.out).empty()) << filtered.why();
  EXPECT_TRUE(Contains(Events(name), "health_status: healthy")) << Events(name);
  // The config is kept as given (nanoseconds).
  EXPECT_EQ(Inspect(name, "{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}"),
            "[\"CMD-SHELL\",\"echo all-good\"] 1s");
}

TEST_F(EngineHealthTest, NoHealthcheckLeavesNoHealth) {
  Cleanup c;
  std::string plain = c.Container("plain");
  std::string none = c.Container("none");
  ASSERT_EQ(D({"run", "-d", "--name", plain, Busybox(), "sleep", "300"}).code, 0);
  auto r = D({"run", "-d", "--name", none, "--no-healthcheck", Busybox(), "sleep", "300"});
  ASSERT_EQ(r.code, 0) << r.why();
  EXPECT_EQ(Inspect(none, "{{json .Config.Healthcheck.Test}}"), "[\"NONE\"]");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Inspect(plain, "{{json .State.Health}}"), "null");
  EXPECT_EQ(Inspect(none, "{{json .State.Health}}"), "null");
  auto ps = D({"ps", "--filter", "name=" + none, "--filter", "health=none", "--format",
               "{{.Names}} {{.Status}}"});
  EXPECT_TRUE(Contains(ps.out, none)) << ps.why();
  EXPECT_FALSE(Contains(ps.out, "health")) << ps.why();
}

TEST_F(EngineHealthTest, ImageHealthcheckRunsAndNoHealthcheckDisablesIt) {
  Cleanup c;
  std::string dir = EngineRoot() + "/../health-image-" + std::to_string(getpid());
  std::string tar = dir + ".tar";
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::string ref = "lcdtest.local/health" + std::to_string(getpid()) + ":latest";
  // HEALTHCHECK --interval=200ms --retries=1 CMD ["test", "-f", "/tmp/ok"]
  json hc = {{"Test", {"CMD", "test", "-f", "/tmp/ok"}}, {"Interval", 200'000'000}, {"Retries", 1}};
  std::string why = MakeImageWithHealthcheck(dir, ref, hc, tar);
  ASSERT_EQ(why, "");
  auto load = D({"load", "-i", tar}, 120s);
  fs::remove_all(dir, ec);
  fs::remove(tar, ec);
  ASSERT_EQ(load.code, 0) << load.why();
  c.AddImage(ref);
  // docker image inspect shows the image's check.
  auto ii = D({"image", "inspect", "--format", "{{json .Config.Healthcheck}}", ref});
  ASSERT_EQ(ii.code, 0) << ii.why();
  json shown = json::parse(Trim(ii.out), nullptr, false);
  EXPECT_EQ(shown.value("Test", json::array()), hc["Test"]) << ii.out;
  EXPECT_EQ(shown.value("Interval", int64_t{0}), 200'000'000) << ii.out;
  EXPECT_EQ(shown.value("Retries", 0), 1) << ii.out;

  std::string inherits = c.Container("imagehc");
  ASSERT_EQ(D({"run", "-d", "--name", inherits, ref}).code, 0);
  ASSERT_TRUE(WaitFor([&] { return HealthStatus(inherits) == "unhealthy"; }, 10s))
      << Health(inherits).dump() << "\n"
      << EngineLog();
  ASSERT_EQ(D({"exec", inherits, "touch", "/tmp/ok"}).code, 0);
  ASSERT_TRUE(WaitFor([&] { return HealthStatus(inherits) == "healthy"; }, 10s))
      << Health(inherits).dump();

  // --health-cmd replaces the image's command; the image's interval still applies.
  std::string overrides = c.Container("imagehc-cmd");
  ASSERT_EQ(D({"run", "-d", "--name", overrides, "--health-cmd", "true", ref}).code, 0);
  ASSERT_TRUE(WaitFor([&] { return HealthStatus(overrides) == "healthy"; }, 5s))
      << Health(overrides).dump();

  std::string disabled = c.Container("imagehc-none");
  ASSERT_EQ(D({"run", "-d", "--name", disabled, "--no-healthcheck", ref}).code, 0);
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(Inspect(disabled, "{{json .State.Health}}"), "null");
}

TEST_F(EngineHealthTest, TimeoutCountsAsAFailure) {
  Cleanup c;
  std::string name = c.Container("timeout");
  auto r = D({"run", "-d", "--name", name, "--health-cmd", "sleep 5", "--health-interval", "200ms",
              "--health-timeout", "300ms", "--health-retries", "1", Busybox(), "sleep", "300"});
  ASSERT_EQ(r.code, 0) << r.why();
  ASSERT_TRUE(WaitFor([&] { return HealthStatus(name) == "unhealthy"; }, 10s))
      << Health(name).dump() << "\n"
      << EngineLog();
  json h = Health(name);
  ASSERT_TRUE(h["Log"].is_array() && !h["Log"].empty()) << h.dump();
  json last = h["Log"].back();
  EXPECT_EQ(last["ExitCode"], -1) << h.dump();
  EXPECT_TRUE(Contains(last["Output"].get<std::string>(), "timed out after 300ms")) << h.dump();
  EXPECT_TRUE(Contains(Events(name), "health_status: unhealthy")) << Events(name);
  // The timed-out checks were killed: no `sleep 5` piles up in the container.
  std::this_thread::sleep_for(1s);
  auto top = D({"top", name});
  ASSERT_EQ(top.code, 0) << top.why();
  int sleeps = 0;
  for (const auto& line : Lines(top.out))
    if (Contains(line, "sleep 5")) ++sleeps;
  EXPECT_LE(sleeps, 1) << top.out;
}

TEST_F(EngineHealthTest, InvalidSettingsAreRefusedNamingThem) {
  Cleanup c;
  // The CLI refuses a negative duration itself.
  auto cli = D({"run", "-d", "--name", c.Container("neg"), "--health-cmd", "true",
                "--health-interval", "-1s", Busybox(), "sleep", "300"});
  EXPECT_NE(cli.code, 0) << cli.why();
  EXPECT_TRUE(Contains(cli.err, "health-interval")) << cli.why();
  // The engine refuses what the API is sent.
  struct Case {
    json healthcheck;
    std::string expect;
  };
  std::vector<Case> cases = {
      {{{"Test", {"CMD-SHELL", "true"}}, {"Interval", -1000000000}}, "Healthcheck.Interval"},
      {{{"Test", {"CMD-SHELL", "true"}}, {"Timeout", 500}}, "Healthcheck.Timeout"},
      {{{"Test", {"CMD-SHELL", "true"}}, {"Retries", -1}}, "Healthcheck.Retries"},
      {{{"Test", {"PROBE", "true"}}}, "Healthcheck.Test"},
  };
  for (const auto& k : cases) {
    std::string name = c.Container("badhc");
    json body = {{"Image", Busybox()}, {"Cmd", {"sleep", "300"}}, {"Healthcheck", k.healthcheck}};
    std::string text = body.dump();
    std::string a = HttpUnix(EngineSocket(), "POST /v1.41/containers/create?name=" + name +
                                                 " HTTP/1.1\r\nHost: docker\r\n"
                                                 "Content-Type: application/json\r\n"
                                                 "Content-Length: " +
                                                 std::to_string(text.size()) +
                                                 "\r\nConnection: close\r\n\r\n" + text);
    EXPECT_EQ(HttpStatus(a), 400) << k.healthcheck.dump() << " answered: " << a;
    EXPECT_TRUE(Contains(HttpBody(a), k.expect)) << k.healthcheck.dump() << " answered: " << a;
  }
}

}  // namespace
