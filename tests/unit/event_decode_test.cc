// Event decoding: containerd task event envelopes (topic + Any) into moby's EventType and
// EventInfo, field for field as moby's event loop maps them.
#include "remote/event_decode.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>

#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "libcontainerd/errors.h"

using namespace libcontainerd;
using libcontainerd::remote::DecodedEvent;
using libcontainerd::remote::DecodeEnvelope;
namespace pb = ::containerd::events;

namespace {

std::string Bytes(const google::protobuf::MessageLite& m) {
  std::string s;
  EXPECT_TRUE(m.SerializeToString(&s));
  return s;
}

std::string Url(const google::protobuf::MessageLite& m) { return m.GetTypeName(); }

DecodedEvent MustDecode(std::string_view topic, const google::protobuf::MessageLite& m) {
  auto d = DecodeEnvelope(topic, Url(m), Bytes(m));
  EXPECT_TRUE(d.has_value()) << topic;
  return d.value_or(DecodedEvent{});
}

// Fields an event must not carry stay at their defaults.
void ExpectNoExitFields(const EventInfo& i) {
  EXPECT_EQ(i.exit_code, 0u);
  EXPECT_EQ(i.exited_at, SystemTime{});
  EXPECT_EQ(i.error, "");
}

ErrorKind KindOf(std::string_view topic, std::string_view url, std::string_view bytes) {
  try {
    DecodeEnvelope(topic, url, bytes);
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "DecodeEnvelope(" << topic << ", " << url << ") did not throw";
  return ErrorKind::kUnknown;
}

}  // namespace

TEST(DecodeEnvelope, CreateCarriesContainerAsProcessAndPid) {
  pb::TaskCreate m;
  m.set_container_id("web1");
  m.set_bundle("/run/bundle");
  m.set_checkpoint("cp");
  m.set_pid(4242);
  m.mutable_io()->set_stdout("/fifo/out");
  const DecodedEvent d = MustDecode("/tasks/create", m);
  EXPECT_EQ(d.type, EventType::kCreate);
  EXPECT_EQ(d.info.container_id, "web1");
  EXPECT_EQ(d.info.process_id, "web1");
  EXPECT_EQ(d.info.pid, 4242u);
  ExpectNoExitFields(d.info);
}

TEST(DecodeEnvelope, StartCarriesContainerAsProcessAndPid) {
  pb::TaskStart m;
  m.set_container_id("web2");
  m.set_pid(77);
  const DecodedEvent d = MustDecode("/tasks/start", m);
  EXPECT_EQ(d.type, EventType::kStart);
  EXPECT_EQ(d.info.container_id, "web2");
  EXPECT_EQ(d.info.process_id, "web2");
  EXPECT_EQ(d.info.pid, 77u);
  ExpectNoExitFields(d.info);
}

TEST(DecodeEnvelope, ExitOfExecCarriesExecIdPidStatusAndTime) {
  pb::TaskExit m;
  m.set_container_id("web3");
  m.set_id("exec-9");
  m.set_pid(1234);
  m.set_exit_status(137);
  m.mutable_exited_at()->set_seconds(1764412887);
  m.mutable_exited_at()->set_nanos(987654321);
  const DecodedEvent d = MustDecode("/tasks/exit", m);
  EXPECT_EQ(d.type, EventType::kExit);
  EXPECT_EQ(d.info.container_id, "web3");
  EXPECT_EQ(d.info.process_id, "exec-9");
  EXPECT_EQ(d.info.pid, 1234u);
  EXPECT_EQ(d.info.exit_code, 137u);
  EXPECT_EQ(d.info.exited_at,
            SystemTime{} + std::chrono::seconds(1764412887) + std::chrono::nanoseconds(987654321));
}

TEST(DecodeEnvelope, ExitOfInitHasContainerIdAsProcessId) {
  pb::TaskExit m;
  m.set_container_id("web4");
  m.set_id("web4");
  m.set_pid(10);
  m.set_exit_status(7);
  const DecodedEvent d = MustDecode("/tasks/exit", m);
  EXPECT_EQ(d.info.process_id, "web4");
  EXPECT_EQ(d.info.exit_code, 7u);
  EXPECT_EQ(d.info.exited_at, SystemTime{});  // no exited_at sent: the epoch
}

TEST(DecodeEnvelope, ExitTimeOutOfRangeIsClampedNotOverflowed) {
  pb::TaskExit m;
  m.set_container_id("c");
  m.set_id("c");
  m.mutable_exited_at()->set_seconds(std::numeric_limits<int64_t>::max());
  EXPECT_EQ(MustDecode("/tasks/exit", m).info.exited_at, SystemTime::max());
  m.mutable_exited_at()->set_seconds(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(MustDecode("/tasks/exit", m).info.exited_at, SystemTime::min());
  m.mutable_exited_at()->set_seconds(5);
  m.mutable_exited_at()->set_nanos(-3);  // invalid nanos: clamped into [0, 1e9)
  EXPECT_EQ(MustDecode("/tasks/exit", m).info.exited_at, SystemTime{} + std::chrono::seconds(5));
}

TEST(DecodeEnvelope, OomPausedResumedCarryOnlyContainer) {
  pb::TaskOOM oom;
  oom.set_container_id("a1");
  pb::TaskPaused paused;
  paused.set_container_id("a2");
  pb::TaskResumed resumed;
  resumed.set_container_id("a3");
  const std::tuple<const char*, const google::protobuf::MessageLite*, EventType, const char*>
      cases[] = {
          {"/tasks/oom", &oom, EventType::kOOM, "a1"},
          {"/tasks/paused", &paused, EventType::kPaused, "a2"},
          {"/tasks/resumed", &resumed, EventType::kResumed, "a3"},
      };
  for (const auto& [topic, msg, type, id] : cases) {
    SCOPED_TRACE(topic);
    const DecodedEvent d = MustDecode(topic, *msg);
    EXPECT_EQ(d.type, type);
    EXPECT_EQ(d.info.container_id, id);
    EXPECT_EQ(d.info.process_id, "");
    EXPECT_EQ(d.info.pid, 0u);
    ExpectNoExitFields(d.info);
  }
}

TEST(DecodeEnvelope, ExecAddedCarriesExecIdWithoutPid) {
  pb::TaskExecAdded m;
  m.set_container_id("b1");
  m.set_exec_id("sh-1");
  const DecodedEvent d = MustDecode("/tasks/exec-added", m);
  EXPECT_EQ(d.type, EventType::kExecAdded);
  EXPECT_EQ(d.info.container_id, "b1");
  EXPECT_EQ(d.info.process_id, "sh-1");
  EXPECT_EQ(d.info.pid, 0u);
  ExpectNoExitFields(d.info);
}

TEST(DecodeEnvelope, ExecStartedCarriesExecIdAndPid) {
  pb::TaskExecStarted m;
  m.set_container_id("b2");
  m.set_exec_id("sh-2");
  m.set_pid(999);
  const DecodedEvent d = MustDecode("/tasks/exec-started", m);
  EXPECT_EQ(d.type, EventType::kExecStarted);
  EXPECT_EQ(d.info.container_id, "b2");
  EXPECT_EQ(d.info.process_id, "sh-2");
  EXPECT_EQ(d.info.pid, 999u);
  ExpectNoExitFields(d.info);
}

TEST(DecodeEnvelope, PrefixedTypeUrlIsAccepted) {
  pb::TaskStart m;
  m.set_container_id("p1");
  m.set_pid(5);
  auto d =
      DecodeEnvelope("/tasks/start", "type.googleapis.com/containerd.events.TaskStart", Bytes(m));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->info.container_id, "p1");
}

TEST(DecodeEnvelope, OtherTopicsAreIgnoredWhateverThePayload) {
  pb::TaskDelete del;
  del.set_container_id("x");
  EXPECT_FALSE(DecodeEnvelope("/tasks/delete", Url(del), Bytes(del)));
  EXPECT_FALSE(DecodeEnvelope("/tasks/checkpointed", "containerd.events.TaskCheckpointed", ""));
  EXPECT_FALSE(DecodeEnvelope("/containers/create", "containerd.events.ContainerCreate", "\xff"));
  EXPECT_FALSE(DecodeEnvelope("", "", ""));
  EXPECT_FALSE(DecodeEnvelope("/tasks/exit/", "containerd.events.TaskExit", "\xff"));
  EXPECT_FALSE(DecodeEnvelope("/TASKS/EXIT", "containerd.events.TaskExit", "\xff"));
}

TEST(DecodeEnvelope, PayloadTypeNotMatchingTopicIsInvalidArgument) {
  pb::TaskOOM oom;
  oom.set_container_id("c");
  EXPECT_EQ(KindOf("/tasks/exit", Url(oom), Bytes(oom)), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf("/tasks/start", "", ""), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf("/tasks/start", "containerd.events.TaskStartX", ""),
            ErrorKind::kInvalidArgument);
  try {
    DecodeEnvelope("/tasks/paused", "containerd.events.TaskResumed", "");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("/tasks/paused"), std::string::npos) << what;
    EXPECT_NE(what.find("containerd.events.TaskResumed"), std::string::npos) << what;
    EXPECT_NE(what.find("containerd.events.TaskPaused"), std::string::npos) << what;
  }
}

