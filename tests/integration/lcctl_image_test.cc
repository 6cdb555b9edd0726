// Drives the built lcctl binary's image commands end to end against the fixture's containerd
// (-a, a namespace per test) and a real docker-registry on 127.0.0.1 (registry_fixture.h):
// pull with progress, ls, inspect, run from an image (its env, working dir and user; overrides),
// container ls's IMAGE, rm refused while in use, tag, export and import into another
// namespace, prune, the built-in busybox default, Basic auth with a password on stdin, and
// unknown images.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"
#include "registry_fixture.h"
#include "run_program.h"
#include "test_util.h"

#ifndef LCCTL_PATH
#error "LCCTL_PATH must name the lcctl binary"
#endif

extern char** environ;

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using lcdtest::Describe;
using lcdtest::Result;

// Runs argv (no shell) with stdin from `input` (or none), collects stdout and stderr; killed
// after the timeout.
Result Exec(const std::vector<std::string>& argv, const std::string& input = "",
            std::chrono::seconds timeout = std::chrono::seconds(120)) {
  return lcdtest::Collect(lcdtest::Spawn(argv, input.empty() ? nullptr : &input, {}), timeout);
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool HasLine(const std::string& s, const std::string& line) {
  auto l = Lines(s);
  return std::find(l.begin(), l.end(), line) != l.end();
}

std::string Short(const std::string& digest) { return digest.substr(7, 12); }

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// The test image: busybox plus a layer with /app/hello.txt; env, working dir /app and user
// "app" (uid 1000 in the busybox layer's /etc/passwd).
struct TestImage {
  std::string manifest;
  std::vector<std::string> layers;  // compressed layer digests, bottom first
};

TestImage BuildAppImage(lcdtest::OciLayoutBuilder& b, const std::string& tag) {
  lcdtest::TestLayer app;
  app.files["app/hello.txt"] = "hello file\n";
  lcdtest::TestImageConfig cfg;
  cfg.env = {"PATH=/bin", "GREETING=hello-from-image"};
  cfg.working_dir = "/app";
  cfg.user = "app";
  cfg.cmd = {"sh", "-c", "echo $GREETING; pwd; id -u"};
  cfg.labels = {{"lcd.test", "lcctl-image"}};
  TestImage t;
  t.manifest = b.AddImage({lcdtest::OciLayoutBuilder::BusyboxLayer(), app}, cfg, tag);
  const json manifest = ReadJson(b.BlobPath(t.manifest));  // kept alive for the loop
  for (const auto& l : manifest["layers"]) t.layers.push_back(l["digest"]);
  return t;
}

// One registry for the suite, holding app:1.
struct Shared {
  lcdtest::ScratchDir scratch;
  std::unique_ptr<lcdtest::LocalRegistry> registry;
  std::unique_ptr<lcdtest::OciLayoutBuilder> builder;
  TestImage app;
  std::string ref;  // 127.0.0.1:PORT/app:1
};
Shared* shared = nullptr;

class LcctlImage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared = new Shared();
    shared->builder =
        std::make_unique<lcdtest::OciLayoutBuilder>(shared->scratch.path() + "/layout");
    shared->app = BuildAppImage(*shared->builder, "1");
    shared->registry = std::make_unique<lcdtest::LocalRegistry>();
    shared->registry->Push(shared->builder->dir(), "1", "app:1");
    shared->ref = shared->registry->host() + "/app:1";
  }
  static void TearDownTestSuite() {
    delete shared;
    shared = nullptr;
  }

  std::string ns_ = lcdtest::UniqueId("lcctlimg");
  std::vector<std::string> extra_ns_;

  void TearDown() override {
    extra_ns_.push_back(ns_);
    for (const auto& ns : extra_ns_) {
      for (const auto& id : Lines(RunIn(ns, {"container", "ls", "-q"}).out))
        RunIn(ns, {"container", "rm", "-f", id});
      auto names = Lines(RunIn(ns, {"image", "ls", "-q"}).out);
      if (names.empty()) continue;
      std::vector<std::string> rm{"image", "rm", "-f", "--sync"};
      rm.insert(rm.end(), names.begin(), names.end());
      RunIn(ns, rm);
    }
  }

  std::vector<std::string> Argv(const std::string& ns, const std::vector<std::string>& args) {
    std::vector<std::string> argv{LCCTL_PATH, "-a", lcdtest::DaemonAddress(), "-n", ns};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  Result RunIn(const std::string& ns, const std::vector<std::string>& args,
               const std::string& input = "") {
    return Exec(Argv(ns, args), input);
  }
  Result Run(const std::vector<std::string>& args, const std::string& input = "") {
    return RunIn(ns_, args, input);
  }
  Result Ok(const std::vector<std::string>& args, const std::string& input = "") {
    Result r = Run(args, input);
    EXPECT_EQ(r.code, 0) << Describe(Argv(ns_, args), r);
    return r;
  }
  // Expects exit `code` and exactly one line on stderr starting "lcctl: ".
  Result Fails(int code, const std::vector<std::string>& args) {
    Result r = Run(args);
    EXPECT_EQ(r.code, code) << Describe(Argv(ns_, args), r);
    EXPECT_EQ(r.err.rfind("lcctl: ", 0), 0u) << Describe(Argv(ns_, args), r);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << Describe(Argv(ns_, args), r);
    return r;
  }
  json Json(const Result& r) {
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  std::string Pulled() {
    Ok({"image", "pull", "-q", shared->ref});
    return shared->ref;
  }
  std::string Ctr(const std::string& args) {
    std::string out;
    lcdtest::Sh("ctr -a " + lcdtest::DaemonAddress() + " -n " + ns_ + " " + args + " 2>&1", &out);
    return out;
  }
};

TEST_F(LcctlImage, PullPrintsPlainProgressPerLayerAndTheDigestAndLsShowsIt) {
  const std::string& ref = shared->ref;
  Result r = Ok({"image", "pull", ref});
  EXPECT_TRUE(HasLine(r.out, "1: Pulling from app")) << r.out;
  EXPECT_EQ(r.out.find('\033'), std::string::npos) << "no cursor moves when stdout is a pipe";
  for (const auto& layer : shared->app.layers) {
    // State changes only (one Downloading line, not one per chunk), ending in Pull complete.
    std::vector<std::string> mine;
    for (const auto& l : Lines(r.out))
      if (l.rfind(Short(layer) + ": ", 0) == 0) mine.push_back(l.substr(14));
    ASSERT_FALSE(mine.empty()) << Short(layer) << "\n" << r.out;
    EXPECT_EQ(mine.back(), "Pull complete") << r.out;
    EXPECT_EQ(std::count_if(mine.begin(), mine.end(),
                            [](const std::string& l) { return l.rfind("Downloading", 0) == 0; }),
              1)
        << r.out;
    EXPECT_NE(std::find(mine.begin(), mine.end(), "Extracting"), mine.end()) << r.out;
  }
  EXPECT_TRUE(HasLine(r.out, "Digest: " + shared->app.manifest)) << r.out;
  EXPECT_TRUE(HasLine(r.out, "Status: Downloaded newer image for " + ref)) << r.out;
  EXPECT_EQ(Lines(r.out).back(), "Status: Downloaded newer image for " + ref);

  // Again: nothing new.
  r = Ok({"image", "pull", ref});
  EXPECT_TRUE(HasLine(r.out, "Status: Image is up to date for " + ref)) << r.out;
  // -q: the digest line only.
  r = Ok({"image", "pull", "-q", ref});
  EXPECT_EQ(r.out, "Digest: " + shared->app.manifest + "\n");

  r = Ok({"image", "ls"});
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].rfind("NAME", 0), 0u) << r.out;
  EXPECT_EQ(lines[1].rfind(ref + " ", 0), 0u) << r.out;
  EXPECT_NE(lines[1].find(" " + Short(shared->app.manifest) + " "), std::string::npos) << r.out;
  EXPECT_NE(lines[1].find("linux/amd64"), std::string::npos) << r.out;
  EXPECT_EQ(Ok({"images", "ls", "-q"}).out, ref + "\n");
  json j = Json(Ok({"i", "ls", "--json"}));
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["name"], ref);
  EXPECT_EQ(j[0]["digest"], shared->app.manifest);
  EXPECT_GT(j[0]["size"].get<int64_t>(), 1000000);  // busybox is in it
  // ctr sees the image the library recorded.
  EXPECT_NE(Ctr("images ls -q").find(ref), std::string::npos);
}

