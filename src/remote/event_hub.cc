#include "remote/event_hub.h"

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

#include "libcontainerd/log.h"
#include "remote/connection.h"
#include "remote/convert.h"
#include "remote/event_decode.h"

namespace libcontainerd::remote {
namespace {
constexpr const char* kSyncTopicPrefix = "/libcontainerd-sync/";
// The namespace the sync events are published in: one of the library's own, never the user's,
// so that no subscriber of the user's namespaces (moby's `namespace==NS` filter, `ctr events
// namespace==NS`) sees them. containerd checks only that a published event's namespace is a
// valid name; nothing is created. An unfiltered subscriber receives every event whatever its
// namespace (containerd 1.6 has no private events): it sees them here, as decodable
// google.protobuf.Empty events (printed by `ctr events` as `{}`, not a decoding warning).
constexpr const char* kSyncNamespace = "libcontainerd-sync";

std::string Token() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}
}  // namespace

EventHub::EventHub(std::shared_ptr<Connection> conn, std::shared_ptr<Backend> backend,
                   std::shared_ptr<events::TaskTracker> tracker)
    : conn_(std::move(conn)),
      tracker_(std::move(tracker)),
      dispatcher_(std::make_unique<events::Dispatcher>(std::move(backend))) {}

EventHub::~EventHub() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  stop_.Cancel();  // ends the stream's Read and any call or reconnect wait of the Hub's
  cv_.notify_all();
  if (reader_.joinable()) reader_.join();
  // Flushes every held exit; none is held once stopping_ is set (Post, OnDeletedExit).
  if (deferred_thread_.joinable()) deferred_thread_.join();
  dispatcher_.reset();
}

bool EventHub::AlreadyDelivered(const EventInfo& info) const {
  const bool init = info.process_id == info.container_id;
  return tracker_->DeliveredExit(info.container_id, init ? "" : info.process_id, info.pid)
      .has_value();
}

void EventHub::OnDeletedExit(const EventInfo& info) {
  {
    std::lock_guard l(mu_);
    if (AlreadyDelivered(info)) {  // the usual case: the stream was first; nothing to hold
      ++counters_.duplicates;
      return;
    }
    if (!stopping_) {
      deferred_.push_back({std::chrono::steady_clock::now() + kDeletedExitGrace, info});
      if (!deferred_thread_.joinable()) deferred_thread_ = std::thread([this] { RunDeferred(); });
      cv_.notify_all();
      return;
    }
  }
  Handle(EventType::kExit, info, "a Delete", true);
}

bool EventHub::Releasable(const Held& h, std::chrono::steady_clock::time_point now) const {
  return h.ready ||
         (h.barrier != 0 && (h.barrier <= barrier_seen_ || now >= h.barrier_sent + kBarrierCap));
}

void EventHub::RunDeferred() {
  auto for_each_held = [this](auto&& f) {
    for (auto& h : deferred_) f(h);
    for (auto& [k, h] : held_exits_) f(h);
  };
  std::unique_lock l(mu_);
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    // Exits whose grace has passed wait for one new barrier (or go at once without a stream).
    bool ask = false;
    for (auto& h : deferred_)  // delivered by the stream meanwhile: no barrier needed (dropped)
      if (!h.ready && h.barrier == 0 && h.due <= now && AlreadyDelivered(h.info)) h.ready = true;
    for_each_held([&](Held& h) { ask |= !h.ready && h.barrier == 0 && h.due <= now; });
    if (ask && !stopping_) {
      const bool live = !sync_token_.empty();
      const uint64_t seq = live ? ++barrier_asked_ : 0;
      for_each_held([&](Held& h) {
        if (h.ready || h.barrier != 0 || h.due > now) return;
        h.ready = !live;
        h.barrier = seq;
        h.barrier_sent = now;
      });
      if (live) {
        const std::string topic = SyncTopic(sync_token_, seq);
        l.unlock();
        const bool published = PublishSync(topic);
        l.lock();
        if (!published) for_each_held([&](Held& h) { h.ready |= h.barrier == seq; });
        continue;
      }
    }
    // Release what may go: Delete-learnt exits in their order, held exec exits as they come.
    std::vector<EventInfo> exits;
    while (!deferred_.empty() && (stopping_ || Releasable(deferred_.front(), now))) {
      exits.push_back(std::move(deferred_.front().info));
      deferred_.pop_front();
    }
    for (auto it = held_exits_.begin(); it != held_exits_.end();) {
      if (stopping_ || Releasable(it->second, now)) {
        exec_not_started_.erase(it->first);
        dispatcher_->Post(EventType::kExit, std::move(it->second.info));
        it = held_exits_.erase(it);
      } else {
        ++it;
      }
    }
    if (!exits.empty()) {
      l.unlock();
      for (auto& e : exits) Handle(EventType::kExit, std::move(e), "a Delete", true);
      l.lock();
      continue;
    }
    if (stopping_) return;
    std::optional<std::chrono::steady_clock::time_point> next;
    for_each_held([&](Held& h) {
      if (h.ready) return;
      auto t = h.barrier == 0 ? h.due : h.barrier_sent + kBarrierCap;
      if (!next || t < *next) next = t;
    });
    // Woken by new exits, barriers read back, a stream's end and stopping (all under mu_).
    if (next)
      cv_.wait_until(l, *next);
    else
      cv_.wait(l);
  }
}

