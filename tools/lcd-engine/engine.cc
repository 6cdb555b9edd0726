// lcd-engine: the Engine (engine.h): containerd (managed or given), the Client with its event
// Backend, the image service, the network manager and the containers.
#include "engine.h"

#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <vector>

#include "common.h"
#include "containers.h"
#include "health.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "libcontainerd/supervisor.h"
#include "volumes.h"

namespace lcde {

namespace lcd = libcontainerd;
namespace fs = std::filesystem;

namespace {

// Hands the library's task events to the containers (exactly once per exit). Events that come
// before the engine is ready (its containers loaded, its routes and hooks set) are kept and
// delivered, in order, when it is.
class EngineBackend : public lcd::Backend {
 public:
  explicit EngineBackend(Engine* engine) : engine_(engine) {}
  void Ready() {
    for (;;) {
      std::vector<Pending> pending;
      {
        std::lock_guard l(mu_);
        if (pending_.empty()) {
          ready_ = true;
          return;
        }
        pending.swap(pending_);
      }
      for (const auto& p : pending) engine_->containers().OnEvent(p.id, p.type, p.info);
    }
  }
  void ProcessEvent(const std::string& container_id, lcd::EventType type,
                    const lcd::EventInfo& info) override {
    {
      std::lock_guard l(mu_);
      if (!ready_) {
        pending_.push_back(Pending{container_id, type, info});
        return;
      }
    }
    engine_->containers().OnEvent(container_id, type, info);
  }

 private:
  struct Pending {
    std::string id;
    lcd::EventType type;
    lcd::EventInfo info;
  };
  Engine* engine_;
  std::mutex mu_;
  bool ready_ = false;
  std::vector<Pending> pending_;
};

std::string ReadOrMakeId(const std::string& path) {
  std::ifstream in(path);
  std::string id;
  if (in && std::getline(in, id) && id.size() == 64) return id;
  id = RandomHex(32);
  WriteFileAtomic(path, id + "\n");
  return id;
}

}  // namespace

Engine::Engine(EngineOptions options) : options_(std::move(options)) {
  fs::create_directories(options_.root);
  id_ = ReadOrMakeId(options_.root + "/engine-id");
  started_ = std::chrono::system_clock::now();

  lcd::ClientOptions co;
  co.ns = options_.ns;
  co.state_dir = options_.root + "/client";
  if (options_.containerd.empty()) {
    lcd::SupervisorOptions so;
    so.root = options_.root + "/containerd";
    auto sup = std::make_shared<lcd::Supervisor>(so);
    co.address = sup->address();
    co.runc_root = sup->runc_root();
    supervisor_ = sup;
  } else {
    co.address = options_.containerd;
  }
  lcd::net::ManagerOptions mo;
  mo.state_dir = options_.net_state_dir.empty() ? options_.root + "/net" : options_.net_state_dir;
  mo.config_dir =
      options_.net_config_dir.empty() ? options_.root + "/net/conf" : options_.net_config_dir;
  if (!options_.cni_path.empty()) mo.plugin_dirs = options_.cni_path;
  mo.default_bridge = options_.default_bridge;
  mo.default_subnet = options_.default_subnet;
  net_ = lcd::net::NewManager(mo);
  co.network = net_;
  auto backend = std::make_shared<EngineBackend>(this);
  backend_ = backend;
  co.backend = backend;
  client_ = lcd::NewContainerdClient(co);
  images_ = client_->Images();
  volumes_ = std::make_unique<Volumes>(*this);
  containers_ = std::make_unique<Containers>(*this);
  containers_->Load();
}

Engine::~Engine() {
  // No restart from now on, and the exits' handling on other threads ends while the Client is
  // still there (it uses it).
  if (containers_) containers_->Shutdown();
  // The Client goes next: its destructor delivers what is queued and joins the dispatch
  // threads, which call into the containers.
  client_.reset();
  containers_.reset();
  volumes_.reset();
}

void Engine::RegisterRoutes(Router& router) {
  volumes_->RegisterRoutes(router);
  RegisterSystemRoutes(router, *this);
  RegisterImageRoutes(router, *this);
  RegisterContainerRoutes(router, *this);
  RegisterExecRoutes(router, *this);
  RegisterNetworkRoutes(router, *this);
  RegisterHealth(*this);  // health checks (health.cc): on_started / on_stopped
  // Hooks are set (exec exits): events may flow now.
  static_cast<EngineBackend*>(backend_.get())->Ready();
}

}  // namespace lcde
