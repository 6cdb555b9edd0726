// lcd-engine: the event log (events.h) and docker's JSON form of an event.
#include "events.h"

#include <nlohmann/json.hpp>

namespace lcde {

std::string EventJson(const Event& e) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  // docker's legacy fields: status/id/from for containers, status/id for images.
  if (e.type == "container" || e.type == "image") {
    j["status"] = e.action;
    j["id"] = e.id;
    if (e.type == "container") {
      auto it = e.attributes.find("image");
      if (it != e.attributes.end() && !it->second.empty()) j["from"] = it->second;
    }
  }
  j["Type"] = e.type;
  j["Action"] = e.action;
  nlohmann::ordered_json attrs = nlohmann::ordered_json::object();
  for (const auto& [k, v] : e.attributes) attrs[k] = v;
  j["Actor"] = {{"ID", e.id}, {"Attributes", std::move(attrs)}};
  j["scope"] = "local";
  int64_t secs = e.time_nano / 1000000000;
  if (e.time_nano < 0 && e.time_nano % 1000000000 != 0) --secs;
  j["time"] = secs;
  j["timeNano"] = e.time_nano;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void EventBus::Publish(Event e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    e.seq = ++seq_;
    if (e.time_nano == 0) {
      e.time_nano = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    }
    history_.push_back(std::move(e));
    while (history_.size() > kHistory) history_.pop_front();
  }
  cv_.notify_all();
}

std::vector<Event> EventBus::History(int64_t since_nano, int64_t until_nano) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Event> out;
  for (const Event& e : history_) {
    if (e.time_nano < since_nano) continue;
    if (until_nano != 0 && e.time_nano > until_nano) continue;
    out.push_back(e);
  }
  return out;
}

uint64_t EventBus::LastSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

std::vector<Event> EventBus::WaitAfter(uint64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<Event> out;
  if (!cv_.wait_for(lock, timeout, [&] { return seq_ > after; })) return out;
  // history_ is in seq order: walk back to the first event after `after`.
  auto it = history_.end();
  while (it != history_.begin() && std::prev(it)->seq > after) --it;
  out.assign(it, history_.end());
  return out;
}

}  // namespace lcde
