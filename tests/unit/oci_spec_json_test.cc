// The OCI JSON codec: lossless round trips (runc and containerd output generated from the
// installed binaries), absent vs zero, unknown members, and malformed input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "libcontainerd/errors.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/spec.h"

namespace fs = std::filesystem;
using namespace libcontainerd;
using namespace libcontainerd::oci;
using nlohmann::json;

namespace {

std::string Slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs a shell command; returns its stdout, or nullopt when it fails.
std::optional<std::string> Shell(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  if (rc != 0) return std::nullopt;
  return out;
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / (name + "-" + std::to_string(getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// `runc spec [flags]` in a fresh directory; the config.json it writes.
std::string RuncSpec(const std::string& flags) {
  TempDir dir("lcd-oci-runc-spec");
  auto out = Shell("runc spec --bundle " + dir.path.string() + " " + flags + " 2>&1");
  EXPECT_TRUE(out.has_value()) << "runc spec " << flags << " failed (is runc installed?)";
  return Slurp(dir.path / "config.json");
}

void ExpectRoundTrip(const std::string& text) {
  ASSERT_FALSE(text.empty());
  json original = json::parse(text);
  Spec spec = DecodeSpec(text);
  json again = json::parse(EncodeSpec(spec));
  EXPECT_EQ(again, original) << "diff: " << json::diff(original, again).dump();
  // And decoding our own output gives the same value.
  EXPECT_EQ(DecodeSpec(EncodeSpec(spec)), spec);
}

}  // namespace

TEST(OciSpecJson, RuncSpecRoundTripsUnchanged) {
  std::string text = RuncSpec("");
  ExpectRoundTrip(text);
  Spec s = DecodeSpec(text);
  ASSERT_TRUE(s.process.has_value());
  EXPECT_EQ(s.process->args, std::vector<std::string>{"sh"});
  EXPECT_TRUE(s.process->terminal);
  EXPECT_EQ(s.process->cwd, "/");
  ASSERT_TRUE(s.root.has_value());
  EXPECT_EQ(s.root->path, "rootfs");
  EXPECT_TRUE(s.root->readonly);
  EXPECT_EQ(s.hostname, "runc");
  ASSERT_TRUE(s.linux.has_value());
  EXPECT_EQ(s.linux->namespaces.size(), 5u);
  ASSERT_EQ(s.process->rlimits.size(), 1u);
  EXPECT_EQ(s.process->rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_TRUE(s.extra.empty()) << "every member of runc's spec is modelled: " << s.extra.dump();
}

TEST(OciSpecJson, RuncRootlessSpecRoundTripsUnchanged) {
  std::string text = RuncSpec("--rootless");
  ExpectRoundTrip(text);
  Spec s = DecodeSpec(text);
  ASSERT_TRUE(s.linux.has_value());
  EXPECT_FALSE(s.linux->uid_mappings.empty());
  EXPECT_FALSE(s.linux->gid_mappings.empty());
}

TEST(OciSpecJson, ContainerdDefaultSpecRoundTripsUnchanged) {
  auto out = Shell("ctr oci spec 2>/dev/null");
  ASSERT_TRUE(out) << "`ctr oci spec` failed: ctr is required (scripts/setup installs it)";
  ExpectRoundTrip(*out);
}

TEST(OciSpecJson, MemoryLimitZeroIsNotAbsent) {
  LinuxResources zero = DecodeResources(R"({"memory":{"limit":0}})");
  ASSERT_TRUE(zero.memory.has_value());
  ASSERT_TRUE(zero.memory->limit.has_value());
  EXPECT_EQ(*zero.memory->limit, 0);
  EXPECT_EQ(json::parse(EncodeResources(zero)), json::parse(R"({"memory":{"limit":0}})"));

  LinuxResources absent = DecodeResources(R"({"memory":{}})");
  ASSERT_TRUE(absent.memory.has_value());
  EXPECT_FALSE(absent.memory->limit.has_value());
  EXPECT_EQ(json::parse(EncodeResources(absent)), json::parse(R"({"memory":{}})"));

  LinuxResources none = DecodeResources("{}");
  EXPECT_FALSE(none.memory.has_value());
  EXPECT_EQ(EncodeResources(none), "{}");
}

TEST(OciSpecJson, UnknownMembersAreKeptAtEveryLevel) {
  const char* text = R"({
    "ociVersion": "1.1.0", "x-top": {"a": [1, 2.5, null]},
    "process": {"cwd": "/", "user": {"uid": 1, "gid": 2, "x-user": true},
                "args": ["sh"], "ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 1}},
    "root": {"path": "/r"},
    "linux": {"resources": {"memory": {"limit": 5, "x-mem": "y"}}, "timeOffsets": {}},
    "windows": {"layerFolders": ["a"]}, "vm": {"kernel": {"path": "/k"}}
  })";
  Spec s = DecodeSpec(text);
  EXPECT_EQ(s.extra.at("x-top"), json::parse(R"({"a": [1, 2.5, null]})"));
  EXPECT_TRUE(s.extra.contains("windows"));
  EXPECT_TRUE(s.process->user.extra.at("x-user").get<bool>());
  EXPECT_TRUE(s.process->extra.contains("ioPriority"));
  EXPECT_EQ(s.linux->resources->memory->extra.at("x-mem"), "y");
  EXPECT_EQ(json::parse(EncodeSpec(s)), json::parse(text));
}

TEST(OciSpecJson, ExplicitEmptyValuesRoundTrip) {
  // Go would drop these; we keep them so that hand-written specs survive unchanged.
  const char* text =
      R"({"ociVersion":"1.0.2","process":{"terminal":false,"cwd":"/","user":{"uid":0,"gid":0},
    "args":[],"env":null},"root":{"path":"rootfs","readonly":false},"hostname":"","annotations":{},
    "hooks":null})";
  Spec s = DecodeSpec(text);
  EXPECT_FALSE(s.hooks.has_value());
  EXPECT_FALSE(s.process->terminal);
  EXPECT_EQ(json::parse(EncodeSpec(s)), json::parse(text));
  // A value set later wins over the remembered explicit empty one.
  s.process->terminal = true;
  s.hostname = "h";
  json j = json::parse(EncodeSpec(s));
  EXPECT_EQ(j["process"]["terminal"], true);
  EXPECT_EQ(j["hostname"], "h");
}

