// containerd's codeless (Unknown) errors that the library classifies by their text.
#include <gtest/gtest.h>

#include "common/runtime_names.h"

using namespace libcontainerd;
using libcontainerd::ClassifyStartError;

namespace {
Error Unknown(const std::string& m) {
  return Error(ErrorKind::kUnknown, m, {.op = "NewTask", .container_id = "c1"});
}
}  // namespace

TEST(ClassifyStartError, MissingBinaryIsNotFoundNamingIt) {
  auto e =
      ClassifyStartError(Unknown("exec: \"nope\": executable file not found in $PATH"), "nope");
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  EXPECT_NE(e.message().find("\"nope\""), std::string::npos) << e.message();
}

TEST(ClassifyStartError, NotExecutableIsFailedPrecondition) {
  auto e = ClassifyStartError(Unknown("exec: \"/etc/passwd\": permission denied"), "/etc/passwd");
  EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition);
}

TEST(ClassifyStartError,
     ABundleKeptFromACrashedCreateIsFailedPreconditionSayingSoAndKeepingTheText) {
  const std::string m =
      "failed to start shim: mkdir /var/lib/containerd/io.containerd.runtime.v2.task/ns/c1: file "
      "exists";
  auto e = ClassifyStartError(Unknown(m), "sleep");
  EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition);
  EXPECT_NE(e.message().find("restarts"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(m), std::string::npos) << "the daemon's text is kept";
  EXPECT_EQ(e.context().container_id, "c1");
}

TEST(ClassifyStartError, OtherErrorsAndOtherKindsAreUnchanged) {
  EXPECT_EQ(ClassifyStartError(Unknown("something else: file exists"), "x").kind(),
            ErrorKind::kUnknown);
  Error busy(ErrorKind::kUnavailable, "failed to start shim: mkdir /x: file exists");
  EXPECT_EQ(ClassifyStartError(busy, "x").kind(), ErrorKind::kUnavailable);
}
