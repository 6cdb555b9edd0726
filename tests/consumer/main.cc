// Uses only installed public headers: no gRPC or protobuf header may be needed by them.
// Built with the consumer's default -std=gnu++20 (where `linux` is a predefined macro).
//
// The consumer also has its own copy of containerd's generated code for files the library
// compiles too (the version service, the task events, the mount type), for protobuf's full
// runtime, linked with Debian's shared protobuf as the library is. Were the library's copies
// exported, or registered in protobuf's descriptor pool, the program would bind to the wrong
// code or abort at start-up ("File already exists in database"). Each check prints what failed.
#ifndef LCD_CONSUMER_STATIC
#include <github.com/containerd/containerd/api/events/task.pb.h>
#include <github.com/containerd/containerd/api/services/version/v1/version.pb.h>
#include <google/protobuf/descriptor.h>
#endif
#include <libcontainerd/client.h>
#include <libcontainerd/containerd.h>
#include <libcontainerd/errors.h>
#include <libcontainerd/oci/defaults.h>
#include <libcontainerd/oci/spec.h>
#include <libcontainerd/stats.h>
#include <libcontainerd/supervisor.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>

namespace {

int Fail(const std::string& what) {
  std::cerr << "consumer: " << what << "\n";
  return 1;
}

#ifndef LCD_CONSUMER_STATIC
template <typename T>
bool InPool(const char* full_name) {
  return T::descriptor() ==
         google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(full_name);
}
#endif

}  // namespace

int main() {
  namespace lcd = libcontainerd;
  auto spec = lcd::oci::DefaultSpec({.args = {"true"}});
  std::string json = lcd::oci::EncodeSpec(spec);
  if (lcd::oci::DecodeSpec(json) != spec) return Fail("spec does not survive encode/decode");

#ifndef LCD_CONSUMER_STATIC  // consumer_static links the archive: no second copy there
  // The consumer's own generated types, in the process-wide pool of its protobuf.
  if (!InPool<containerd::services::version::v1::VersionResponse>(
          "containerd.services.version.v1.VersionResponse") ||
      !InPool<containerd::events::TaskExit>("containerd.events.TaskExit")) {
    return Fail("the consumer's generated types are not the ones in its descriptor pool");
  }
  containerd::events::TaskExit exit;
  exit.set_container_id("c1");
  exit.set_exit_status(137);
  containerd::events::TaskExit parsed;
  if (!parsed.ParseFromString(exit.SerializeAsString()) || parsed.container_id() != "c1" ||
      parsed.exit_status() != 137 || parsed.ShortDebugString().find("137") == std::string::npos) {
    return Fail("the consumer's TaskExit does not round-trip");
  }
#endif

  // The library's own generated code in the same process: cgroup v1 metrics with pids
  // {current: 7} (field 2, a message holding field 1 = 7), and a client whose Version call goes
  // through the library's generated version stub (no daemon: it must fail kUnavailable).
  const lcd::Stats stats =
      lcd::InterfaceToStats(std::chrono::system_clock::now(), "io.containerd.cgroups.v1.Metrics",
                            std::string("\x12\x02\x08\x07", 4));
  if (stats.v1() == nullptr || !stats.v1()->pids || stats.v1()->pids->current != 7)
    return Fail("the library did not decode cgroup v1 metrics");
  char dir_template[] = "/tmp/lcd-consumer-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) return Fail("mkdtemp failed");
  int rc = 1;
  try {
    lcd::ClientOptions o;
    o.address = std::string(dir) + "/no-daemon.sock";
    o.state_dir = std::string(dir) + "/state";
    o.lazy_connect = true;
    auto client = lcd::NewContainerdClient(o);
    try {
      client->GetVersion(lcd::Context::WithTimeout(std::chrono::milliseconds(500)));
      rc = Fail("Version succeeded without a daemon");
    } catch (const lcd::Error& e) {
      // The library's exception type is caught through its exported typeinfo.
      rc = e.kind() == lcd::ErrorKind::kUnavailable || e.kind() == lcd::ErrorKind::kDeadlineExceeded
               ? 0
               : Fail(std::string("Version without a daemon: ") + e.what());
    }
  } catch (const std::exception& e) {
    rc = Fail(std::string("NewContainerdClient: ") + e.what());
  }
  std::filesystem::remove_all(dir);
  if (rc != 0) return rc;

  try {
    lcd::ValidateIdentifier("container id", "../x");
  } catch (const lcd::Error& e) {
    std::cout << "consumer ok: " << lcd::ToString(e.kind()) << "\n";
    return e.kind() == lcd::ErrorKind::kInvalidArgument ? 0 : Fail("wrong error kind");
  }
  return Fail("ValidateIdentifier accepted ../x");
}
