// lcd-monitor: its log. Short lines appended to the file of --log, else nothing (the monitor
// never writes to the stdout/stderr it inherited).
#pragma once

namespace lcdmon {

// Opens `path` for appending (O_CLOEXEC); a null or empty path, or a failed open, disables the
// log. `tag` (the container id, copied) starts every line.
void LogOpen(const char* path, const char* tag);
// The log's fd, or -1: kept open across the monitor's closing of inherited fds.
int LogFd();
// Appends one line (printf format, at most ~1 KiB, cut beyond). Never fails, allocates nothing.
void Log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace lcdmon
