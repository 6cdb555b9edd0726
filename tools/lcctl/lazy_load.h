// lcctl: C libraries loaded on first use instead of at start-up (issue 20). lazy_curl.cc and
// lazy_archive.cc define the library's calls into libcurl and libarchive as forwarders that
// resolve the real function here, so lcctl maps those libraries (and their ~40 dependencies)
// only when it talks to a registry or reads or writes an image archive.
#pragma once

namespace lcctl {

// The address of `symbol` in the shared library `soname` (dlopen'ed once, RTLD_LOCAL).
// Throws libcontainerd::Error{kNotImplemented} naming the library, the Debian package that
// installs it and dlerror()'s reason when either cannot be found.
// Thread-safety: safe from any thread.
void* LazySymbol(const char* soname, const char* package, const char* symbol);

}  // namespace lcctl

// One forwarding definition of a C function of that library: the real function is looked up on
// its first call (a function-local static, initialised once) and called with the same
// arguments. The library's own header must be included first: a definition whose signature does
// not match its declaration does not compile.
#define LCCTL_LAZY_FORWARD(soname, package, ret, name, params, args)                  \
  extern "C" ret name params {                                                        \
    static const auto real =                                                          \
        reinterpret_cast<ret(*) params>(::lcctl::LazySymbol(soname, package, #name)); \
    return real args;                                                                 \
  }
