// lcd-engine: the engine's shared parts, made once at start and given to every API area.
// Each area registers its routes: system_api.cc, images_api.cc, containers_api.cc, exec_api.cc,
// networks_api.cc. The engine uses the library's public headers only.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "events.h"
#include "http.h"
#include "libcontainerd/client.h"
#include "libcontainerd/context.h"
#include "libcontainerd/images.h"
#include "libcontainerd/net.h"

namespace lcde {

struct EngineOptions {
  std::string root = "/var/lib/lcd-engine";  // state: containers/, logs, managed containerd
  std::string socket = "/run/lcd/docker.sock";
  std::string containerd;         // address of a running containerd; empty: the managed one
  std::string ns = "lcd-engine";  // containerd namespace of the engine's containers
  std::vector<std::string> insecure_registries;  // plain HTTP (loopback is always allowed)
  std::string net_config_dir;                    // empty: <root>/net/conf
  std::string net_state_dir;                     // empty: /run/lcd-engine/<hash of root>/net
  std::vector<std::string> cni_path = {"/usr/lib/cni", "/opt/cni/bin"};
  std::string default_bridge = "lcd-docker0";
  std::string default_subnet;  // empty: chosen free
};

// What other areas need to know of a container (networks inspect, image delete, info).
struct ContainerSummary {
  std::string id;
  std::string name;      // without the leading "/"
  std::string image;     // as the user gave it
  std::string image_id;  // "sha256:..."
  std::string state;     // created, running, paused, restarting, removing, exited, dead
  std::string network;   // network mode: "bridge", "host", "none", a network name, container:ID
  std::string ip_address;
  int prefix_length = 0;
  std::string gateway;
  std::string mac_address;
};

class Containers;  // containers.h
class Volumes;     // volumes.h

class Engine {
 public:
  explicit Engine(EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineOptions& options() const { return options_; }
  libcontainerd::Client& client() { return *client_; }
  libcontainerd::images::ImageService& images() { return *images_; }
  libcontainerd::net::Manager& net() { return *net_; }
  EventBus& events() { return events_; }
  Containers& containers() { return *containers_; }
  Volumes& volumes() { return *volumes_; }

  // A fresh context for one request's library calls (30 s unless the call streams).
  static libcontainerd::Context Ctx() { return libcontainerd::Context(); }

  // Implemented by containers_api.cc.
  std::vector<ContainerSummary> ContainerSummaries();
  // Implemented by images_api.cc: the image named by a reference ("busybox", "host:5000/a:b"),
  // a full or short ID ("sha256:abc...", "abc123") or a digest reference; throws HttpError 404
  // "No such image: <name>" when there is none.
  libcontainerd::images::Image ResolveImage(const std::string& name_or_id);
  // docker's image ID of an image: "sha256:" + its config digest's hex.
  static std::string ImageId(const libcontainerd::images::Image& image);

  std::string id() const { return id_; }  // stable engine ID (kept under root)
  std::chrono::system_clock::time_point started() const { return started_; }

  // Registers every API area's routes.
  void RegisterRoutes(Router& router);

 private:
  EngineOptions options_;
  std::string id_;
  std::chrono::system_clock::time_point started_;
  std::shared_ptr<void> supervisor_;  // the managed containerd (type erased)
  std::shared_ptr<libcontainerd::Backend> backend_;
  std::shared_ptr<libcontainerd::Client> client_;
  std::shared_ptr<libcontainerd::images::ImageService> images_;
  std::shared_ptr<libcontainerd::net::Manager> net_;
  EventBus events_;
  std::unique_ptr<Volumes> volumes_;
  std::unique_ptr<Containers> containers_;
};

// Route registration of each area (each in its own file).
void RegisterSystemRoutes(Router& router, Engine& engine);
void RegisterImageRoutes(Router& router, Engine& engine);
void RegisterContainerRoutes(Router& router, Engine& engine);
void RegisterExecRoutes(Router& router, Engine& engine);
void RegisterContainerOpsRoutes(Router& router, Engine& engine);  // stats, top, update, ...
void RegisterNetworkRoutes(Router& router, Engine& engine);

// Time as docker writes it: RFC 3339 with nanoseconds, UTC ("2024-01-02T03:04:05.123456789Z").
std::string Rfc3339Nano(std::chrono::system_clock::time_point t);
// docker's --since/--until values: Unix seconds ("1700000000", "1700000000.5"), RFC 3339, or a
// duration before now ("10m", "1h30m"). Returns nanoseconds since the epoch; throws HttpError 400
// naming the value when malformed.
int64_t ParseDockerTime(const std::string& value);
// docker's filters query parameter ({"status":["running"],"label":["a=b"]} or the old
// {"status":{"running":true}}) as name -> values; throws HttpError 400 when malformed.
std::map<std::string, std::vector<std::string>> ParseFilters(const std::string& json_text);

}  // namespace lcde
