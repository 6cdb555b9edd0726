// The values of issue 14 items 5 and 7: RuntimeOptions (runc's, another shim's typed message,
// none) and how the containerd backend stores and reads them; shim-name checks and the error for
// a shim that is not installed; TaskStatus's comparison with a Status.
#include <gtest/gtest.h>

#include "common/runtime_names.h"
#include "libcontainerd/client.h"
#include "libcontainerd/oci/spec.h"
#include "oci/root_ids.h"
#include "remote/convert.h"

namespace libcontainerd {
namespace {
using libcontainerd::ValidateShimName;
using oci::MappedRootIDs;
using oci::RootIDs;
using remote::ClassifyShimError;
using remote::DecodeRuntimeOptions;
using remote::EncodeRuntimeOptions;
using remote::RemappedTaskOptions;

// A function written against the old signature still accepts RuncOptions.
RuntimeOptions Take(const RuntimeOptions& o) { return o; }

TEST(RuntimeOptions, ConvertsImplicitlyFromRuncOptionsAndTypedMessages) {
  EXPECT_TRUE(Take({}).empty());
  RuntimeOptions r = Take(RuncOptions{.binary_name = "crun"});
  ASSERT_NE(r.runc(), nullptr);
  EXPECT_EQ(r.runc()->binary_name, "crun");
  EXPECT_EQ(r.message(), nullptr);
  RuntimeOptions m = Take(TypedMessage{"example.com/x.Options", "\x01\x02"});
  ASSERT_NE(m.message(), nullptr);
  EXPECT_EQ(m.message()->type_url, "example.com/x.Options");
  EXPECT_EQ(m.runc(), nullptr);
}

TEST(RuntimeOptions, TypedMessageIsStoredByteForByte) {
  const TypedMessage foreign{"example.com/x.Options", std::string("\xff\x00\x01", 3)};
  auto stored = EncodeRuntimeOptions(foreign, "io.containerd.runc.v2", "/run/root");
  ASSERT_TRUE(stored);
  EXPECT_EQ(*stored, foreign);  // not rewritten, not given a root, even for the runc shim
  EXPECT_EQ(*DecodeRuntimeOptions(stored).message(), foreign);
}

TEST(RuntimeOptions, RuncOptionsGetTheClientRootWhenTheirsIsEmpty) {
  auto stored = EncodeRuntimeOptions(RuncOptions{.binary_name = "/x/runc"}, "io.containerd.runc.v2",
                                     "/run/root");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->type_url, "containerd.runc.v1.Options");
  const RuntimeOptions back = DecodeRuntimeOptions(stored);
  ASSERT_NE(back.runc(), nullptr);
  EXPECT_EQ(*back.runc(), (RuncOptions{.binary_name = "/x/runc", .root = "/run/root"}));

