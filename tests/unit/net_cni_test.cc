// The CNI runtime (src/net/cni.h): configuration lists, ADD/CHECK/DEL through a list with a fake
// executor at the seam, and plugin execution with small shell-script plugins.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "harness.h"
#include "libcontainerd/errors.h"
#include "net/cni.h"
#include "test_util.h"

namespace {

using libcontainerd::Context;
using libcontainerd::Error;
using libcontainerd::ErrorKind;
using namespace libcontainerd::net::cni;

const char* kList = R"({"cniVersion": "1.0.0", "name": "testnet", "plugins": [
  {"type": "bridge", "bridge": "br-x"},
  {"type": "portmap", "capabilities": {"portMappings": true, "other": false}},
  {"type": "firewall"}]})";

ErrorKind Kind(const std::function<void()>& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.message();
    return e.kind();
  }
  ADD_FAILURE() << "no error thrown";
  return static_cast<ErrorKind>(-1);
}

bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string EnvOf(const Invocation& inv, const std::string& key) {
  for (const auto& e : inv.env)
    if (e.rfind(key + "=", 0) == 0) return e.substr(key.size() + 1);
  return "<unset>";
}

// A plugin directory with an executable file per plugin type (the fake executor runs nothing).
struct PluginDir {
  lcdtest::ScratchDir dir{"lcd-cni"};
  void Add(const std::string& type, const std::string& script = "#!/bin/sh\nexit 0\n") {
    std::string p = dir.path() + "/" + type;
    std::ofstream(p) << script;
    ::chmod(p.c_str(), 0755);
  }
};

struct Call {
  std::string command, type;
  json conf;
  Invocation inv;
};

RuntimeConf Rt() {
  RuntimeConf rt;
  rt.container_id = "c1";
  rt.netns = "/var/run/netns/x";
  rt.args = {{"IgnoreUnknown", "1"}};
  rt.capability_args = {{"portMappings", json::array({{{"hostPort", 8080}}})}};
  return rt;
}

json ResultFor(const std::string& type) {
  return {{"cniVersion", "1.0.0"},
          {"interfaces", {{{"name", "eth0"}, {"sandbox", "/var/run/netns/x"}}}},
          {"ips", {{{"address", "10.1.0.2/24"}, {"gateway", "10.1.0.1"}, {"interface", 0}}}},
          {"by", type}};
}

// A fake executor recording calls; `fail` decides which (command, type) fails and how.
struct Fake {
  std::vector<Call> calls;
  std::function<Outcome(const Call&)> answer;
  Executor exec() {
    return [this](const Context&, const Invocation& inv) {
      Call c;
      c.command = EnvOf(inv, "CNI_COMMAND");
      c.conf = json::parse(inv.stdin_data);
      c.type = c.conf["type"].get<std::string>();
      c.inv = inv;
      calls.push_back(c);
      if (answer) return answer(c);
      Outcome o;
      if (c.command == "ADD") o.stdout_data = ResultFor(c.type).dump();
      return o;
    };
  }
  std::vector<std::string> Seq() const {
    std::vector<std::string> s;
    for (const auto& c : calls) s.push_back(c.command + " " + c.type);
    return s;
  }
};

Outcome ErrorJson(int code, const std::string& msg, const std::string& details) {
  Outcome o;
  o.exit_code = 1;
  o.stdout_data =
      json{{"cniVersion", "1.0.0"}, {"code", code}, {"msg", msg}, {"details", details}}.dump();
  return o;
}

TEST(CniConfig, ParsesAValidList) {
  ConfigList l = ParseConfigList(kList, "t.conflist");
  EXPECT_EQ(l.cni_version, "1.0.0");
  EXPECT_EQ(l.name, "testnet");
  ASSERT_EQ(l.plugins.size(), 3u);
  EXPECT_EQ(l.plugins[1]["type"], "portmap");
  EXPECT_FALSE(l.disable_check);
}

