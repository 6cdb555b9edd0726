// A GoogleTest fixture holding a Client connected to the integration daemon, in a namespace of
// its own (one per test process), with helpers to make busybox containers.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "libcontainerd/client.h"
#include "libcontainerd/containerd.h"
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

// True when a process with this pid exists.
bool PidAlive(uint32_t pid);

}  // namespace lcdtest
