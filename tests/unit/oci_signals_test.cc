#include <gtest/gtest.h>

#include <csignal>

#include "libcontainerd/errors.h"
#include "libcontainerd/oci/signals.h"

using namespace libcontainerd;
using namespace libcontainerd::oci;

TEST(OciSignals, NamesShortNamesAndNumbers) {
  EXPECT_EQ(ParseSignal("SIGKILL"), SIGKILL);
  EXPECT_EQ(ParseSignal("KILL"), SIGKILL);
  EXPECT_EQ(ParseSignal("kill"), SIGKILL);
  EXPECT_EQ(ParseSignal("sigterm"), SIGTERM);
  EXPECT_EQ(ParseSignal("9"), 9);
  EXPECT_EQ(ParseSignal("SIGCHLD"), SIGCHLD);
  EXPECT_EQ(ParseSignal("CLD"), SIGCHLD);
  EXPECT_EQ(ParseSignal("SIGWINCH"), SIGWINCH);
  EXPECT_EQ(ParseSignal("SIGRTMIN"), 34);
  EXPECT_EQ(ParseSignal("RTMIN+3"), 37);
  EXPECT_EQ(ParseSignal("SIGRTMAX-1"), 63);
  EXPECT_EQ(ParseSignal("64"), 64);
}

TEST(OciSignals, UnknownIsInvalidArgument) {
  for (const char* bad : {"", "SIG", "SIGFOO", "0", "65", "-9", "9x", "RTMIN-1", "RTMAX+1",
                          "RTMIN+31", "SIGKILLX", " 9"}) {
    SCOPED_TRACE(bad);
    try {
      ParseSignal(bad);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    }
  }
}

TEST(OciSignals, CanonicalNames) {
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(SignalName(SIGCHLD), "SIGCHLD");
  EXPECT_EQ(SignalName(34), "SIGRTMIN");
  EXPECT_EQ(SignalName(36), "SIGRTMIN+2");
  EXPECT_EQ(SignalName(62), "SIGRTMAX-2");
  EXPECT_EQ(SignalName(64), "SIGRTMAX");
  for (int n = 1; n <= 64; ++n) {
    if (n == 32 || n == 33) continue;
    EXPECT_EQ(ParseSignal(SignalName(n)), n) << n;
  }
}
