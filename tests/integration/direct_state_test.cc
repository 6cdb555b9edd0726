// The direct backend's containers and state on disk (no task, so no monitor runs): the record
// and bundle layout, the cgroupsPath default, validation, option errors, use after close.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "direct_test_fixture.h"

namespace lcdtest {
namespace {
using namespace libcontainerd;

class DirectStateTest : public DirectTest {
 protected:
  void SetUp() override {
    DirectTest::SetUp();
    auto o = ClientOptions();
    if (o.monitor_path.empty()) o.monitor_path = "/bin/true";  // no task is started here
    client_ = NewDirectClient(o);
  }
};

TEST_F(DirectStateTest, NewContainerWritesRecordAndBundleAndDeleteRemovesEverything) {
  auto c = client_->NewContainer(ctx_, "rec1", SpecOf("rec1", {"true"}), "",
                                 RuncOptions{.systemd_cgroup = false, .no_new_keyring = true},
                                 ContainerOptions{.labels = {{"a", "b"}}});
  const std::string dir = ContainerDir("rec1");
  ASSERT_TRUE(PathExists(dir + "/container.json"));
  ASSERT_TRUE(PathExists(dir + "/bundle/config.json"));
  EXPECT_FALSE(PathExists(dir + "/task"));
  struct stat st {};
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "the root is private";
  auto record = nlohmann::json::parse(Slurp(dir + "/container.json"));
  EXPECT_EQ(record["id"], "rec1");
  EXPECT_EQ(record["labels"]["a"], "b");
  auto bundle = nlohmann::json::parse(Slurp(dir + "/bundle/config.json"));
  EXPECT_EQ(bundle["linux"]["cgroupsPath"], "/lcd/" + ns_ + "/rec1")
      << "an empty cgroupsPath becomes /lcd/<ns>/<id>";
  EXPECT_EQ(bundle["root"]["path"], Rootfs()) << "root.path stays as given";

  // The same container through a fresh load, and through the list.
  auto loaded = client_->LoadContainer(ctx_, "rec1");
  EXPECT_EQ(loaded->Labels(ctx_), (std::map<std::string, std::string>{{"a", "b"}}));
  EXPECT_EQ(loaded->Image(ctx_), "");
  EXPECT_EQ(loaded->Spec(ctx_).linux->cgroups_path, "/lcd/" + ns_ + "/rec1");
  auto rt = loaded->Runtime(ctx_);
  EXPECT_EQ(rt.name, "io.containerd.runc.v2");
  ASSERT_NE(rt.options.runc(), nullptr);
  EXPECT_TRUE(rt.options.runc()->no_new_keyring);
  EXPECT_EQ(rt.options.runc()->root, RuntimeRoot()) << "an empty root is the Client's";
  EXPECT_EQ(client_->ListContainers(ctx_), std::vector<std::string>{"rec1"});
  EXPECT_THROW(loaded->GetTask(ctx_), Error);

  c->Delete(ctx_);
  EXPECT_FALSE(PathExists(dir));
  EXPECT_FALSE(PathExists(root_ + "/" + ns_)) << "the namespace's directory goes with the last";
  EXPECT_TRUE(client_->ListContainers(ctx_).empty());
  try {
    loaded->Labels(ctx_);
    FAIL() << "a deleted container's record is gone";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  try {
    client_->LoadContainer(ctx_, "rec1");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  try {
    loaded->Delete(ctx_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  EXPECT_TRUE(Leftovers().empty());
}

TEST_F(DirectStateTest, AGivenCgroupsPathIsKept) {
  auto spec = SpecOf("cg1", {"true"});
  spec.linux->cgroups_path = "/mine/cg1";
  auto c = client_->NewContainer(ctx_, "cg1", spec, "", RuncOptions{});
  EXPECT_EQ(c->Spec(ctx_).linux->cgroups_path, "/mine/cg1");
  c->Delete(ctx_);
}

TEST_F(DirectStateTest, BadIdsSpecsAndOptionsAreRefusedAndLeaveNothing) {
  auto kind_of = [&](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::kUnknown;  // "no error" reads as a mismatch below
  };
  EXPECT_EQ(kind_of([&] { Create("bad id!", {"true"}); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kind_of([&] { Create("", {"true"}); }), ErrorKind::kInvalidArgument);
  auto no_args = SpecOf("noargs", {"true"});
  no_args.process->args.clear();
  EXPECT_EQ(kind_of([&] { client_->NewContainer(ctx_, "noargs", no_args, "", RuncOptions{}); }),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(kind_of([&] {
              client_->NewContainer(ctx_, "typed", SpecOf("typed", {"true"}), "",
                                    TypedMessage{"example.com/Other", "x"});
            }),
            ErrorKind::kInvalidArgument)
      << "another shim's options cannot be run by the direct backend";
  EXPECT_EQ(kind_of([&] {
              client_->NewContainer(ctx_, "shim", SpecOf("shim", {"true"}), "noshim",
                                    RuncOptions{});
            }),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(kind_of([&] {
              client_->NewContainer(ctx_, "img", SpecOf("img", {"true"}), "", RuncOptions{},
                                    ContainerOptions{.image = "busybox:latest"});
            }),
            ErrorKind::kNotImplemented);
  EXPECT_EQ(kind_of([&] {
              client_->NewContainer(ctx_, "bin", SpecOf("bin", {"true"}), "",
                                    RuncOptions{.binary_name = "/nonexistent/runc"});
            }),
            ErrorKind::kNotFound);
  EXPECT_EQ(kind_of([&] {
              client_->NewContainer(ctx_, "net", SpecOf("net", {"true"}), "", RuncOptions{},
                                    ContainerOptions{.network = net::NetworkRequest{}});
            }),
            ErrorKind::kInvalidArgument)
      << "a network needs a net::Manager in the options";
  EXPECT_TRUE(client_->ListContainers(ctx_).empty());
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());

  auto c = Create("dup", {"true"});
  EXPECT_EQ(kind_of([&] { Create("dup", {"true"}); }), ErrorKind::kAlreadyExists);
  EXPECT_EQ(client_->ListContainers(ctx_), std::vector<std::string>{"dup"});
  c->Delete(ctx_);
}

TEST_F(DirectStateTest, NewDirectClientRefusesBadOptionsNamingWhatIsWrong) {
  auto kind_of = [&](DirectClientOptions o) {
    try {
      NewDirectClient(o);
    } catch (const Error& e) {
      return std::make_pair(e.kind(), std::string(e.what()));
    }
    return std::make_pair(ErrorKind::kUnknown, std::string("no error"));
  };
  auto base = ClientOptions();
  base.monitor_path = "/bin/true";
  auto o = base;
  o.root = "relative/dir";
  EXPECT_EQ(kind_of(o).first, ErrorKind::kInvalidArgument);
  o = base;
  o.ns = "bad ns";
  EXPECT_EQ(kind_of(o).first, ErrorKind::kInvalidArgument);
  o = base;
  o.runtime = "no-such-runtime-binary";
  auto r = kind_of(o);
  EXPECT_EQ(r.first, ErrorKind::kNotFound);
  EXPECT_NE(r.second.find("no-such-runtime-binary"), std::string::npos) << r.second;
  o = base;
  o.monitor_path = "/nonexistent/lcd-monitor";
  r = kind_of(o);
  EXPECT_EQ(r.first, ErrorKind::kNotFound);
  EXPECT_NE(r.second.find("/nonexistent/lcd-monitor"), std::string::npos) << r.second;
}

TEST_F(DirectStateTest, ObjectsOfADestroyedClientAreUnavailable) {
  auto c = Create("closed1", {"true"});
  client_.reset();
  try {
    c->Labels(ctx_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable) << e.what();
  }
  // Clean up with a new Client: the container is still there.
  auto o = ClientOptions();
  o.monitor_path = "/bin/true";
  auto again = NewDirectClient(o);
  again->LoadContainer(ctx_, "closed1")->Delete(ctx_);
}

TEST_F(DirectStateTest, GetVersionGivesTheRuntimesVersion) {
  auto v = client_->GetVersion(ctx_);
  EXPECT_FALSE(v.version.empty());
  EXPECT_EQ(v.version.find("runc"), std::string::npos) << v.version;
  EXPECT_FALSE(v.revision.empty());
  EXPECT_EQ(client_->Namespace(), ns_);
}

TEST_F(DirectStateTest, ANewClientRemovesDirectoriesOfCreatesCutShortOnceSettled) {
  // What a NewContainer killed before its record was written leaves: a directory, no record.
  const std::string old_dir = ContainerDir("half1");
  const std::string fresh_dir = ContainerDir("half2");
  std::filesystem::create_directories(old_dir + "/bundle");
  std::filesystem::create_directories(fresh_dir + "/bundle");
  std::filesystem::last_write_time(
      old_dir, std::filesystem::file_time_type::clock::now() - std::chrono::minutes(2));
  auto o = ClientOptions();
  o.monitor_path = "/bin/true";
  auto again = NewDirectClient(o);
  EXPECT_FALSE(PathExists(old_dir));
  EXPECT_TRUE(PathExists(fresh_dir)) << "another Client may be making it right now";
  EXPECT_TRUE(again->ListContainers(ctx_).empty());
  std::filesystem::remove_all(fresh_dir);
}

}  // namespace
}  // namespace lcdtest
