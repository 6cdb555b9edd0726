#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

namespace lcdmon {
namespace {
int g_fd = -1;
char g_tag[80];
}  // namespace

void LogOpen(const char* path, const char* tag) {
  snprintf(g_tag, sizeof g_tag, "%s", tag ? tag : "");
  if (!path || !*path) return;
  g_fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
}

int LogFd() { return g_fd; }

void Log(const char* fmt, ...) {
  if (g_fd < 0) return;
  char line[1024];
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  int n = snprintf(line, sizeof line,
                   "%lld.%03ld lcd-monitor[%d] %s: ", static_cast<long long>(ts.tv_sec),
                   ts.tv_nsec / 1000000, static_cast<int>(getpid()), g_tag);
  if (n < 0) return;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = ::write(g_fd, line, len);
  (void)w;
}

}  // namespace lcdmon