void EventHub::HandleSyncEcho(const std::string& topic) {
  if (!topic.starts_with(kSyncTopicPrefix)) return;
  std::string rest = topic.substr(std::char_traits<char>::length(kSyncTopicPrefix));
  auto slash = rest.find('/');
  if (slash == std::string::npos) return;
  uint64_t seq = 0;
  try {
    seq = std::stoull(rest.substr(slash + 1));
  } catch (const std::exception&) {
    return;
  }
  {
    std::lock_guard l(mu_);
    sync_token_ = rest.substr(0, slash);
    barrier_seen_ = std::max(barrier_seen_, seq);
  }
  cv_.notify_all();
}

void EventHub::SetLiveForTest(std::string token,
                              std::function<bool(const std::string& topic)> publish) {
  std::lock_guard l(mu_);
  sync_token_ = std::move(token);
  publish_for_test_ = std::move(publish);
}

std::string EventHub::SyncTopic(const std::string& token, uint64_t seq) {
  return kSyncTopicPrefix + token + "/" + std::to_string(seq);
}

void EventHub::Start(std::chrono::milliseconds timeout, bool connected) {
  reader_ = std::thread([this, connected] { Run(connected); });
  if (!connected) return;  // subscribes when the daemon comes (Run)
  std::unique_lock l(mu_);
  if (!cv_.wait_for(l, timeout, [this] { return live_ || stopping_; }))
    Log(LogLevel::kWarning, "event subscription not confirmed within " +
                                std::to_string(timeout.count()) + " ms; events may start late");
}

EventHub::Counters EventHub::counters() const {
  Counters c;
  {
    std::lock_guard l(mu_);
    c = counters_;
  }
  c.dropped = dispatcher_->dropped();
  c.dispatch_wait_log2_us = dispatcher_->wait_histogram();
  return c;
}

bool EventHub::StartRpc(std::optional<Rpc>& rpc, const Context& ctx, const char* op,
                        const std::string& ns) {
  if (stop_.cancelled()) return false;
  try {
    rpc.emplace(*conn_, ctx, op, ns);
    return true;
  } catch (const Error&) {
    return false;  // stop_ was cancelled meanwhile (or the Client closed): the Hub is stopping
  }
}

bool EventHub::PublishSync(const std::string& topic) {
  std::function<bool(const std::string&)> fake;
  {
    std::lock_guard l(mu_);
    fake = publish_for_test_;
  }
  if (fake) return fake(topic);
  std::optional<Rpc> rpc;
  if (!StartRpc(rpc, stop_.WithDeadline(Context::Clock::now() + std::chrono::seconds(1)),
                "Events.Publish", kSyncNamespace))
    return false;
  events_v1::PublishRequest req;
  req.set_topic(topic);
  SetAny(req.mutable_event(), "google.protobuf.Empty", "");
  google::protobuf::Empty resp;
  grpc::Status s = conn_->events().Publish(rpc->get(), req, &resp);
  if (!s.ok()) Log(LogLevel::kDebug, "event sync publish failed: " + s.error_message());
  return s.ok();
}

