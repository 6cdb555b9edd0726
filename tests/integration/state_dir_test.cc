// The Client's state directory (<state_dir>/<ns>/<container id>/<fifo dirs>): a container's
// directory goes with the container, whoever deleted it; the namespace's with its last
// container; a young directory of an absent container is left to whoever is making it; entries
// the library did not make are never touched. Each test leaves its state root empty.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "test_util.h"

using namespace libcontainerd;
namespace fs = std::filesystem;

namespace {

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = lcdtest::DaemonRoot() + "/clients/sd-" + std::to_string(getpid());
    ns_ = lcdtest::UniqueId("sd");
    client_ = NewClient(root_);
  }

  void TearDown() override {
    // Whatever a failed test left in containerd goes, then the state root must be empty.
    try {
      auto c = NewClient(root_);
      for (const auto& id : c->ListContainers(ctx_)) {
        auto ctr = c->LoadContainer(ctx_, id);
        try {
          ctr->GetTask(ctx_)->ForceDelete(ctx_);
        } catch (const Error& e) {
          if (!IsNotFound(e)) throw;
        }
        ctr->Delete(ctx_);
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup of namespace " << ns_ << ": " << e.what();
    }
    client_.reset();
    std::error_code ec;
    EXPECT_TRUE(fs::is_empty(root_, ec)) << root_ << " holds what the test left";
    fs::remove_all(root_, ec);
  }

  std::shared_ptr<Client> NewClient(const std::string& state_dir) {
    ClientOptions o = lcdtest::TestClientOptions(ns_);
    o.state_dir = state_dir;
    return NewContainerdClient(o);
  }

  // A container running sleep whose task has stdio, so its FIFOs are in the state directory.
  std::shared_ptr<Task> RunWithStdio(Client& client, const std::string& id) {
    oci::SpecOptions o;
    o.id = id;
    o.ns = ns_;
    o.args = {"sleep", "1000"};
    o.rootfs = lcdtest::Rootfs();
    auto c = client.NewContainer(ctx_, id, oci::DefaultSpec(o), "", RuncOptions{});
    auto task = c->NewTask(ctx_, "", false, cio::Capture(std::make_shared<cio::Captured>()));
    task->Start(ctx_);
    return task;
  }

  std::string NsDir() const { return root_ + "/" + ns_; }
  std::string Dir(const std::string& id) const { return NsDir() + "/" + id; }

  // Makes a directory and what it holds look untouched for two minutes (past the 60 s rule).
  static void Backdate(const std::string& dir) {
    const timespec old[2] = {{::time(nullptr) - 120, 0}, {::time(nullptr) - 120, 0}};
    std::vector<std::string> paths{dir};
    for (const auto& e : fs::recursive_directory_iterator(dir)) paths.push_back(e.path());
    for (const auto& p : paths)
      ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), old, AT_SYMLINK_NOFOLLOW), 0) << p;
  }

  // Deletes a container through another Client with another state root: behind the back of
  // client_, whose directory for it stays.
  void DeleteBehindTheBack(const std::string& id) {
    const std::string other_root = root_ + "-other";
    {
      auto other = NewClient(other_root);
      auto c = other->LoadContainer(ctx_, id);
      c->GetTask(ctx_)->ForceDelete(ctx_);
      c->Delete(ctx_);
    }
    std::error_code ec;
    EXPECT_TRUE(fs::is_empty(other_root, ec)) << other_root;
    fs::remove_all(other_root, ec);
  }

  std::string root_;
  std::string ns_;
  std::shared_ptr<Client> client_;
  Context ctx_;
};

TEST_F(StateDirTest, DeletedContainersDirectoryGoesAndTheNamespacesWithTheLast) {
  const std::string a = lcdtest::UniqueId("sda"), b = lcdtest::UniqueId("sdb");
  auto ta = RunWithStdio(*client_, a);
  auto tb = RunWithStdio(*client_, b);
  ASSERT_TRUE(fs::is_directory(Dir(a)));
  ASSERT_TRUE(fs::is_directory(Dir(b)));
  ASSERT_FALSE(fs::is_empty(Dir(a)));  // the task's FIFO directory

  ta->ForceDelete(ctx_);
  client_->LoadContainer(ctx_, a)->Delete(ctx_);
  EXPECT_FALSE(fs::exists(Dir(a)));
  EXPECT_TRUE(fs::is_directory(Dir(b)));
  EXPECT_TRUE(fs::is_directory(NsDir())) << "b's directory keeps the namespace's";

  tb->ForceDelete(ctx_);
  client_->LoadContainer(ctx_, b)->Delete(ctx_);
  EXPECT_FALSE(fs::exists(Dir(b)));
  EXPECT_FALSE(fs::exists(NsDir())) << "the namespace's directory goes with its last container";
  EXPECT_TRUE(fs::is_directory(root_)) << "the state root itself stays";
}

