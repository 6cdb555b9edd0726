// lcctl loads libarchive when it first reads or writes an image archive (pull, import, the
// built-in busybox image), not at start-up (lazy_load.h): libarchive and its compressors, XML
// and ACL libraries cost milliseconds to map and relocate, while most lcctl commands never use
// them. lcctl links the library's static archive, so its calls to archive_* bind to these.
#include <archive.h>
#include <archive_entry.h>

#include <cstdarg>
#include <cstdio>

#include "lazy_load.h"

#define LCCTL_LAZY_ARCHIVE(ret, name, params, args) \
  LCCTL_LAZY_FORWARD("libarchive.so.13", "libarchive13", ret, name, params, args)

using Entry = archive_entry;

LCCTL_LAZY_ARCHIVE(const char*, archive_error_string, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(archive*, archive_read_new, (void), ())
LCCTL_LAZY_ARCHIVE(int, archive_read_free, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(int, archive_read_support_format_tar, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(int, archive_read_support_filter_gzip, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(int, archive_read_support_filter_bzip2, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(int, archive_read_support_filter_xz, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(int, archive_read_support_filter_zstd, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(int, archive_read_open,
                   (archive * a, void* data, archive_open_callback* open,
                    archive_read_callback* read, archive_close_callback* close),
                   (a, data, open, read, close))
LCCTL_LAZY_ARCHIVE(int, archive_read_next_header, (archive * a, Entry** entry), (a, entry))
LCCTL_LAZY_ARCHIVE(la_ssize_t, archive_read_data, (archive * a, void* buf, size_t n), (a, buf, n))
LCCTL_LAZY_ARCHIVE(int, archive_read_data_skip, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(archive*, archive_write_new, (void), ())
LCCTL_LAZY_ARCHIVE(int, archive_write_free, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(int, archive_write_set_format_pax_restricted, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(int, archive_write_set_bytes_per_block, (archive * a, int n), (a, n))
LCCTL_LAZY_ARCHIVE(int, archive_write_set_bytes_in_last_block, (archive * a, int n), (a, n))
LCCTL_LAZY_ARCHIVE(int, archive_write_open,
                   (archive * a, void* data, archive_open_callback* open,
                    archive_write_callback* write, archive_close_callback* close),
                   (a, data, open, write, close))
LCCTL_LAZY_ARCHIVE(int, archive_write_header, (archive * a, Entry* entry), (a, entry))
LCCTL_LAZY_ARCHIVE(la_ssize_t, archive_write_data, (archive * a, const void* buf, size_t n),
                   (a, buf, n))
LCCTL_LAZY_ARCHIVE(int, archive_write_close, (archive * a), (a))
LCCTL_LAZY_ARCHIVE(Entry*, archive_entry_new, (void), ())
LCCTL_LAZY_ARCHIVE(void, archive_entry_free, (Entry * e), (e))
LCCTL_LAZY_ARCHIVE(const char*, archive_entry_pathname, (Entry * e), (e))
LCCTL_LAZY_ARCHIVE(const char*, archive_entry_symlink, (Entry * e), (e))
LCCTL_LAZY_ARCHIVE(const char*, archive_entry_hardlink, (Entry * e), (e))
LCCTL_LAZY_ARCHIVE(__LA_MODE_T, archive_entry_filetype, (Entry * e), (e))
LCCTL_LAZY_ARCHIVE(la_int64_t, archive_entry_size, (Entry * e), (e))
LCCTL_LAZY_ARCHIVE(int, archive_entry_size_is_set, (Entry * e), (e))
LCCTL_LAZY_ARCHIVE(void, archive_entry_set_pathname, (Entry * e, const char* p), (e, p))
LCCTL_LAZY_ARCHIVE(void, archive_entry_set_symlink, (Entry * e, const char* p), (e, p))
LCCTL_LAZY_ARCHIVE(void, archive_entry_set_filetype, (Entry * e, unsigned int t), (e, t))
LCCTL_LAZY_ARCHIVE(void, archive_entry_set_perm, (Entry * e, __LA_MODE_T m), (e, m))
LCCTL_LAZY_ARCHIVE(void, archive_entry_set_size, (Entry * e, la_int64_t s), (e, s))
LCCTL_LAZY_ARCHIVE(void, archive_entry_set_uid, (Entry * e, la_int64_t id), (e, id))
LCCTL_LAZY_ARCHIVE(void, archive_entry_set_gid, (Entry * e, la_int64_t id), (e, id))
LCCTL_LAZY_ARCHIVE(void, archive_entry_set_mtime, (Entry * e, time_t t, long ns), (e, t, ns))

// The variadic one: the message is formatted here and passed on as "%s".
extern "C" void archive_set_error(archive* a, int err, const char* fmt, ...) {
  static const auto real = reinterpret_cast<void (*)(archive*, int, const char*, ...)>(
      lcctl::LazySymbol("libarchive.so.13", "libarchive13", "archive_set_error"));
  if (fmt == nullptr) {
    real(a, err, nullptr);
    return;
  }
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  real(a, err, "%s", msg);
}