TEST(CniConfig, ErrorsNameTheFileAndTheField) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"{\n  \"a\": x}", "f.conflist: malformed JSON at line 2, column 8"},
      {"[]", "f.conflist: top level: a array, not an object"},
      {R"({"name": "n", "plugins": [{"type": "x"}]})", "f.conflist: cniVersion: missing"},
      {R"({"cniVersion": 1, "name": "n", "plugins": [{"type": "x"}]})",
       "f.conflist: cniVersion: a number, not a string"},
      {R"({"cniVersion": "one", "name": "n", "plugins": [{"type": "x"}]})",
       "f.conflist: cniVersion: \"one\" is not a version"},
      {R"({"cniVersion": "1.0.0", "plugins": [{"type": "x"}]})", "f.conflist: name: missing"},
      {R"({"cniVersion": "1.0.0", "name": "bad name", "plugins": [{"type": "x"}]})",
       "f.conflist: name: \"bad name\": must start"},
      {R"({"cniVersion": "1.0.0", "name": "n"})", "f.conflist: plugins: missing"},
      {R"({"cniVersion": "1.0.0", "name": "n", "plugins": {}})",
       "f.conflist: plugins: a object, not an array"},
      {R"({"cniVersion": "1.0.0", "name": "n", "plugins": []})", "f.conflist: plugins: empty"},
      {R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "a"}, {"mtu": 1}]})",
       "f.conflist: plugins[1].type: missing"},
      {R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": 3}]})",
       "f.conflist: plugins[0].type: a number, not a string"},
      {R"({"cniVersion": "1.0.0", "name": "n", "disableCheck": "yes", "plugins": [{"type": "a"}]})",
       "f.conflist: disableCheck: a string, not a boolean"},
  };
  for (const auto& c : cases) {
    std::string m;
    EXPECT_EQ(Kind([&] { ParseConfigList(c.text, "f.conflist"); }, &m), ErrorKind::kInvalidArgument)
        << c.text;
    EXPECT_TRUE(Has(m, c.expect)) << "got: " << m << "\nwant: " << c.expect;
  }
}

// Without published ports the Manager runs the list without portmap (src/net/cni.h).
TEST(CniConfig, WithoutIdlePortmapDropsOnlyAPortmapFedByTheCapability) {
  const ConfigList l = ParseConfigList(kList, "t");
  const ConfigList w = WithoutIdlePortmap(l);
  ASSERT_EQ(w.plugins.size(), 2u);
  EXPECT_EQ(w.plugins[0]["type"], "bridge");
  EXPECT_EQ(w.plugins[1]["type"], "firewall");
  ASSERT_EQ(w.raw["plugins"].size(), 2u);  // the raw list (kept in the record for DEL) alike
  EXPECT_EQ(w.raw["plugins"][1]["type"], "firewall");
  EXPECT_EQ(w.name, "testnet");
  // It loads again as it is (what the record's list goes through at DEL).
  EXPECT_EQ(ParseConfigList(w.raw.dump(), "again").plugins.size(), 2u);

  // A portmap with ports of its own in runtimeConfig is kept; a list of portmap alone too.
  const ConfigList own = ParseConfigList(R"({"cniVersion": "1.0.0", "name": "n", "plugins": [
    {"type": "bridge"},
    {"type": "portmap", "runtimeConfig": {"portMappings": [{"hostPort": 1, "containerPort": 2,
      "protocol": "tcp"}]}}]})",
                                         "own");
  EXPECT_EQ(WithoutIdlePortmap(own).plugins.size(), 2u);
  const ConfigList alone = ParseConfigList(
      R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "portmap"}]})", "alone");
  EXPECT_EQ(WithoutIdlePortmap(alone).plugins.size(), 1u);
  const ConfigList none = ParseConfigList(
      R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "bridge"}]})", "none");
  EXPECT_EQ(WithoutIdlePortmap(none).raw, none.raw);
}

