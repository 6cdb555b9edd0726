// ImageService::WithSnapshot against the real containerd: a container's writable snapshot mounted
// read-write while it has no task (what docker cp into a stopped container needs): a file written
// there is seen by the container's next task, a file the task wrote is read back, the mount is
// gone after fn (also when fn throws), and a missing key is kNotFound. Traffic: loopback.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/cio.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/images.h"
#include "libcontainerd/oci/image.h"
#include "registry_fixture.h"
#include "test_util.h"

using namespace libcontainerd;

namespace {
namespace fs = std::filesystem;

class ImagesSnapshotTest : public lcdtest::ClientTest {
 protected:
  static void SetUpTestSuite() { registry_ = new lcdtest::LocalRegistry(); }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  void SetUp() override {
    ClientTest::SetUp();
    images_ = client_->Images();
  }
  void TearDown() override {
    if (client_) {
      CleanNamespace();
      for (const auto& img : images_->List(ctx_)) images_->Remove(ctx_, img.name, {.force = true});
    }
    ClientTest::TearDown();
  }

  // busybox pushed to the registry and pulled; its reference.
  std::string PullBusybox() {
    lcdtest::OciLayoutBuilder b(scratch_.path() + "/busybox");
    b.AddImage({lcdtest::OciLayoutBuilder::BusyboxLayer()}, {}, "v1");
    std::string ref = registry_->host() + "/snapbusybox:v1";
    registry_->Push(b.dir(), "v1", "snapbusybox:v1");
    images_->Pull(ctx_, ref);
    return ref;
  }

  // A container of image running args (no task yet).
  std::shared_ptr<Container> NewFromImage(const std::string& image, const std::string& id,
                                          std::vector<std::string> args) {
    images::Image info = images_->Inspect(ctx_, image);
    oci::ImageOverrides o;
    o.cmd = std::move(args);
    oci::SpecOptions base;
    base.id = id;
    base.ns = ns_;
    oci::Spec spec;
    images_->WithRootfs(ctx_, image, [&](const std::string& dir) {
      spec = oci::SpecFromImage(info.config, o, base, dir);
    });
    return client_->NewContainer(ctx_, id, spec, "", {}, {.image = info.name});
  }

  // Runs the container's task to its end; its stdout.
  std::string RunTask(Container& c) {
    auto out = std::make_shared<cio::Captured>();
    auto task = c.NewTask(ctx_, "", false, cio::Capture(out));
    task->Start(ctx_);
    auto st = task->Wait(ctx_);
    task->Delete(ctx_);
    EXPECT_EQ(st.exit_code, 0u) << out->Out();
    return out->Out();
  }

  static bool IsMountPoint(const std::string& dir) {
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
      std::istringstream words(line);
      std::string w;
      for (int i = 0; i < 5 && words >> w; ++i) {
      }
      if (w == dir) return true;
    }
    return false;
  }

  static lcdtest::LocalRegistry* registry_;
  std::shared_ptr<images::ImageService> images_;
  lcdtest::ScratchDir scratch_{"lcd-snaptest"};
};
lcdtest::LocalRegistry* ImagesSnapshotTest::registry_ = nullptr;

TEST_F(ImagesSnapshotTest, WritesReachTheContainersNextTaskAndItsWritesAreRead) {
  std::string image = PullBusybox();
  std::string id = lcdtest::UniqueId("snap");
  auto c = NewFromImage(image, id, {"sh", "-c", "cat /copied/in.txt; echo task > /from-task"});

  std::string seen_dir;
  images_->WithSnapshot(ctx_, "overlayfs", id, [&](const std::string& dir) {
    seen_dir = dir;
    EXPECT_TRUE(IsMountPoint(dir)) << dir << " is not mounted";
    EXPECT_TRUE(fs::exists(dir + "/bin/sh")) << "the image's files are not under " << dir;
    fs::create_directories(dir + "/copied");
    std::ofstream(dir + "/copied/in.txt") << "hello from the host\n";
  });
  EXPECT_FALSE(fs::exists(seen_dir)) << "the mount directory was left behind";
  EXPECT_FALSE(IsMountPoint(seen_dir));

  EXPECT_EQ(RunTask(*c), "hello from the host\n");

  std::string from_task;
  images_->WithSnapshot(ctx_, "", id, [&](const std::string& dir) {
    std::ifstream in(dir + "/from-task");
    std::getline(in, from_task);
  });
  EXPECT_EQ(from_task, "task");
  c->Delete(ctx_);
}

TEST_F(ImagesSnapshotTest, UnmountsWhenFnThrowsAndMissingKeyIsNotFound) {
  std::string image = PullBusybox();
  std::string id = lcdtest::UniqueId("snap");
  auto c = NewFromImage(image, id, {"true"});
  std::string seen_dir;
  EXPECT_THROW(images_->WithSnapshot(ctx_, "overlayfs", id,
                                     [&](const std::string& dir) {
                                       seen_dir = dir;
                                       throw std::runtime_error("fn failed");
                                     }),
               std::runtime_error);
  ASSERT_FALSE(seen_dir.empty());
  EXPECT_FALSE(IsMountPoint(seen_dir));
  EXPECT_FALSE(fs::exists(seen_dir));

  bool called = false;
  try {
    images_->WithSnapshot(ctx_, "overlayfs", "no-such-snapshot-" + id,
                          [&](const std::string&) { called = true; });
    ADD_FAILURE() << "WithSnapshot of a missing key did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
    EXPECT_NE(std::string(e.what()).find("no-such-snapshot-"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(called);
  c->Delete(ctx_);
}

}  // namespace
