// A GoogleTest fixture holding a Client connected to the integration daemon, in a namespace of
// its own (one per test process), with helpers to make busybox containers.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "libcontainerd/client.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/direct.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/spec.h"

namespace lcdtest {

// The process spec of an exec running args, with the library's defaults.
inline libcontainerd::oci::Process ExecSpec(std::vector<std::string> args) {
  libcontainerd::oci::ProcessOptions o;
  o.args = std::move(args);
  return libcontainerd::oci::DefaultProcess(o);
}

libcontainerd::ClientOptions TestClientOptions(const std::string& ns);

// The contract suites (ClientTest and the fixtures derived from it) run against both backends:
// the containerd backend by default, the direct (daemonless) one when the environment has
// LCD_TEST_BACKEND=direct (tests/CMakeLists.txt registers them a second time with it, prefix
// "direct."). Where the backends differ, a test asks IsDirectBackend() and checks each one's
// documented behaviour (docs/direct-backend.md).
bool IsDirectBackend();
// The name of the backend under test: "containerd" or "direct".
const char* BackendName();
// Options of a direct Client for the tests: root under the test root (one per test process),
// the build's lcd-monitor, the system's runc.
libcontainerd::DirectClientOptions TestDirectOptions(const std::string& ns);
// The state directory of the backend under test's Clients (ClientStateDir() for containerd,
// the direct root): both keep a container's FIFO sets under <dir>/<ns>/<id>/.
std::string BackendStateDir();
// True when a container's state directory holds nothing of a task or process: it does not
// exist or is empty (containerd backend), or holds only the container's own record and bundle
// (direct backend: container.json, bundle/). Lists what else is there into *extra.
bool NoProcessStateIn(const std::string& container_dir, std::string* extra = nullptr);
// A Client of the backend under test in namespace `ns`, with `backend` and `network` (may be
// null).
std::shared_ptr<libcontainerd::Client> NewTestClient(
    const std::string& ns, std::shared_ptr<libcontainerd::Backend> backend = nullptr,
    std::shared_ptr<libcontainerd::net::Manager> network = nullptr);

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A spec from DefaultSpec over the test rootfs with `args`; `tweak` may change options.
  libcontainerd::oci::SpecOptions Options(const std::string& id,
                                          std::vector<std::string> args) const;
  std::shared_ptr<libcontainerd::Container> Create(const std::string& id,
                                                   std::vector<std::string> args);
  std::shared_ptr<libcontainerd::Container> Create(const libcontainerd::oci::SpecOptions& opts);

  // Kills and deletes every task and container of this test's namespace.
  void CleanNamespace();

  std::string ns_;
  std::shared_ptr<libcontainerd::Client> client_;
  libcontainerd::Context ctx_;
};

// Tests of what only the containerd backend has (the shim's runc root, protobuf's log routing):
// a fixture outside the contract suites, so the direct run does not select them.
class ContainerdClientTest : public ClientTest {};

// True when a process with this pid exists.
bool PidAlive(uint32_t pid);

}  // namespace lcdtest