TEST(CniConfig, LoadConfigDirReadsConflistsSortedAndNamesABadFile) {
  lcdtest::ScratchDir d("lcd-cni-conf");
  EXPECT_TRUE(LoadConfigDir(d.path() + "/missing").empty());
  std::ofstream(d.path() + "/20-b.conflist")
      << R"({"cniVersion": "1.0.0", "name": "b", "plugins": [{"type": "x"}]})";
  std::ofstream(d.path() + "/10-a.conflist")
      << R"({"cniVersion": "0.4.0", "name": "a", "plugins": [{"type": "x"}]})";
  std::ofstream(d.path() + "/99-other.json") << "not read";
  auto lists = LoadConfigDir(d.path());
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(lists[0].name, "a");
  EXPECT_EQ(lists[1].source, d.path() + "/20-b.conflist");
  std::ofstream(d.path() + "/30-bad.conflist") << R"({"cniVersion": "1.0.0", "name": "c"})";
  std::string m;
  EXPECT_EQ(Kind([&] { LoadConfigDir(d.path()); }, &m), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(Has(m, d.path() + "/30-bad.conflist: plugins: missing")) << m;
  EXPECT_EQ(Kind([&] { LoadConfigList(d.path() + "/nope.conflist"); }), ErrorKind::kNotFound);
}

TEST(CniResult, ParsesOneOhAndZeroFourResults) {
  Result r = ParseResult(ResultFor("bridge"), "bridge");
  ASSERT_EQ(r.ips.size(), 1u);
  EXPECT_EQ(r.ips[0].address, "10.1.0.2/24");
  EXPECT_EQ(r.ips[0].interface, 0);
  EXPECT_EQ(r.interfaces[0].sandbox, "/var/run/netns/x");
  json old = {{"cniVersion", "0.4.0"},
              {"interfaces", {{{"name", "br0"}}, {{"name", "eth0"}, {"sandbox", "/n"}}}},
              {"ips", {{{"version", "4"}, {"address", "10.2.0.3/16"}, {"interface", 1}}}}};
  r = ParseResult(old, "bridge");
  EXPECT_EQ(r.ips[0].interface, 1);
  EXPECT_EQ(r.ips[0].gateway, "");
  std::string m;
  EXPECT_EQ(Kind(
                [&] {
                  ParseResult(json{{"ips", {{{"gateway", "x"}}}}}, "bridge");
                },
                &m),
            ErrorKind::kUnknown);
  EXPECT_TRUE(Has(m, "\"bridge\"") && Has(m, "ips[0].address: missing")) << m;
  EXPECT_EQ(Kind([&] {
              ParseResult(json{{"ips", {{{"address", "a"}, {"interface", 3}}}}}, "b");
            }),
            ErrorKind::kUnknown);
}

TEST(CniRuntime, FindPluginNamesThePluginTheDirsAndThePackage) {
  PluginDir pd;
  pd.Add("bridge");
  Runtime r({"/nonexistent-lcd", pd.dir.path()});
  EXPECT_EQ(r.FindPlugin("bridge"), pd.dir.path() + "/bridge");
  std::string m;
  EXPECT_EQ(Kind([&] { r.FindPlugin("nosuch"); }, &m), ErrorKind::kNotFound);
  EXPECT_TRUE(Has(m, "\"nosuch\"") && Has(m, "/nonexistent-lcd:" + pd.dir.path()) &&
              Has(m, "containernetworking-plugins"))
      << m;
  EXPECT_EQ(Kind([&] { r.FindPlugin("../bridge"); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(Kind([&] { r.FindPlugin("a/b"); }), ErrorKind::kInvalidArgument);
}

TEST(CniRuntime, AddChainsPrevResultAndGivesCapabilitiesOnlyToPluginsThatDeclareThem) {
  PluginDir pd;
  for (auto t : {"bridge", "portmap", "firewall"}) pd.Add(t);
  Fake fake;
  Runtime r({pd.dir.path()}, fake.exec());
  Result res = r.Add(Context(), ParseConfigList(kList, "t"), Rt());
  EXPECT_EQ(res.raw["by"], "firewall");
  ASSERT_EQ(fake.Seq(), (std::vector<std::string>{"ADD bridge", "ADD portmap", "ADD firewall"}));
  const auto& c0 = fake.calls[0];
  EXPECT_FALSE(c0.conf.contains("prevResult"));
  EXPECT_EQ(c0.conf["cniVersion"], "1.0.0");
  EXPECT_EQ(c0.conf["name"], "testnet");
  EXPECT_FALSE(c0.conf.contains("runtimeConfig"));
  EXPECT_EQ(fake.calls[1].conf["prevResult"]["by"], "bridge");
  EXPECT_EQ(fake.calls[1].conf["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
  EXPECT_FALSE(fake.calls[1].conf["runtimeConfig"].contains("other"));
  EXPECT_FALSE(fake.calls[1].conf.contains("capabilities"));
  EXPECT_EQ(fake.calls[2].conf["prevResult"]["by"], "portmap");
  EXPECT_FALSE(fake.calls[2].conf.contains("runtimeConfig"));
  const auto& inv = c0.inv;
  EXPECT_EQ(EnvOf(inv, "CNI_CONTAINERID"), "c1");
  EXPECT_EQ(EnvOf(inv, "CNI_NETNS"), "/var/run/netns/x");
  EXPECT_EQ(EnvOf(inv, "CNI_IFNAME"), "eth0");
  EXPECT_EQ(EnvOf(inv, "CNI_ARGS"), "IgnoreUnknown=1");
  EXPECT_EQ(EnvOf(inv, "CNI_PATH"), pd.dir.path());
  EXPECT_NE(EnvOf(inv, "PATH"), "<unset>");
  EXPECT_EQ(inv.binary, pd.dir.path() + "/bridge");
}

TEST(CniRuntime, AddFailureRollsBackInReverseOrderAndCarriesThePluginsError) {
  PluginDir pd;
  for (auto t : {"bridge", "portmap", "firewall"}) pd.Add(t);
  Fake fake;
  fake.answer = [](const Call& c) {
    if (c.command == "ADD" && c.type == "firewall") return ErrorJson(7, "bad config", "no chain");
    Outcome o;
    if (c.command == "ADD") o.stdout_data = ResultFor(c.type).dump();
    return o;
  };
  Runtime r({pd.dir.path()}, fake.exec());
  std::string m;
  EXPECT_EQ(Kind([&] { r.Add(Context(), ParseConfigList(kList, "t"), Rt()); }, &m),
            ErrorKind::kInvalidArgument);
  EXPECT_TRUE(Has(m, "\"firewall\"") && Has(m, "\"testnet\"") && Has(m, "bad config") &&
              Has(m, "no chain") && Has(m, "(CNI code 7)"))
      << m;
  EXPECT_EQ(fake.Seq(), (std::vector<std::string>{"ADD bridge", "ADD portmap", "ADD firewall",
                                                  "DEL firewall", "DEL portmap", "DEL bridge"}));
  EXPECT_EQ(fake.calls[5].conf["prevResult"]["by"], "portmap");
}

TEST(CniRuntime, AMissingPluginFailsAddBeforeAnythingRuns) {
  PluginDir pd;
  pd.Add("bridge");
  Fake fake;
  Runtime r({pd.dir.path()}, fake.exec());
  std::string m;
  EXPECT_EQ(Kind([&] { r.Add(Context(), ParseConfigList(kList, "t"), Rt()); }, &m),
            ErrorKind::kNotFound);
  EXPECT_TRUE(Has(m, "\"portmap\"") && Has(m, "containernetworking-plugins")) << m;
  EXPECT_TRUE(fake.calls.empty());
}

TEST(CniRuntime, CodesMapToKindsAndStderrIsUsedWithoutErrorJson) {
  PluginDir pd;
  pd.Add("bridge");
  const char* one = R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "bridge"}]})";
  struct Case {
    Outcome out;
    ErrorKind kind;
    const char* text;
  };
  Outcome raw;
  raw.exit_code = 2;
  raw.stdout_data = "garbage";
  raw.stderr_data = "panic: boom\n";
  Outcome slow;
  slow.exit_code = -1;
  slow.timed_out = true;
  Case cases[] = {{ErrorJson(1, "v", ""), ErrorKind::kInvalidArgument, "(CNI code 1)"},
                  {ErrorJson(3, "gone", ""), ErrorKind::kNotFound, "(CNI code 3)"},
                  {ErrorJson(5, "io", ""), ErrorKind::kUnknown, "(CNI code 5)"},
                  {ErrorJson(11, "later", ""), ErrorKind::kUnavailable, "(CNI code 11)"},
                  {ErrorJson(101, "ipam", ""), ErrorKind::kUnknown, "(CNI code 101)"},
                  {raw, ErrorKind::kUnknown, "(exit status 2): panic: boom"},
                  {slow, ErrorKind::kDeadlineExceeded, "the plugin was killed"}};
  for (const auto& c : cases) {
    Fake fake;
    fake.answer = [&](const Call&) { return c.out; };
    Runtime r({pd.dir.path()}, fake.exec());
    std::string m;
    EXPECT_EQ(Kind([&] { r.Add(Context(), ParseConfigList(one, "t"), Rt()); }, &m), c.kind) << m;
    EXPECT_TRUE(Has(m, c.text)) << m;
  }
}

TEST(CniRuntime, DelCallsEveryPluginInReverseOrderAndThrowsTheFirstFailureAfterwards) {
  PluginDir pd;
  for (auto t : {"bridge", "portmap", "firewall"}) pd.Add(t);
  Fake fake;
  fake.answer = [](const Call& c) {
    if (c.type == "portmap") return ErrorJson(5, "iptables failed", "");
    if (c.type == "bridge") return ErrorJson(11, "busy", "");
    return Outcome{};
  };
  Runtime r({pd.dir.path()}, fake.exec());
  json prev = ResultFor("final");
  RuntimeConf rt = Rt();
  rt.netns.clear();  // the namespace is gone
  std::string m;
  EXPECT_EQ(Kind([&] { r.Del(Context(), ParseConfigList(kList, "t"), rt, prev); }, &m),
            ErrorKind::kUnknown);
  EXPECT_TRUE(Has(m, "iptables failed")) << m;
  EXPECT_EQ(fake.Seq(), (std::vector<std::string>{"DEL firewall", "DEL portmap", "DEL bridge"}));
  for (const auto& c : fake.calls) {
    EXPECT_EQ(c.conf["prevResult"]["by"], "final");
    EXPECT_EQ(EnvOf(c.inv, "CNI_NETNS"), "<unset>");
  }
  EXPECT_EQ(fake.calls[1].conf["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
}

TEST(CniRuntime, DelToleratesUnknownContainerAndAMissingPluginStillRunsTheOthers) {
  PluginDir pd;
  pd.Add("bridge");
  pd.Add("firewall");
  Fake fake;
  fake.answer = [](const Call&) { return ErrorJson(3, "no such container", ""); };
  Runtime r({pd.dir.path()}, fake.exec());
  std::string m;
  EXPECT_EQ(Kind([&] { r.Del(Context(), ParseConfigList(kList, "t"), Rt(), json()); }, &m),
            ErrorKind::kNotFound);
  EXPECT_TRUE(Has(m, "\"portmap\" not found")) << m;  // code 3 itself is not an error
  EXPECT_EQ(fake.Seq(), (std::vector<std::string>{"DEL firewall", "DEL bridge"}));
  EXPECT_FALSE(fake.calls[0].conf.contains("prevResult"));
}

TEST(CniRuntime, CheckUsesTheStoredResultAndHonoursDisableCheck) {
  PluginDir pd;
  for (auto t : {"bridge", "portmap", "firewall"}) pd.Add(t);
  Fake fake;
  Runtime r({pd.dir.path()}, fake.exec());
  auto list = ParseConfigList(kList, "t");
  r.Check(Context(), list, Rt(), ResultFor("final"));
  EXPECT_EQ(fake.Seq(),
            (std::vector<std::string>{"CHECK bridge", "CHECK portmap", "CHECK firewall"}));
  for (const auto& c : fake.calls) EXPECT_EQ(c.conf["prevResult"]["by"], "final");
  fake.calls.clear();
  list.disable_check = true;
  r.Check(Context(), list, Rt(), ResultFor("final"));
  EXPECT_TRUE(fake.calls.empty());
}

// --- ExecPlugin with real processes -----------------------------------------------------------

std::string Script(PluginDir& pd, const std::string& name, const std::string& body) {
  pd.Add(name, "#!/bin/sh\n" + body);
  return pd.dir.path() + "/" + name;
}

TEST(CniExec, FeedsStdinPassesTheEnvironmentAndCollectsOutputAndExitCode) {
  PluginDir pd;
  Invocation inv;
  inv.binary = Script(pd, "p", "echo \"cmd=$CNI_COMMAND\"; cat; echo oops >&2; exit 3\n");
  inv.env = {"CNI_COMMAND=ADD", "PATH=/usr/bin:/bin"};
  inv.stdin_data = std::string(200000, 'x');  // more than a pipe holds
  Outcome o = ExecPlugin(Context(), inv);
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.stdout_data, "cmd=ADD\n" + inv.stdin_data);
  EXPECT_EQ(o.stderr_data, "oops\n");
  EXPECT_FALSE(o.timed_out);
}

TEST(CniExec, ThePluginGetsNoFdBeyondStdio) {
  PluginDir pd;
  Invocation inv;
  inv.binary = Script(pd, "fds", "ls /proc/self/fd\n");
  inv.env = {"PATH=/usr/bin:/bin"};
  int before = lcdtest::OpenFdCount();
  Outcome o = ExecPlugin(Context(), inv);
  EXPECT_EQ(o.exit_code, 0);
  // 0, 1, 2 and the fd ls opens to read the directory: nothing of ours.
  EXPECT_EQ(o.stdout_data, "0\n1\n2\n3\n") << o.stdout_data;
  EXPECT_EQ(lcdtest::OpenFdCount(), before);
}

TEST(CniExec, TimeoutKillsAndReapsThePluginAndWhatItStarted) {
  PluginDir pd;
  lcdtest::ScratchDir d("lcd-cni-pid");
  Invocation inv;
  inv.binary =
      Script(pd, "slow",
             "sleep 60 & echo $! > " + d.path() + "/child; echo $$ > " + d.path() + "/pid; wait\n");
  inv.env = {"PATH=/usr/bin:/bin"};
  inv.timeout = lcdtest::Scaled(std::chrono::milliseconds(500));
  int before = lcdtest::OpenFdCount();
  auto start = std::chrono::steady_clock::now();
  Outcome o = ExecPlugin(Context(), inv);
  EXPECT_LT(std::chrono::steady_clock::now() - start, lcdtest::Scaled(std::chrono::seconds(10)));
  EXPECT_TRUE(o.timed_out);
  EXPECT_EQ(o.exit_code, -1);
  pid_t pid = std::atoi(lcdtest::Slurp(d.path() + "/pid").c_str());
  pid_t child = std::atoi(lcdtest::Slurp(d.path() + "/child").c_str());
  ASSERT_GT(pid, 0);
  EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid))) << "reaped, no zombie";
  EXPECT_TRUE(lcdtest::Eventually([&] { return lcdtest::Gone(child); },
                                  lcdtest::Scaled(std::chrono::seconds(5))));
  EXPECT_EQ(lcdtest::OpenFdCount(), before);
}

