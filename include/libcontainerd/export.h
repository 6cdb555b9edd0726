// libcontainerd: the export macro of the shared library.
//
// The library is compiled with hidden visibility (-fvisibility=hidden
// -fvisibility-inlines-hidden): only declarations marked LCD_EXPORT are in the dynamic symbol
// table of libcontainerd-cxx.so. Every class and free function of the public headers carries
// it; nothing else does (internals, the generated containerd protobuf code and the gRPC and
// protobuf runtime linked into the library stay private, so a program may use its own copies
// of them beside libcontainerd). For the static archive the macro changes nothing.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define LCD_EXPORT __attribute__((visibility("default")))
#else
#define LCD_EXPORT
#endif
