// Uses only installed public headers: no gRPC or protobuf header may be needed.
#include <libcontainerd/client.h>
#include <libcontainerd/containerd.h>
#include <libcontainerd/errors.h>

#include <iostream>

int main() {
  try {
    libcontainerd::ValidateIdentifier("container id", "../x");
  } catch (const libcontainerd::Error& e) {
    std::cout << "consumer ok: " << libcontainerd::ToString(e.kind()) << "\n";
    return e.kind() == libcontainerd::ErrorKind::kInvalidArgument ? 0 : 1;
  }
  return 1;
}