TEST(OciSpecJson, GoOmitEmptyRulesOnEncode) {
  Spec s;
  s.oci_version = "1.0.2-dev";
  s.process.emplace();
  json j = json::parse(EncodeSpec(s));
  // Required members are written even when zero; omitempty ones are not.
  EXPECT_EQ(j, json::parse(
                   R"({"ociVersion":"1.0.2-dev","process":{"user":{"uid":0,"gid":0},"cwd":""}})"));
}

TEST(OciSpecJson, ProcessAndResourcesCodecs) {
  Process p;
  p.args = {"ls", "-l"};
  p.env = {"A=b"};
  p.cwd = "/tmp";
  p.user.uid = 65534;
  p.user.umask = 022;
  p.user.additional_gids = {1, 2};
  p.oom_score_adj = 0;  // zero but present
  json j = json::parse(EncodeProcess(p));
  EXPECT_EQ(j["user"]["umask"], 18);
  EXPECT_EQ(j["oomScoreAdj"], 0);
  EXPECT_EQ(DecodeProcess(EncodeProcess(p)), p);

  LinuxResources r;
  r.cpu.emplace();
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.pids = LinuxPids{.limit = 10};
  r.unified["memory.high"] = "max";
  r.rdma["mlx5_1"] = LinuxRdma{.hca_handles = 3};
  r.devices.push_back({.allow = true, .type = "c", .major = 1, .minor = 3, .access = "rwm"});
  json rj = json::parse(EncodeResources(r));
  EXPECT_EQ(rj["cpu"], json::parse(R"({"quota":50000,"period":100000})"));
  EXPECT_EQ(rj["pids"]["limit"], 10);
  EXPECT_EQ(rj["rdma"]["mlx5_1"]["hcaHandles"], 3);
  EXPECT_EQ(DecodeResources(EncodeResources(r)), r);
}

TEST(OciSpecJson, LargeUnsignedValuesSurvive) {
  const char* text = R"({"memory":{"limit":9223372036854775807,"swappiness":18446744073709551615},
    "cpu":{"quota":-1}})";
  LinuxResources r = DecodeResources(text);
  EXPECT_EQ(*r.memory->limit, INT64_MAX);
  EXPECT_EQ(*r.memory->swappiness, UINT64_MAX);
  EXPECT_EQ(*r.cpu->quota, -1);
  EXPECT_EQ(json::parse(EncodeResources(r)), json::parse(text));
}

// ---- malformed input: always Error{kInvalidArgument} naming the path, never a crash ----

namespace {
void ExpectInvalid(std::string_view text, const std::string& message_prefix) {
  try {
    DecodeSpec(text);
    ADD_FAILURE() << "accepted: " << text.substr(0, 200);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    EXPECT_EQ(e.message().rfind(message_prefix, 0), 0u)
        << "message \"" << e.message() << "\" does not start with \"" << message_prefix << "\"";
  }
}
}  // namespace

TEST(OciSpecJson, TruncatedJsonIsInvalidArgument) {
  std::string text = RuncSpec("");
  ASSERT_GT(text.size(), 100u);
  for (size_t cut : {size_t{0}, size_t{1}, text.size() / 3, text.size() / 2, text.size() - 1}) {
    ExpectInvalid(text.substr(0, cut), "$: malformed JSON");
  }
}

