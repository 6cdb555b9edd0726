#include "libcontainerd/log.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace libcontainerd {

namespace {
std::mutex g_mu;
std::shared_ptr<const LogSink> g_sink;
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
}  // namespace

std::string_view ToString(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void SetLogSink(LogSink sink) {
  auto p = sink ? std::make_shared<const LogSink>(std::move(sink)) : nullptr;
  std::lock_guard l(g_mu);
  g_sink = std::move(p);
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) noexcept {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return false;
  std::lock_guard l(g_mu);
  return g_sink != nullptr;
}

LogSink StderrLogSink() {
  return [](LogLevel level, std::string_view msg) {
    std::string line =
        "libcontainerd " + std::string(ToString(level)) + ": " + std::string(msg) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
}

void Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  std::shared_ptr<const LogSink> sink;
  {
    std::lock_guard l(g_mu);
    sink = g_sink;
  }
  if (sink) (*sink)(level, message);  // called without our lock held
}

}  // namespace libcontainerd
