// Fuzz target: the OCI spec, process and resources decoders. Any input must either decode or
// throw Error{kInvalidArgument}; whatever decodes must encode, and decode again to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <type_traits>

#include "libcontainerd/errors.h"
#include "libcontainerd/oci/spec.h"

namespace {

template <class T, class Decode, class Encode>
void Check(std::string_view text, Decode decode, Encode encode) {
  T value;
  try {
    value = decode(text);
  } catch (const libcontainerd::Error& e) {
    if (e.kind() != libcontainerd::ErrorKind::kInvalidArgument) std::abort();
    return;
  }
  std::string again = encode(value);  // decoded strings are valid UTF-8: must not throw
  T second = decode(again);
  if (!(second == value)) std::abort();
  // Validation must not crash either; it may reject.
  try {
    if constexpr (std::is_same_v<T, libcontainerd::oci::Spec>) libcontainerd::oci::Validate(value);
    if constexpr (std::is_same_v<T, libcontainerd::oci::Process>) {
      libcontainerd::oci::ValidateProcess(value);
    }
    if constexpr (std::is_same_v<T, libcontainerd::oci::LinuxResources>) {
      libcontainerd::oci::ValidateResources(value);
    }
  } catch (const libcontainerd::Error& e) {
    if (e.kind() != libcontainerd::ErrorKind::kInvalidArgument) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace oci = libcontainerd::oci;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Check<oci::Spec>(text, oci::DecodeSpec, oci::EncodeSpec);
  Check<oci::Process>(text, oci::DecodeProcess, oci::EncodeProcess);
  Check<oci::LinuxResources>(text, oci::DecodeResources, oci::EncodeResources);
  return 0;
}