TEST_F(StateDirTest, FifoDirectoriesGoWithTheirProcesses) {
  const std::string id = lcdtest::UniqueId("sdx");
  auto task = RunWithStdio(*client_, id);
  auto count = [&] {
    return std::distance(fs::directory_iterator(Dir(id)), fs::directory_iterator());
  };
  ASSERT_EQ(count(), 1);  // init's FIFOs
  auto p = task->Exec(ctx_, "e1", lcdtest::ExecSpec({"true"}), false,
                      cio::Capture(std::make_shared<cio::Captured>()));
  EXPECT_EQ(count(), 2);  // and the exec's
  p->Wait(ctx_);
  p->Delete(ctx_);
  EXPECT_EQ(count(), 1) << "the exec's FIFO directory outlived its Delete";
  task->ForceDelete(ctx_);
  EXPECT_EQ(count(), 0) << "the task's FIFO directory outlived its ForceDelete";
  EXPECT_TRUE(fs::is_directory(Dir(id))) << "the container's directory goes with the container";
  client_->LoadContainer(ctx_, id)->Delete(ctx_);
  EXPECT_FALSE(fs::exists(NsDir()));
}

TEST_F(StateDirTest, DeletedByAnotherClientIsRemovedAtTheNextClientStart) {
  const std::string id = lcdtest::UniqueId("sdo");
  { RunWithStdio(*client_, id); }
  DeleteBehindTheBack(id);
  ASSERT_TRUE(fs::is_directory(Dir(id))) << "nothing removed it yet";
  Backdate(Dir(id));
  auto next = NewClient(root_);
  EXPECT_FALSE(fs::exists(Dir(id)));
  EXPECT_FALSE(fs::exists(NsDir())) << "its last container gone, the namespace's goes too";
}

TEST_F(StateDirTest, DeleteOfAContainerAlreadyGoneStillRemovesItsDirectory) {
  const std::string id = lcdtest::UniqueId("sdg");
  RunWithStdio(*client_, id);
  auto mine = client_->LoadContainer(ctx_, id);
  DeleteBehindTheBack(id);
  ASSERT_TRUE(fs::is_directory(Dir(id)));
  try {
    mine->Delete(ctx_);
    ADD_FAILURE() << "Delete of a container someone else deleted succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  EXPECT_FALSE(fs::exists(Dir(id)));
  EXPECT_FALSE(fs::exists(NsDir()));
}

TEST_F(StateDirTest, YoungDirectoryOfAnAbsentContainerIsKept) {
  const std::string id = lcdtest::UniqueId("sdy");
  RunWithStdio(*client_, id);
  DeleteBehindTheBack(id);
  // Changed seconds ago: another Client may be making this container now.
  NewClient(root_);
  EXPECT_TRUE(fs::is_directory(Dir(id))) << "a directory younger than 60 s was removed";
  EXPECT_FALSE(fs::is_empty(Dir(id)));
  // Control: the same directory, two minutes old, goes.
  Backdate(Dir(id));
  NewClient(root_);
  EXPECT_FALSE(fs::exists(Dir(id)));
  EXPECT_FALSE(fs::exists(NsDir()));
}

TEST_F(StateDirTest, ContainerDirectoryOfALiveContainerIsKeptHoweverOld) {
  const std::string id = lcdtest::UniqueId("sdl");
  auto task = RunWithStdio(*client_, id);
  Backdate(Dir(id));
  NewClient(root_);
  EXPECT_FALSE(fs::is_empty(Dir(id))) << "the FIFOs of a running task were removed";
  task->ForceDelete(ctx_);
  client_->LoadContainer(ctx_, id)->Delete(ctx_);
  EXPECT_FALSE(fs::exists(NsDir()));
}

TEST_F(StateDirTest, EntriesTheLibraryDidNotMakeAreLeftAlone) {
  // Old, no container of that name: but a regular file, and a directory holding one.
  fs::create_directories(NsDir() + "/foreign");
  std::ofstream(NsDir() + "/foreign/notes.txt") << "someone's\n";
  std::ofstream(NsDir() + "/file") << "x\n";
  // Control: an old empty container directory (as a crashed run leaves it) goes.
  fs::create_directories(NsDir() + "/crashed");
  Backdate(NsDir());
  NewClient(root_);
  EXPECT_FALSE(fs::exists(NsDir() + "/crashed"));
  EXPECT_TRUE(fs::exists(NsDir() + "/foreign/notes.txt"));
  EXPECT_TRUE(fs::exists(NsDir() + "/file"));
  fs::remove_all(NsDir());
}

}  // namespace
