#include "client_fixture.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

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

void ClientTest::SetUp() {
  ns_ = "t" + std::to_string(getpid());
  client_ = NewContainerdClient(TestClientOptions(ns_));
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
