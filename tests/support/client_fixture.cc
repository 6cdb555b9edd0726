#include "client_fixture.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "harness.h"
#include "libcontainerd/errors.h"

namespace lcdtest {
using namespace libcontainerd;

ClientOptions TestClientOptions(const std::string& ns) {
  ClientOptions o;
  o.address = DaemonAddress();
  o.ns = ns;
  o.state_dir = ClientStateDir();
  o.runc_root = RuncRoot();
  return o;
}

bool IsDirectBackend() {
  const char* b = std::getenv("LCD_TEST_BACKEND");
  return b != nullptr && std::strcmp(b, "direct") == 0;
}

const char* BackendName() { return IsDirectBackend() ? "direct" : "containerd"; }

DirectClientOptions TestDirectOptions(const std::string& ns) {
  DirectClientOptions o;
  o.root = DaemonRoot() + "/direct";
  o.ns = ns;
  o.runtime = "runc";
#ifdef LCD_MONITOR_PATH
  o.monitor_path = LCD_MONITOR_PATH;
#endif
  if (const char* m = std::getenv("LCD_MONITOR"); m != nullptr && *m != '\0') o.monitor_path = m;
  return o;
}

std::string BackendStateDir() {
  return IsDirectBackend() ? TestDirectOptions("x").root : ClientStateDir();
}

bool NoProcessStateIn(const std::string& container_dir, std::string* extra) {
  std::error_code ec;
  if (!std::filesystem::exists(container_dir, ec)) return true;
  bool clean = true;
  for (const auto& e : std::filesystem::directory_iterator(container_dir, ec)) {
    std::string name = e.path().filename();
    if (IsDirectBackend() && (name == "container.json" || name == "bundle")) continue;
    clean = false;
    if (extra) *extra += name + " ";
  }
  return clean;
}

std::shared_ptr<Client> NewTestClient(const std::string& ns, std::shared_ptr<Backend> backend,
                                      std::shared_ptr<net::Manager> network) {
  if (IsDirectBackend()) {
    auto o = TestDirectOptions(ns);
    o.backend = std::move(backend);
    o.network = std::move(network);
    return NewDirectClient(o);
  }
  auto o = TestClientOptions(ns);
  o.backend = std::move(backend);
  o.network = std::move(network);
  return NewContainerdClient(o);
}

void ClientTest::SetUp() {
  ns_ = "t" + std::to_string(getpid());
  client_ = NewTestClient(ns_);
  CleanNamespace();
}

void ClientTest::TearDown() {
  if (client_) CleanNamespace();
  client_.reset();
}

void ClientTest::CleanNamespace() {
  for (const auto& id : client_->ListContainers(ctx_)) {
    try {
      auto c = client_->LoadContainer(ctx_, id);
      try {
        c->GetTask(ctx_)->ForceDelete(ctx_);
      } catch (const Error& e) {
        if (!IsNotFound(e)) throw;
      }
      c->Delete(ctx_);
    } catch (const Error& e) {
      ADD_FAILURE() << "cleanup of " << id << ": " << e.what();
    }
  }
}

oci::SpecOptions ClientTest::Options(const std::string& id, std::vector<std::string> args) const {
  oci::SpecOptions o;
  o.id = id;
  o.ns = ns_;
  o.args = std::move(args);
  o.rootfs = Rootfs();
  return o;
}

std::shared_ptr<Container> ClientTest::Create(const std::string& id,
                                              std::vector<std::string> args) {
  return Create(Options(id, std::move(args)));
}

std::shared_ptr<Container> ClientTest::Create(const oci::SpecOptions& opts) {
  return client_->NewContainer(ctx_, opts.id, oci::DefaultSpec(opts), "", RuncOptions{});
}

bool PidAlive(uint32_t pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

}  // namespace lcdtest
