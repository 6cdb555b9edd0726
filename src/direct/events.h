// Internal: the direct backend's events (docs/direct-backend.md, "Exactly-once exits"): one
// thread holding a subscription per tracked task, exits through the TaskTracker (duplicates
// dropped) to the Dispatcher, a .delivered marker written after the Backend returned, the
// clean-up of tasks whose monitor died, and the namespace scan of a new Client.
// Thread-safe. Inert (no thread, nothing delivered) without a Backend.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "direct/records.h"
#include "events/dispatcher.h"
#include "events/tracker.h"
#include "libcontainerd/fd.h"

namespace libcontainerd::direct {

class Events {
 public:
  Events(Layout layout, std::shared_ptr<Backend> backend);
  ~Events();  // Shutdown()

  bool enabled() const { return enabled_; }
  events::TaskTracker& tracker() { return tracker_; }

  // Subscribes to the task's monitor (once per task instance) so its events reach the
  // Backend. A dead monitor is cleaned up (FinishDeadTask) and its exit reported. Best effort:
  // failures are logged.
  void Watch(const ContainerRecord& rec);
  // The task is being deleted through this Client: its monitor's socket closing is no death.
  // Deleting(id, false) when the delete failed (the monitor lives on).
  void Deleting(const std::string& id, bool deleting);
  // True while this Client holds an event subscription to the task of `id`.
  bool Subscribed(const std::string& id);
  // A barrier on the event streams: returns once the events thread has read, to the end, what
  // every subscription held when this was called (so a monitor's event sent before a reply
  // the caller has received is posted), or after `timeout`. False on the timeout or when the
  // thread is stopping.
  bool Flush(std::chrono::milliseconds timeout);
  // Posts an event; an exit only when the tracker says it was not delivered yet. `arrived`:
  // when the library learnt of it (EventInfo::received).
  void Report(EventType type, EventInfo info, bool confirmed = false,
              std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now());
  // Delivers every exit record of the namespace without a .delivered marker (and finishes
  // tasks whose monitor died while no Client ran). Called once by a new Client.
  void ScanNamespace();
  // Stops the thread, closes subscriptions, delivers what is queued, joins. Idempotent.
  void Shutdown();

 private:
  struct Sub {
    UniqueFd fd;
    ContainerRecord rec;
    uint32_t monitor_pid = 0;
    bool deleting = false;
  };
  void Run();
  void Wake();
  void HandleMessage(const std::string& id, const nlohmann::json& ev,
                     std::chrono::steady_clock::time_point arrived);
  // The subscription of `id` ended: a death unless it was being deleted.
  void OnClosed(Sub sub);
  void DeliverDeadTask(const ContainerRecord& rec, const std::string& task_dir);

  Layout layout_;
  bool enabled_ = false;
  events::TaskTracker tracker_;
  std::unique_ptr<events::Dispatcher> dispatcher_;
  UniqueFd wake_;
  std::mutex mu_;
  std::map<int, Sub> subs_;  // by fd
  bool stopping_ = false;
  // Flush: requests counted under mu_; the events thread sets flush_done_ to the count it saw
  // before a poll once that pass has read every readable subscription to the end.
  uint64_t flush_requested_ = 0;
  uint64_t flush_done_ = 0;
  std::condition_variable flush_cv_;
  std::thread thread_;
};

}  // namespace libcontainerd::direct
