// lcctl loads libcurl when it first talks to a registry, not at start-up (lazy_load.h): libcurl
// and its ~30 shared dependencies (TLS, HTTP/2, IDN, LDAP, Kerberos...) cost milliseconds and
// megabytes of RSS to map and relocate, while most lcctl commands never pull. lcctl links the
// library's static archive, so its calls to curl_* bind to these forwarders.
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <cstdarg>

#include "lazy_load.h"

#define LCCTL_LAZY_CURL(ret, name, params, args) \
  LCCTL_LAZY_FORWARD("libcurl.so.4", "libcurl4", ret, name, params, args)

LCCTL_LAZY_CURL(CURLcode, curl_global_init, (long flags), (flags))
LCCTL_LAZY_CURL(CURL*, curl_easy_init, (void), ())
LCCTL_LAZY_CURL(CURLcode, curl_easy_perform, (CURL * curl), (curl))
LCCTL_LAZY_CURL(void, curl_easy_cleanup, (CURL * curl), (curl))
LCCTL_LAZY_CURL(const char*, curl_easy_strerror, (CURLcode code), (code))
LCCTL_LAZY_CURL(char*, curl_easy_escape, (CURL * curl, const char* s, int length),
                (curl, s, length))
LCCTL_LAZY_CURL(void, curl_free, (void* p), (p))
LCCTL_LAZY_CURL(curl_slist*, curl_slist_append, (curl_slist * list, const char* data), (list, data))
LCCTL_LAZY_CURL(void, curl_slist_free_all, (curl_slist * list), (list))
LCCTL_LAZY_CURL(CURLM*, curl_multi_init, (void), ())
LCCTL_LAZY_CURL(CURLMcode, curl_multi_cleanup, (CURLM * multi), (multi))
LCCTL_LAZY_CURL(CURLMcode, curl_multi_add_handle, (CURLM * multi, CURL* curl), (multi, curl))
LCCTL_LAZY_CURL(CURLMcode, curl_multi_remove_handle, (CURLM * multi, CURL* curl), (multi, curl))
LCCTL_LAZY_CURL(CURLMcode, curl_multi_perform, (CURLM * multi, int* running), (multi, running))
LCCTL_LAZY_CURL(CURLMcode, curl_multi_poll,
                (CURLM * multi, curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms,
                 int* numfds),
                (multi, extra_fds, extra_nfds, timeout_ms, numfds))
LCCTL_LAZY_CURL(CURLMcode, curl_multi_wakeup, (CURLM * multi), (multi))
LCCTL_LAZY_CURL(CURLMsg*, curl_multi_info_read, (CURLM * multi, int* msgs_in_queue),
                (multi, msgs_in_queue))

// The variadic two. curl reads setopt's argument by the option's type class (a long, an object
// or function pointer, or a curl_off_t: CURLOPTTYPE_* in curl.h), so it is read here the same
// way and passed on with its own type; getinfo's argument is always a pointer.
// va_start after an enum parameter: clang warns that the enum "undergoes default argument
// promotion" (-Wvarargs). CURLoption and CURLINFO are int-sized enums passed in the same register
// as an int on every ABI curl supports, and curl's own prototypes are declared this way.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wvarargs"
#endif
extern "C" CURLcode curl_easy_setopt(CURL* curl, CURLoption option, ...) {
  static const auto real = reinterpret_cast<CURLcode (*)(CURL*, CURLoption, ...)>(
      lcctl::LazySymbol("libcurl.so.4", "libcurl4", "curl_easy_setopt"));
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    rc = real(curl, option, va_arg(ap, long));
  } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
    rc = real(curl, option, va_arg(ap, void*));
  } else if (option < CURLOPTTYPE_OFF_T) {
    rc = real(curl, option, va_arg(ap, void (*)()));
  } else if (option < CURLOPTTYPE_BLOB) {
    rc = real(curl, option, va_arg(ap, curl_off_t));
  } else {
    rc = real(curl, option, va_arg(ap, void*));
  }
  va_end(ap);
  return rc;
}

extern "C" CURLcode curl_easy_getinfo(CURL* curl, CURLINFO info, ...) {
  static const auto real = reinterpret_cast<CURLcode (*)(CURL*, CURLINFO, ...)>(
      lcctl::LazySymbol("libcurl.so.4", "libcurl4", "curl_easy_getinfo"));
  va_list ap;
  va_start(ap, info);
  void* out = va_arg(ap, void*);
  va_end(ap);
  return real(curl, info, out);
}
