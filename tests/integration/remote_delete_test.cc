// Container::Delete after this Client deleted the container's task itself: it skips the task
// lookup (one RPC instead of three), and still refuses when another Client made a task meanwhile.
#include <string>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "test_util.h"

using namespace libcontainerd;
using lcdtest::ClientTest;
using lcdtest::ContainerdClientTest;
using lcdtest::KindOf;

namespace {

// What Container::Delete throws, as "kind: message" ("" when it succeeds).
std::string DeleteError(Container& c, const Context& ctx) {
  try {
    c.Delete(ctx);
    return "";
  } catch (const Error& e) {
    return std::string(ToString(e.kind())) + ": " + e.message();
  }
}

}  // namespace

// The container whose task this Client deleted is deleted, and is gone from the daemon.
TEST_F(ClientTest, DeleteAfterTheOwnTaskDeleteRemovesTheRecord) {
  auto c = Create(lcdtest::UniqueId("owndel"), {"true"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  task->Wait(ctx_);
  task->Delete(ctx_);
  c->Delete(ctx_);
  EXPECT_EQ(KindOf([&] { client_->LoadContainer(ctx_, c->ID()); }), ErrorKind::kNotFound);
}

// Another Client's task made after ours was deleted: Delete is refused with the same error as
// when this Client never had a task (kFailedPrecondition naming the state), and the record and
// the task stay.
TEST_F(ContainerdClientTest, DeleteAfterTheOwnTaskDeleteIsRefusedWhenAnotherClientMadeATask) {
  const std::string id = lcdtest::UniqueId("othertask");
  auto c = Create(id, {"sleep", "100"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->ForceDelete(ctx_);

  auto other = NewContainerdClient(lcdtest::TestClientOptions(ns_));
  auto oc = other->LoadContainer(ctx_, id);
  auto otask = oc->NewTask(ctx_, "", false, nullptr);
  otask->Start(ctx_);

  const std::string refused = DeleteError(*c, ctx_);
  // A container object that never had a task of its own takes the lookup path: the reference.
  const std::string reference = DeleteError(*client_->LoadContainer(ctx_, id), ctx_);
  EXPECT_EQ(refused,
            "failed precondition: container has a running task: delete the task first "
            "(ForceDelete kills it)");
  EXPECT_EQ(refused, reference);
  EXPECT_EQ(otask->GetStatus(ctx_).status, Status::kRunning);
  EXPECT_EQ(client_->LoadContainer(ctx_, id)->ID(), id);

  otask->ForceDelete(ctx_);
  // And once that task is gone (deleted through the other Client), this object deletes it.
  c->Delete(ctx_);
  EXPECT_EQ(KindOf([&] { client_->LoadContainer(ctx_, id); }), ErrorKind::kNotFound);
}

// NewTask clears what the earlier task's Delete learnt: with a task of its own again, Delete is
// refused, and it works again once that task is deleted.
TEST_F(ClientTest, DeleteWithASecondOwnTaskIsRefusedUntilThatTaskIsDeleted) {
  auto c = Create(lcdtest::UniqueId("secondtask"), {"sleep", "100"});
  c->NewTask(ctx_, "", false, nullptr)->ForceDelete(ctx_);
  auto task = c->NewTask(ctx_, "", false, nullptr);
  EXPECT_EQ(DeleteError(*c, ctx_),
            "failed precondition: container has a created task: delete the task first "
            "(ForceDelete kills it)");
  task->Delete(ctx_);
  c->Delete(ctx_);
  EXPECT_EQ(KindOf([&] { client_->LoadContainer(ctx_, c->ID()); }), ErrorKind::kNotFound);
}