  auto own_root =
      EncodeRuntimeOptions(RuncOptions{.root = "/mine"}, "io.containerd.runc.v2", "/run/root");
  EXPECT_EQ(DecodeRuntimeOptions(own_root).runc()->root, "/mine");
}

TEST(RuntimeOptions, NoneIsNoneExceptARuncShimWithAClientRoot) {
  EXPECT_FALSE(EncodeRuntimeOptions({}, "io.containerd.kata.v2", "/run/root"));
  EXPECT_FALSE(EncodeRuntimeOptions({}, "io.containerd.runc.v2", ""));
  auto runc = EncodeRuntimeOptions({}, "io.containerd.runc.v2", "/run/root");
  ASSERT_TRUE(runc);
  EXPECT_EQ(DecodeRuntimeOptions(runc).runc()->root, "/run/root");
  EXPECT_TRUE(DecodeRuntimeOptions(std::nullopt).empty());
}

TEST(RuntimeOptions, RuncTypeThatDoesNotDecodeIsGivenAsStored) {
  const TypedMessage bad{"type.googleapis.com/containerd.runc.v1.Options", "\xff\xff\xff"};
  const RuntimeOptions back = DecodeRuntimeOptions(bad);
  ASSERT_NE(back.message(), nullptr);
  EXPECT_EQ(*back.message(), bad);
  EXPECT_TRUE(remote::IsRuncOptionsType(bad.type_url));
  EXPECT_FALSE(remote::IsRuncOptionsType("containerd.runc.v1.OptionsX"));
}

oci::Spec SpecWithMappings(std::vector<oci::LinuxIDMapping> uids,
                           std::vector<oci::LinuxIDMapping> gids) {
  oci::Spec spec;
  spec.linux.emplace();
  spec.linux->uid_mappings = std::move(uids);
  spec.linux->gid_mappings = std::move(gids);
  return spec;
}

TEST(UserNamespace, ContainerRootMapsToTheHostIdsOfItsRange) {
  auto root =
      MappedRootIDs(SpecWithMappings({{.container_id = 0, .host_id = 100000, .size = 65536}},
                                     {{.container_id = 1000, .host_id = 5000, .size = 10},
                                      {.container_id = 0, .host_id = 200000, .size = 1}}));
  EXPECT_EQ(root.uid, 100000u);
  EXPECT_EQ(root.gid, 200000u);
  auto none = MappedRootIDs(oci::Spec{});
  EXPECT_FALSE(none.uid);
  EXPECT_FALSE(none.gid);
}

TEST(UserNamespace, MappingWithoutContainerRootIsInvalidArgumentNamingTheList) {
  try {
    MappedRootIDs(SpecWithMappings({{.container_id = 1, .host_id = 100000, .size = 10}}, {}));
    FAIL() << "a uid mapping without container id 0 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(e.message().find("uidMappings"), std::string::npos) << e.message();
  }
}

TEST(UserNamespace, TaskOptionsGetTheRootIdsUnlessTheCallerSetThem) {
  const RootIDs root{.uid = 100000, .gid = 100000};
  // No stored options, a runc shim: default options with the ids.
  auto fresh = RemappedTaskOptions(std::nullopt, "io.containerd.runc.v2", root);
  ASSERT_TRUE(fresh);
  auto back = DecodeRuntimeOptions(TypedMessage{"containerd.runc.v1.Options", *fresh});
  ASSERT_NE(back.runc(), nullptr);
  EXPECT_EQ(back.runc()->io_uid, 100000u);
  EXPECT_EQ(back.runc()->io_gid, 100000u);
  // Stored options keep their fields; an id the caller set wins.
  auto stored = EncodeRuntimeOptions(RuncOptions{.binary_name = "/x/runc", .io_gid = 7},
                                     "io.containerd.runc.v2", "/run/root");
  auto merged = RemappedTaskOptions(stored, "io.containerd.runc.v2", root);
  ASSERT_TRUE(merged);
  auto m = DecodeRuntimeOptions(TypedMessage{"containerd.runc.v1.Options", *merged});
  ASSERT_NE(m.runc(), nullptr);
  EXPECT_EQ(m.runc()->binary_name, "/x/runc");
  EXPECT_EQ(m.runc()->io_uid, 100000u);
  EXPECT_EQ(m.runc()->io_gid, 7u);
  // Another shim's options and no mapping: nothing changes.
  EXPECT_FALSE(RemappedTaskOptions(TypedMessage{"example.Options", "x"}, "io.example.v1", root));
  EXPECT_FALSE(RemappedTaskOptions(stored, "io.containerd.runc.v2", RootIDs{}));
}

TEST(ShimName, NamesContainerdCannotResolveAreInvalidArgument) {
  for (const char* bad : {"runc", ".runc.v2", ""}) {
    SCOPED_TRACE(bad);
    if (*bad == '\0') continue;  // empty means the default: NewContainer replaces it first
    try {
      ValidateShimName(bad, {.op = "NewContainer"});
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(e.message().find("io.containerd.runc.v2"), std::string::npos) << e.message();
    }
  }
  for (const char* good :
       {"io.containerd.runc.v2", "io.containerd.kata.v2", "runc.v2", "/opt/shim"})
    EXPECT_NO_THROW(ValidateShimName(good, {}));
}

TEST(ShimName, NotInstalledIsNotFoundNamingTheShimItsBinaryAndWhatToDo) {
  const Error daemon(ErrorKind::kNotFound,
                     "failed to start shim: failed to resolve runtime path: runtime "
                     "\"io.containerd.kata.v2\" binary not installed \"containerd-shim-kata-v2\": "
                     "file does not exist",
                     {.op = "Tasks.Create", .container_id = "c1"});
  const Error e = ClassifyShimError(daemon, "io.containerd.kata.v2");
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  EXPECT_NE(e.message().find("\"io.containerd.kata.v2\" is not installed"), std::string::npos);
  EXPECT_NE(e.message().find("containerd-shim-kata-v2 in its PATH"), std::string::npos);
  EXPECT_NE(e.message().find("install it"), std::string::npos);
  EXPECT_EQ(e.context().container_id, "c1");

  const Error other(ErrorKind::kUnknown, "exec: \"x\": executable file not found", {});
  EXPECT_EQ(ClassifyShimError(other, "io.containerd.runc.v2").message(), other.message());
}

TEST(TaskStatus, ComparesWithAStatusAndConvertsToIt) {
  const TaskStatus st{.status = Status::kStopped, .exit_code = 3};
  EXPECT_TRUE(st == Status::kStopped);
  EXPECT_TRUE(Status::kStopped == st);
  EXPECT_FALSE(st == Status::kRunning);
  const Status s = st;
  EXPECT_EQ(s, Status::kStopped);
  EXPECT_EQ(ToString(st), "stopped");
  EXPECT_NE(st, (TaskStatus{.status = Status::kStopped, .exit_code = 4}));
}

}  // namespace
}  // namespace libcontainerd