void EventHub::Run(bool connected) {
  // A stream that follows a gap (a reconnect, or a lazy Client's first subscription once the
  // daemon came) reconciles once it is live.
  bool reconcile = !connected;
  if (!connected) {
    Log(LogLevel::kInfo, "containerd at " + conn_->options().address +
                             " not serving yet: the event stream subscribes when it does");
    if (!WaitForDaemon(/*wait_first=*/false)) return;
    Log(LogLevel::kInfo, "containerd at " + conn_->options().address +
                             " serves: subscribing to its events and reconciling tasks");
  }
  for (;;) {
    // The stream's context is cancelled (its Read ends) when the Hub stops (stop_).
    std::optional<Rpc> rpc;
    if (!StartRpc(rpc, stop_, "Events.Subscribe", conn_->ns())) return;
    const std::string token = Token();
    events_v1::SubscribeRequest req;
    // Separate filters are OR'ed, comma means AND (containerd's filter syntax).
    // Only the topics decoded (not /tasks/delete, ...); `"` delimits the regex, as `|` would
    // end a |-delimited one.
    req.add_filters("namespace==" + conn_->ns() + ",topic~=\"" + DecodedTopicsRegex() + "\"");
    req.add_filters(std::string("namespace==") + kSyncNamespace + ",topic~=|^" +
                    std::string(kSyncTopicPrefix) + token + "/|");
    auto reader = conn_->events().Subscribe(rpc->get(), req);
    // The Subscribe call returns before containerd has registered the subscription, and an
    // event published before that is not delivered to it. So the sync event is published
    // again every 250 ms until one comes back: from then on every event reaches the stream.
    // Only then does reconciliation (after a gap) ask for the tasks' states, so an exit is
    // either in that answer or on the stream. A stream that never confirms (10 s) is treated as
    // live anyway, with a warning. Sync events are <prefix><token>/<seq>: 0 for this
    // confirmation, then the barriers of held exits (RunDeferred).
    bool ended = false;
    auto synced = [&] { return sync_token_ == token; };  // with mu_ held
    std::thread syncer([&, token, reconcile] {
      auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      bool confirmed = false;
      for (;;) {
        {
          std::lock_guard l(mu_);
          if (stopping_ || ended) return;
          if (synced()) {
            confirmed = true;
            break;
          }
        }
        if (std::chrono::steady_clock::now() >= give_up) break;
        if (!PublishSync(SyncTopic(token, 0))) {
          std::lock_guard l(mu_);
          if (stopping_ || ended) return;
          break;  // the daemon refuses it: do without the confirmation
        }
        std::unique_lock l(mu_);
        cv_.wait_for(l, std::chrono::milliseconds(250),
                     [&] { return stopping_ || ended || synced(); });
      }
      if (!confirmed)
        Log(LogLevel::kWarning,
            "event subscription not confirmed by containerd; treating it as live");
      if (reconcile) Reconcile();
      {
        std::lock_guard l(mu_);
        if (stopping_ || ended) return;
        live_ = true;
      }
      cv_.notify_all();
    });
    events_v1::Envelope env;
    while (reader->Read(&env)) {
      const auto arrived = std::chrono::steady_clock::now();
      if (env.topic().starts_with(kSyncTopicPrefix)) {
        HandleSyncEcho(env.topic());
        continue;
      }
      try {
        auto d = DecodeEnvelope(env.topic(), env.event().type_url(), env.event().value());
        if (d) Handle(d->type, std::move(d->info), nullptr, false, arrived);
      } catch (const Error& e) {
        {
          std::lock_guard l(mu_);
          ++counters_.undecodable;
        }
        Log(LogLevel::kWarning, std::string("undecodable event skipped: ") + e.what());
      }
    }
    {
      // No barrier of this stream can come back now: the exits waiting on one may go.
      std::lock_guard l(mu_);
      ended = true;
      sync_token_.clear();
      barrier_seen_ = barrier_asked_;
    }
    cv_.notify_all();
    syncer.join();
    grpc::Status s = reader->Finish();
    {
      std::lock_guard l(mu_);
      live_ = false;
      if (stopping_) return;
      ++counters_.reconnects;
    }
    Log(LogLevel::kWarning, "event stream from containerd ended (" + s.error_message() +
                                "); reconnecting and reconciling tasks");
    if (!WaitForDaemon(/*wait_first=*/true)) return;
    reconcile = true;
  }
}

bool EventHub::WaitForDaemon(bool wait_first) {
  // remote::WaitForDaemon ends only when the daemon answers or stop_ is cancelled (it has no
  // deadline): kCancelled is the Hub stopping.
  if (stop_.cancelled()) return false;
  try {
    remote::WaitForDaemon(*conn_, stop_, "Events.Subscribe", {}, "event stream ended",
                          /*probe_first=*/!wait_first);
    return true;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kCancelled)
      Log(LogLevel::kWarning, std::string("event stream not re-subscribed: ") + e.what());
    return false;
  }
}