TEST_F(LcctlImage, PullOnATerminalRewritesOneLinePerLayerInPlace) {
  // script(1) gives lcctl a pseudo-terminal as stdout.
  std::string cmd = std::string(LCCTL_PATH) + " -a " + lcdtest::DaemonAddress() + " -n " + ns_ +
                    " image pull " + shared->ref;
  Result r = Exec({"script", "-qfec", cmd, "/dev/null"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\033[2K"), std::string::npos) << "lines are rewritten in place";
  for (const auto& layer : shared->app.layers)
    EXPECT_NE(r.out.find(Short(layer) + ": Pull complete"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Status: Downloaded newer image for " + shared->ref), std::string::npos);
}

TEST_F(LcctlImage, InspectPrintsTheConfigAsJson) {
  std::string ref = Pulled();
  json j = Json(Ok({"image", "inspect", ref}));
  EXPECT_EQ(j["name"], ref);
  EXPECT_EQ(j["digest"], shared->app.manifest);
  EXPECT_EQ(j["media_type"], "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(j["platforms"], json::array({"linux/amd64"}));
  EXPECT_EQ(j["config"]["working_dir"], "/app");
  EXPECT_EQ(j["config"]["user"], "app");
  EXPECT_EQ(j["config"]["env"], json::array({"PATH=/bin", "GREETING=hello-from-image"}));
  EXPECT_EQ(j["config"]["cmd"], json::array({"sh", "-c", "echo $GREETING; pwd; id -u"}));
  EXPECT_EQ(j["config"]["labels"]["lcd.test"], "lcctl-image");
  EXPECT_EQ(j["diff_ids"].size(), 2u);
  EXPECT_EQ(j["unpacked"], true);
  EXPECT_TRUE(j["history"].is_array());
}

TEST_F(LcctlImage, RunFromAnImageAppliesItsConfigAndTheOverridesWin) {
  std::string ref = Pulled();
  std::string c1 = lcdtest::UniqueId("img");
  Result r = Ok({"run", "--rm", ref, c1});
  EXPECT_EQ(r.out, "hello-from-image\n/app\n1000\n");
  // The container's snapshot went with it.
  EXPECT_EQ(Ctr("snapshots ls").find(c1), std::string::npos);

  r = Ok({"run", "--rm", "-e", "GREETING=over", "-w", "/tmp", "-u", "0", ref,
          lcdtest::UniqueId("img")});
  EXPECT_EQ(r.out, "over\n/tmp\n0\n");
  r = Ok({"run", "--rm", ref, lcdtest::UniqueId("img"), "echo", "hi"});
  EXPECT_EQ(r.out, "hi\n");
  r = Ok({"run", "--rm", ref, lcdtest::UniqueId("img"), "cat", "hello.txt"});
  EXPECT_EQ(r.out, "hello file\n");
  r = Ok({"run", "--rm", "--entrypoint", "/bin/echo", ref, lcdtest::UniqueId("img"), "a", "b"});
  EXPECT_EQ(r.out, "a b\n");
  // The exit code passes through.
  r = Run({"run", "--rm", ref, lcdtest::UniqueId("img"), "sh", "-c", "exit 7"});
  EXPECT_EQ(r.code, 7) << r.err;
}

TEST_F(LcctlImage, ContainerLsShowsTheImageAndRmIsRefusedWhileAContainerUsesIt) {
  std::string ref = Pulled();
  std::string id = lcdtest::UniqueId("img");
  Ok({"container", "create", ref, id});
  auto lines = Lines(Ok({"container", "ls"}).out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("IMAGE"), std::string::npos);
  EXPECT_EQ(lines[1].rfind(id + " ", 0), 0u);
  EXPECT_NE(lines[1].find(" " + ref + " "), std::string::npos) << lines[1];
  json j = Json(Ok({"container", "ls", "--json"}));
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["image"], ref);
  EXPECT_EQ(Json(Ok({"container", "info", id}))["image"], ref);

  Result r = Fails(125, {"image", "rm", ref});
  EXPECT_NE(r.err.find(ref), std::string::npos) << r.err;
  EXPECT_EQ(Ok({"image", "ls", "-q"}).out, ref + "\n");

  Ok({"container", "rm", id});
  r = Ok({"image", "rm", ref});
  EXPECT_EQ(r.out, ref + "\n");
  EXPECT_EQ(Ok({"image", "ls", "-q"}).out, "");
  Fails(125, {"image", "inspect", ref});
}

TEST_F(LcctlImage, TagThenExportAndImportIntoAnotherNamespaceKeepTheDigest) {
  std::string ref = Pulled();
  const std::string copy = "localhost/copy:2";
  EXPECT_EQ(Ok({"image", "tag", ref, copy}).out, copy + "\n");
  EXPECT_EQ(Ok({"image", "ls", "-q"}).out, ref + "\n" + copy + "\n");
  EXPECT_EQ(Json(Ok({"image", "inspect", copy}))["digest"], shared->app.manifest);

  lcdtest::ScratchDir dir;
  std::string tar = dir.path() + "/out.tar";
  Ok({"image", "export", "-o", tar, ref, copy});
  ASSERT_GT(fs::file_size(tar), 1000000u);

  std::string ns2 = lcdtest::UniqueId("lcctlimg2");
  extra_ns_.push_back(ns2);
  Result r = RunIn(ns2, {"image", "import", tar});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(HasLine(r.out, ref)) << r.out;
  EXPECT_TRUE(HasLine(r.out, copy)) << r.out;
  r = RunIn(ns2, {"image", "inspect", copy});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Json(r)["digest"], shared->app.manifest);
  // And from stdin, into a third namespace; the image runs there.
  std::string ns3 = lcdtest::UniqueId("lcctlimg3");
  extra_ns_.push_back(ns3);
  ASSERT_EQ(lcdtest::Sh(std::string(LCCTL_PATH) + " -a " + lcdtest::DaemonAddress() + " -n " + ns3 +
                        " image import - <" + tar + " >/dev/null"),
            0);
  r = RunIn(ns3, {"run", "--rm", copy, lcdtest::UniqueId("img"), "cat", "hello.txt"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello file\n");
}

TEST_F(LcctlImage, PruneRemovesAnUnnamedImportAndKeepsTaggedOnes) {
  std::string ref = Pulled();
  lcdtest::ScratchDir dir;
  lcdtest::OciLayoutBuilder b(dir.path() + "/layout");
  lcdtest::TestLayer l;
  l.files["only.txt"] = "unnamed\n";
  lcdtest::TestImageConfig cfg;
  cfg.cmd = {"true"};
  std::string digest = b.AddImage({l}, cfg, "");
  // index.json lists manifests with a name only when tagged: add it without one.
  json index = ReadJson(dir.path() + "/layout/index.json");
  index["manifests"] = json::array({{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                     {"digest", digest},
                                     {"size", b.BlobSize(digest)}}});
  std::ofstream(dir.path() + "/layout/index.json") << index.dump();
  std::string tar = dir.path() + "/unnamed.tar";
  b.WriteOciArchive(tar);
  Result r = Ok({"image", "import", "--no-unpack", tar});
  auto names = Lines(r.out);
  ASSERT_EQ(names.size(), 1u) << r.out;
  EXPECT_NE(names[0].find("@" + digest), std::string::npos) << names[0];

  r = Ok({"image", "prune"});
  EXPECT_EQ(r.out, names[0] + "\n");
  EXPECT_EQ(Ok({"image", "ls", "-q"}).out, ref + "\n");
}

TEST_F(LcctlImage, DefaultIsTheBuiltInBusyboxImageAndNoContainerChangesTheNext) {
  Result r = Ok({"run", "--rm", lcdtest::UniqueId("def"), "sh", "-c", "touch /marker; echo ok"});
  EXPECT_EQ(r.out, "ok\n");
  EXPECT_TRUE(HasLine(Ok({"image", "ls", "-q"}).out, "localhost/libcontainerd/busybox:latest"));
  r = Run({"run", "--rm", lcdtest::UniqueId("def"), "ls", "/marker"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  // container create with no IMAGE records the busybox image too.
  std::string id = lcdtest::UniqueId("def");
  Ok({"container", "create", id, "true"});
  EXPECT_EQ(Json(Ok({"container", "info", id}))["image"], "localhost/libcontainerd/busybox:latest");
}

TEST_F(LcctlImage, UnknownImageSaysToPullItAndLeavesNoContainer) {
  std::string missing = shared->registry->host() + "/nope:1";
  std::string id = lcdtest::UniqueId("img");
  Result r = Fails(125, {"run", "--rm", missing, id, "true"});
  EXPECT_NE(r.err.find("lcctl image pull " + missing), std::string::npos) << r.err;
  EXPECT_EQ(Ok({"container", "ls", "-q"}).out, "");
  r = Fails(125, {"image", "inspect", "nope:1"});
  EXPECT_NE(r.err.find("lcctl image pull nope:1"), std::string::npos) << r.err;
  // Pulling what the registry lacks names it.
  r = Fails(125, {"image", "pull", missing});
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  Fails(125, {"image", "pull", "Bad:Ref:x"});
  // IMAGE without an ID.
  Fails(125, {"run", "--rm", shared->ref});
}

TEST(LcctlImageAuth, BasicAuthPasswordFromStdinOrAfterTheColon) {
  lcdtest::ScratchDir dir;
  lcdtest::OciLayoutBuilder b(dir.path() + "/layout");
  TestImage img = BuildAppImage(b, "1");
  lcdtest::RegistryConfig rc;
  rc.auth = lcdtest::RegistryAuth::kBasic;
  lcdtest::LocalRegistry reg(rc);
  reg.Push(b.dir(), "1", "private:1");
  std::string ref = reg.host() + "/private:1";
  std::string ns = lcdtest::UniqueId("lcctlimgauth");
  auto lc = [&](std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv{LCCTL_PATH, "-a", lcdtest::DaemonAddress(), "-n", ns};
    argv.insert(argv.end(), args.begin(), args.end());
    return Exec(argv, input);
  };
  Result r = lc({"image", "pull", "-q", "-u", rc.user + ":wrong", ref});
  EXPECT_EQ(r.code, 125) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = lc({"image", "pull", "-q", "-u", rc.user, ref}, rc.password + "\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Digest: " + img.manifest + "\n");
  r = lc({"image", "pull", "-q", "-u", rc.user + ":" + rc.password, ref});
  EXPECT_EQ(r.code, 0) << r.err;
  // No password anywhere: a usage error, not an anonymous try.
  r = lc({"image", "pull", "-q", "-u", rc.user, ref});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("password"), std::string::npos) << r.err;
  lc({"image", "rm", "--sync", ref});
}

}  // namespace