TEST(CniExec, CancellingTheContextKillsThePluginAndThrowsCancelled) {
  PluginDir pd;
  Invocation inv;
  inv.binary = Script(pd, "slow", "exec sleep 60\n");
  inv.env = {"PATH=/usr/bin:/bin"};
  Context ctx = Context::WithTimeout(std::chrono::seconds(60));
  std::thread t([ctx] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ctx.Cancel();
  });
  EXPECT_EQ(Kind([&] { ExecPlugin(ctx, inv); }), ErrorKind::kCancelled);
  t.join();
  Context short_ctx = Context::WithTimeout(lcdtest::Scaled(std::chrono::milliseconds(300)));
  EXPECT_EQ(Kind([&] { ExecPlugin(short_ctx, inv); }), ErrorKind::kDeadlineExceeded);
}

TEST(CniExec, AMissingBinaryIsNotFound) {
  Invocation inv;
  inv.binary = "/nonexistent-lcd/bridge";
  EXPECT_EQ(Kind([&] { ExecPlugin(Context(), inv); }), ErrorKind::kNotFound);
}

TEST(CniExec, RuntimeRunsAScriptPluginAndReportsItsErrorJson) {
  PluginDir pd;
  Script(pd, "failer",
         "cat >/dev/null; echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"locked\","
         "\"details\":\"retry\"}'; exit 1\n");
  Runtime r({pd.dir.path()});
  const char* one = R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "failer"}]})";
  std::string m;
  EXPECT_EQ(Kind([&] { r.Add(Context(), ParseConfigList(one, "t"), Rt()); }, &m),
            ErrorKind::kUnavailable);
  EXPECT_TRUE(Has(m, "\"failer\"") && Has(m, "locked") && Has(m, "retry") &&
              Has(m, "(CNI code 11)"))
      << m;
}

}  // namespace
