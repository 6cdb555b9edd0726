#include "libcontainerd/types.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "libcontainerd/context.h"
#include "libcontainerd/errors.h"

using namespace libcontainerd;

TEST(EventType, StringsAreMobys) {
  const std::pair<EventType, const char*> cases[] = {
      {EventType::kUnknown, "unknown"},
      {EventType::kExit, "exit"},
      {EventType::kOOM, "oom"},
      {EventType::kCreate, "create"},
      {EventType::kStart, "start"},
      {EventType::kExecAdded, "exec-added"},
      {EventType::kExecStarted, "exec-started"},
      {EventType::kPaused, "paused"},
      {EventType::kResumed, "resumed"},
  };
  for (auto [t, s] : cases) {
    EXPECT_EQ(ToString(t), s);
    EXPECT_EQ(ParseEventType(s), t);
  }
  EXPECT_EQ(ParseEventType("delete"), EventType::kUnknown);
}

TEST(Status, Strings) {
  EXPECT_EQ(ToString(Status::kRunning), "running");
  EXPECT_EQ(ToString(Status::kPausing), "pausing");
}

TEST(ValidateIdentifier, AcceptsContainerdIds) {
  for (const char* ok : {"a", "web1", "a.b-c_d", "A9", "x-1.2"})
    EXPECT_NO_THROW(ValidateIdentifier("container id", ok)) << ok;
  EXPECT_NO_THROW(ValidateIdentifier("container id", std::string(76, 'a')));
}

TEST(ValidateIdentifier, RejectsBadIdsWithInvalidArgument) {
  const std::string bad[] = {"",
                             "../x",
                             "a/b",
                             "a b",
                             "-a",
                             "a-",
                             "a..b",
                             ".",
                             std::string("a\0b", 3),
                             std::string(77, 'a'),
                             "a__b",
                             "ü"};
  for (const auto& id : bad) {
    try {
      ValidateIdentifier("container id", id);
      ADD_FAILURE() << "accepted " << id;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("container id"), std::string::npos);
    }
  }
}

TEST(Context, CancelRunsCallbacksAndMarksCopies) {
  Context ctx = Context::Background();
  Context copy = ctx;
  int called = 0;
  auto reg = copy.OnCancel([&] { ++called; });
  EXPECT_FALSE(copy.cancelled());
  ctx.Cancel();
  EXPECT_TRUE(copy.cancelled());
  EXPECT_EQ(called, 1);
  ctx.Cancel();
  EXPECT_EQ(called, 1);
  try {
    copy.ThrowIfDone("Op");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  }
}

TEST(Context, UnregisteredCallbackIsNotRun) {
  Context ctx;
  int called = 0;
  {
    auto reg = ctx.OnCancel([&] { ++called; });
  }
  ctx.Cancel();
  EXPECT_EQ(called, 0);
}

TEST(Context, DeadlineExpires) {
  Context ctx = Context::WithTimeout(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  try {
    ctx.ThrowIfDone("Op");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDeadlineExceeded);
  }
  EXPECT_FALSE(Context::Background().deadline().has_value());
}
