// Test harness: paths and helpers shared by every tier.
#pragma once

#include <string>

namespace lcdtest {

// The busybox rootfs of this build tree (built on first use, idempotent).
const std::string& Rootfs();
// Private containerd root of the integration fixture (env LCD_TEST_ROOT or the build default).
std::string DaemonRoot();
// Its socket path.
std::string DaemonAddress();
// A runc root inside the daemon root, so tests never touch the system's runc state.
std::string RuncRoot();
// A state directory for clients of this test process.
std::string ClientStateDir();
// A fresh id "<prefix>-<pid>-<counter>" valid for containerd.
std::string UniqueId(const std::string& prefix);
// Number of open fds of this process.
int OpenFdCount();

}  // namespace lcdtest