TEST(OciSpecJson, WrongTypesNameTheJsonPath) {
  ExpectInvalid("[]", "$: expected an object, got an array");
  ExpectInvalid(R"({"ociVersion": 1})", "ociVersion: expected a string, got an integer");
  ExpectInvalid(R"({"process": {"user": {"uid": -1}}})",
                "process.user.uid: expected an unsigned 32-bit integer");
  ExpectInvalid(R"({"process": {"user": {"uid": 4294967296}}})",
                "process.user.uid: expected an unsigned 32-bit integer");
  ExpectInvalid(R"({"process": {"user": {"uid": 1.5}}})",
                "process.user.uid: expected an unsigned 32-bit integer, got a non-integer number");
  ExpectInvalid(R"({"process": {"args": ["sh", 3]}})", "process.args[1]: expected a string");
  ExpectInvalid(R"({"process": {"terminal": "yes"}})", "process.terminal: expected a boolean");
  ExpectInvalid(R"({"mounts": {}})", "mounts: expected an array, got an object");
  ExpectInvalid(R"({"linux": {"resources": {"memory": {"limit": "1G"}}}})",
                "linux.resources.memory.limit: expected a signed 64-bit integer, got a string");
  ExpectInvalid(R"({"annotations": {"a.b/c": 1}})", R"(annotations["a.b/c"]: expected a string)");
  ExpectInvalid(R"({"linux": {"resources": {"blockIO": {"weight": 70000}}}})",
                "linux.resources.blockIO.weight: expected an unsigned 16-bit integer");
  ExpectInvalid("\"\xff\"", "$: malformed JSON");
}

TEST(OciSpecJson, HugeStringsAreHandled) {
  std::string big(1 << 20, 'a');
  Spec s = DecodeSpec(R"({"ociVersion":"1.0.2","hostname":")" + big + R"("})");
  EXPECT_EQ(s.hostname.size(), big.size());
  ExpectInvalid(R"({"ociVersion":")" + big, "$: malformed JSON");
  // A megabyte of digits overflows a double: refused (as Go does), with a short message.
  try {
    DecodeSpec(R"({"x-unknown":)" + std::string(1 << 20, '9') + "}");
    ADD_FAILURE() << "accepted a number beyond float64";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.message().rfind("$: malformed JSON: number overflow", 0), 0u)
        << e.message().substr(0, 100);
    EXPECT_LT(e.message().size(), 300u);
  }
  ExpectInvalid(R"({"hostname":1e300})", "hostname: expected a string, got a non-integer number");
}

TEST(OciSpecJson, DeepNestingIsRefusedWithoutRecursion) {
  std::string deep = R"({"x":)" + std::string(1 << 20, '[') + std::string(1 << 20, ']') + "}";
  ExpectInvalid(deep, "$: JSON nested deeper than 256 levels");
  std::string ok = R"({"x":)" + std::string(200, '[') + std::string(200, ']') + "}";
  EXPECT_NO_THROW(DecodeSpec(ok));
  // Brackets inside strings do not count.
  EXPECT_NO_THROW(DecodeSpec(R"({"hostname":")" + std::string(1000, '[') + R"("})"));
}

TEST(OciSpecJson, EncodeRejectsInvalidUtf8WithInvalidArgument) {
  Spec s;
  s.hostname = "\xff\xfe";
  try {
    EncodeSpec(s);
    FAIL() << "encoded invalid UTF-8";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  }
}

// EncodeSpec writes the text directly (no JSON tree, issue 20): it must give exactly the bytes
// of the tree's dump, for escapes, non-ASCII, `extra` members that override or are overridden,
// floats and a decoded spec with unknown members; and fail alike on invalid UTF-8.
namespace {
std::string TreeDump(const Spec& s) { return ToJson(s).dump(); }
}  // namespace

TEST(SpecJson, DirectEncoderGivesTheBytesOfTheJsonTree) {
  SpecOptions so;
  so.id = "x";
  so.ns = "n";
  so.args = {"/bin/true"};
  so.rootfs = "/r";
  Spec s = DefaultSpec(so);
  EXPECT_EQ(EncodeSpec(s), TreeDump(s));
  Spec u = s;
  u.hostname = "h\xc3\xa9llo\"\\\n\t\x01/\x7f";
  u.process->env.push_back("A=\xe2\x82\xac");
  EXPECT_EQ(EncodeSpec(u), TreeDump(u));
  Spec x = s;
  x.extra["zzz"] = 1.5;
  x.extra["aaa"] = {{"b", 1e100}, {"a", nullptr}, {"c", {1, -2, true, "s\n"}}};
  x.extra["hostname"] = "shadowed?";
  x.extra["ociVersion"] = "replaced";
  EXPECT_EQ(EncodeSpec(x), TreeDump(x));
  Spec rich = DecodeSpec(
      R"({"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":0,"additionalGids":[1,2]},)"
      R"("args":["sh"],"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],)"
      R"("x-unknown":{"q":[1,2.25]}},"root":{"path":"rootfs","readonly":true},)"
      R"("annotations":{"b":"2","a":"1","\u00e9":"x"},"linux":{"resources":{"memory":)"
      R"({"limit":1000,"swap":-1},"cpu":{"shares":512,"quota":-1}},"namespaces":[{"type":"pid"}],)"
      R"("uidMappings":[{"containerID":0,"hostID":1000,"size":1}]},"hostname":""})");
  EXPECT_EQ(EncodeSpec(rich), TreeDump(rich));
  Spec bad = s;
  bad.hostname = "\xff\xfe";
  try {
    EncodeSpec(bad);
    ADD_FAILURE() << "invalid UTF-8 was encoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  }
}