TEST(DecodeEnvelope, UndecodablePayloadIsInvalidArgument) {
  const std::string garbage[] = {
      std::string("\x0a\x10\x61", 3),  // container_id longer than the bytes
      std::string("\x18\xff\xff", 3),  // truncated varint
      std::string("\x0c", 1),          // end-group tag without a group
  };
  for (const auto& topic :
       {"/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/oom", "/tasks/exec-added",
        "/tasks/exec-started", "/tasks/paused", "/tasks/resumed"}) {
    SCOPED_TRACE(topic);
    std::string url = "containerd.events.Task";
    std::string_view t = topic;
    t.remove_prefix(std::string_view("/tasks/").size());
    if (t == "create") url += "Create";
    if (t == "start") url += "Start";
    if (t == "exit") url += "Exit";
    if (t == "oom") url += "OOM";
    if (t == "exec-added") url += "ExecAdded";
    if (t == "exec-started") url += "ExecStarted";
    if (t == "paused") url += "Paused";
    if (t == "resumed") url += "Resumed";
    EXPECT_TRUE(DecodeEnvelope(topic, url, ""));  // the URL is right: empty bytes decode
    for (const auto& g : garbage) EXPECT_EQ(KindOf(topic, url, g), ErrorKind::kInvalidArgument);
  }
}

TEST(DecodeEnvelope, InvalidUtf8ContainerIdIsInvalidArgument) {
  // TaskExit.container_id = "\xff\xfe": proto3 strings must be UTF-8, so the parse fails.
  EXPECT_EQ(KindOf("/tasks/exit", "containerd.events.TaskExit", std::string("\x0a\x02\xff\xfe", 4)),
            ErrorKind::kInvalidArgument);
}