namespace libcontainerd {
namespace {

TEST(TaskMetrics, UndecodablePayloadIsUnknownNotNotFound) {
  for (auto [url, bytes] :
       {std::pair<std::string, std::string>{"io.containerd.cgroups.v9.Metrics", ""},
        {"io.containerd.cgroups.v1.Metrics", "\xff\xff\xff"}}) {
    SCOPED_TRACE(url);
    try {
      remote::DecodeTaskMetrics("c1", SystemTime{}, url, bytes);
      ADD_FAILURE() << "decoded";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnknown);
      EXPECT_NE(e.message().find("cannot decode"), std::string::npos) << e.message();
      EXPECT_EQ(e.context().container_id, "c1");
    }
  }
  EXPECT_NE(
      remote::DecodeTaskMetrics("c1", SystemTime{}, "io.containerd.cgroups.v2.Metrics", "").v2(),
      nullptr);
}

}  // namespace
}  // namespace libcontainerd

namespace libcontainerd {
namespace {

TEST(RestoreTaskOptions, StoredRuncOptionsKeepTheirOtherFieldsAndGetTheImagePath) {
  auto stored = remote::EncodeRuntimeOptions(RuncOptions{.binary_name = "/x/runc"},
                                             "io.containerd.runc.v2", "/root");
  stored->value += std::string("\xa0\x06\x07", 3);  // field 100 (varint 7): unknown to us
  const std::string task = remote::RestoreTaskOptions(stored, "/ckpt", {});
  EXPECT_NE(task.find(std::string("\xa0\x06\x07", 3)), std::string::npos);
  const RuncOptions o = remote::DecodeRuncOptions(task);
  EXPECT_EQ(o.binary_name, "/x/runc");
  EXPECT_EQ(o.root, "/root");
  EXPECT_EQ(o.criu_image_path, "/ckpt");
  EXPECT_EQ(
      remote::DecodeRuncOptions(remote::RestoreTaskOptions(std::nullopt, "/c", {})).criu_image_path,
      "/c");
}

TEST(RestoreTaskOptions, AnotherShimsOptionsAreInvalidArgument) {
  const TypedMessage foreign{"example.com/x.Options", "\x01"};
  try {
    remote::RestoreTaskOptions(foreign, "/ckpt", {.container_id = "c1"});
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(e.message().find("example.com/x.Options"), std::string::npos) << e.message();
  }
}

}  // namespace
}  // namespace libcontainerd
