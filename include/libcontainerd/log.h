// libcontainerd: the library never prints; it logs to a replaceable sink.
// Thread-safety: SetLogSink and Log may be called from any thread; the sink itself is called
// from whichever thread logs and must be thread-safe.
#pragma once

#include <functional>
#include <string_view>

#include "libcontainerd/export.h"

namespace libcontainerd {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
LCD_EXPORT std::string_view ToString(LogLevel level) noexcept;

using LogSink = std::function<void(LogLevel level, std::string_view message)>;

// Replaces the process-wide sink. A null sink discards everything (the default).
LCD_EXPORT void SetLogSink(LogSink sink);
// Messages below this level are not formatted or passed on (default kInfo).
LCD_EXPORT void SetLogLevel(LogLevel level);

// A sink writing "level: message" lines to stderr (for programs and tests).
LCD_EXPORT LogSink StderrLogSink();

// Logs through the current sink.
LCD_EXPORT void Log(LogLevel level, std::string_view message);
LCD_EXPORT bool LogEnabled(LogLevel level) noexcept;

}  // namespace libcontainerd