void EventHub::Reconcile() {
  for (const auto& inst : tracker_->Snapshot()) {
    {
      std::lock_guard l(mu_);
      if (stopping_) return;
    }
    std::optional<Rpc> rpc;
    if (!StartRpc(rpc, stop_.WithDeadline(Context::Clock::now() + std::chrono::seconds(5)),
                  "Tasks.Get", conn_->ns()))
      return;
    tasks_v1::GetRequest req;
    req.set_container_id(inst.container_id);
    req.set_exec_id(inst.exec_id);
    tasks_v1::GetResponse resp;
    grpc::Status s = conn_->tasks().Get(rpc->get(), req, &resp);
    if (stop_.cancelled()) return;  // cut short by the Hub's stop: nothing to report
    EventInfo info;
    info.container_id = inst.container_id;
    info.process_id = inst.exec_id.empty() ? inst.container_id : inst.exec_id;
    if (s.ok()) {
      const auto& p = resp.process();
      if (FromProtoStatus(p.status()) != Status::kStopped) continue;  // still running
      info.pid = p.pid();
      info.exit_code = p.exit_status();
      info.exited_at = FromProto(p.exited_at());
    } else if (s.error_code() == grpc::StatusCode::NOT_FOUND && inst.pid != 0) {
      // Deleted by someone else while we could not see its exit: the status is gone.
      info.pid = inst.pid;
      info.exit_code = 255;
      info.exited_at = std::chrono::system_clock::now();
      info.error =
          "process was deleted while the event stream was down; its exit status is unknown";
    } else {
      if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND)
        Log(LogLevel::kWarning,
            "reconcile of " + inst.container_id + " failed: " + s.error_message());
      continue;
    }
    Handle(EventType::kExit, std::move(info), "reconciliation after a stream gap");
  }
}

void EventHub::Handle(EventType type, EventInfo info, const char* synthesised_from, bool confirmed,
                      std::chrono::steady_clock::time_point arrived) {
  const bool synthesised = synthesised_from != nullptr;
  switch (type) {
    case EventType::kExit: {
      auto v = tracker_->OnExit(info, confirmed);
      if (v != events::TaskTracker::Verdict::kDeliver) {
        {
          std::lock_guard l(mu_);
          ++(v == events::TaskTracker::Verdict::kDuplicate ? counters_.duplicates
                                                           : counters_.stale);
        }
        Log(v == events::TaskTracker::Verdict::kDuplicate ? LogLevel::kDebug : LogLevel::kWarning,
            std::string(v == events::TaskTracker::Verdict::kDuplicate ? "duplicate" : "stale") +
                " exit of " + info.container_id + "/" + info.process_id + " pid " +
                std::to_string(info.pid) + " dropped");
        return;
      }
      if (synthesised)
        Log(LogLevel::kInfo, "exit of " + info.container_id + "/" + info.process_id +
                                 " not seen on the event stream: synthesised from " +
                                 synthesised_from + " (code " + std::to_string(info.exit_code) +
                                 ")");
      break;
    }
    case EventType::kCreate:
      tracker_->TrackTaskIfKnown(info.container_id, info.pid);
      break;
    case EventType::kExecStarted:
      tracker_->TrackExecIfKnown(info.container_id, info.process_id, info.pid);
      break;
    default:
      break;
  }
  Post(type, std::move(info), synthesised, arrived);
}

void EventHub::Post(EventType type, EventInfo info, bool synthesised,
                    std::chrono::steady_clock::time_point arrived) {
  std::lock_guard l(mu_);
  const bool exec = info.process_id != info.container_id;
  ExecKey key{info.container_id, info.process_id};
  if (exec && type == EventType::kExecAdded) {
    exec_not_started_.insert(key);
  } else if (exec && type == EventType::kExit && exec_not_started_.count(key) && !stopping_) {
    held_exits_[key] = {std::chrono::steady_clock::now() + kExecStartGrace, std::move(info)};
    ++counters_.delivered;
    if (synthesised) ++counters_.synthesised;
    if (!deferred_thread_.joinable()) deferred_thread_ = std::thread([this] { RunDeferred(); });
    cv_.notify_all();
    return;
  }
  if (!exec && type == EventType::kExit) {
    // The task is over: its execs' held exits go first (an exec's exit after its task's would
    // confuse a caller waiting for it), and execs that never started will not.
    for (auto it = exec_not_started_.lower_bound({info.container_id, ""});
         it != exec_not_started_.end() && it->first == info.container_id;) {
      if (auto h = held_exits_.find(*it); h != held_exits_.end()) {
        dispatcher_->Post(EventType::kExit, std::move(h->second.info));
        held_exits_.erase(h);
      }
      it = exec_not_started_.erase(it);
    }
  }
  if (synthesised) ++counters_.synthesised;
  if (dispatcher_->Post(type, std::move(info), arrived))
    ++counters_.delivered;  // else counted as dropped
  if (exec && type == EventType::kExecStarted) {
    exec_not_started_.erase(key);
    if (auto it = held_exits_.find(key); it != held_exits_.end()) {
      dispatcher_->Post(EventType::kExit, std::move(it->second.info));
      held_exits_.erase(it);
    }
  }
}

}  // namespace libcontainerd::remote
