// lcctl events: one line per task event until interrupted.
#include <unistd.h>

#include <cstdio>
#include <mutex>

#include "common.h"

namespace lcctl {

namespace lcd = libcontainerd;

namespace {

class PrintingBackend final : public lcd::Backend {
 public:
  explicit PrintingBackend(bool json) : json_(json) {}

  void ProcessEvent(const std::string& container_id, lcd::EventType type,
                    const lcd::EventInfo& info) override {
    std::string now = FormatTime(std::chrono::system_clock::now());
    std::string line;
    const bool exit = type == lcd::EventType::kExit;
    if (json_) {
      nlohmann::json j = {{"time", now},
                          {"container", container_id},
                          {"type", std::string(lcd::ToString(type))},
                          {"process", info.process_id},
                          {"pid", info.pid}};
      if (exit) {
        j["exit_code"] = info.exit_code;
        j["exited_at"] = FormatTime(info.exited_at);
      }
      if (!info.error.empty()) j["error"] = info.error;
      line = j.dump() + "\n";
    } else {
      line = now + " " + container_id + " " + std::string(lcd::ToString(type)) +
             " process=" + (info.process_id.empty() ? "-" : info.process_id) +
             " pid=" + std::to_string(info.pid);
      if (exit) line += " exit_code=" + std::to_string(info.exit_code);
      if (!info.error.empty()) line += " error=\"" + OneLine(info.error) + "\"";
      line += "\n";
    }
    std::lock_guard l(mu_);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }

 private:
  bool json_;
  std::mutex mu_;
};

int Events(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 0, 0, "no arguments");
  SetInterruptExit(0);  // interrupting is how events ends
  s.SetBackend(std::make_shared<PrintingBackend>(s.globals().json));
  s.client();
  for (;;) pause();
}

}  // namespace

std::vector<Command> EventsCommands() {
  return {{"events",
           "events",
           "print task events (time container type process pid [exit code]) until interrupted; "
           "JSON lines "
           "with --json",
           "  lcctl events\n  lcctl -n test events --json | jq -c 'select(.type==\"exit\")'",
           {},
           SIZE_MAX,
           Events}};
}

}  // namespace lcctl
