// lcctl: dlopen/dlsym on first use (lazy_load.h).
#include "lazy_load.h"

#include <dlfcn.h>

#include <map>
#include <mutex>
#include <string>

#include "libcontainerd/errors.h"

namespace lcctl {

void* LazySymbol(const char* soname, const char* package, const char* symbol) {
  static std::mutex mu;
  static std::map<std::string, void*> libs;  // never closed: forwarders keep their pointers
  void* lib = nullptr;
  {
    std::lock_guard l(mu);
    void*& slot = libs[soname];
    if (slot == nullptr) slot = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    lib = slot;
    if (lib == nullptr) {
      const char* why = dlerror();
      throw libcontainerd::Error(libcontainerd::ErrorKind::kNotImplemented,
                                 std::string("cannot load ") + soname + " (install the " + package +
                                     " package): " + (why ? why : "unknown error"));
    }
  }
  void* fn = dlsym(lib, symbol);
  if (fn == nullptr)
    throw libcontainerd::Error(
        libcontainerd::ErrorKind::kNotImplemented,
        std::string(soname) + " has no " + symbol + " (install a newer " + package + ")");
  return fn;
}

}  // namespace lcctl
