// Uses only installed public headers: no gRPC or protobuf header may be needed.
// Built with the consumer's default -std=gnu++20 (where `linux` is a predefined macro).
#include <libcontainerd/client.h>
#include <libcontainerd/containerd.h>
#include <libcontainerd/errors.h>
#include <libcontainerd/oci/defaults.h>
#include <libcontainerd/oci/spec.h>
#include <libcontainerd/supervisor.h>

#include <iostream>

int main() {
  auto spec = libcontainerd::oci::DefaultSpec({.args = {"true"}});
  std::string json = libcontainerd::oci::EncodeSpec(spec);
  if (libcontainerd::oci::DecodeSpec(json) != spec) return 1;
  try {
    libcontainerd::ValidateIdentifier("container id", "../x");
  } catch (const libcontainerd::Error& e) {
    std::cout << "consumer ok: " << libcontainerd::ToString(e.kind()) << "\n";
    return e.kind() == libcontainerd::ErrorKind::kInvalidArgument ? 0 : 1;
  }
  return 1;
}
