// libcontainerd: Linux signal names.
// Thread-safety: pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "libcontainerd/export.h"

namespace libcontainerd::oci {

// "SIGKILL", "KILL", "kill", "9", "SIGRTMIN+3", "RTMAX-1" -> the signal number. Throws
// Error{kInvalidArgument} naming the input for an unknown name or a number outside 1..64.
LCD_EXPORT int ParseSignal(std::string_view signal);

// The canonical name of a signal number ("SIGTERM", "SIGRTMIN+2"); "SIG<n>" when unknown.
LCD_EXPORT std::string SignalName(int signal);

}  // namespace libcontainerd::oci
