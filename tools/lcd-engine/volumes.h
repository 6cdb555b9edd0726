// lcd-engine: volumes of the local driver (docker volume create/ls/inspect/rm/prune, -v NAME:/path,
// --mount type=volume, anonymous volumes for Config.Volumes and the image's VOLUMEs,
// --volumes-from). Each volume is a directory ROOT/volumes/<name>/_data with a record
// ROOT/volumes/<name>/volume.json (labels, options, created, anonymous).
// Thread-safety: every method may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libcontainerd/oci/spec.h"

namespace lcde {

class Engine;

// One volume mount of a container, as kept in its record (inspect's Mounts entry of Type
// "volume").
struct VolumeMount {
  std::string name;         // the volume's name (64 hex for an anonymous one)
  std::string source;       // ROOT/volumes/<name>/_data
  std::string destination;  // path in the container
  bool rw = true;
  bool anonymous = false;  // removed with the container by `docker rm -v` and --rm
};
nlohmann::json ToJson(const VolumeMount& m);
VolumeMount VolumeMountFromJson(const nlohmann::json& j);

class Volumes {
 public:
  explicit Volumes(Engine& engine);
  ~Volumes();

  // The mount of a volume for container `container_id` at `destination`: `name` empty makes an
  // anonymous volume; a missing named volume is created (docker's first-use rule). A volume
  // created here (or still empty and never filled) gets the image's files at `destination`
  // (copied from image_ref's root file system, ownership and modes kept) when the image has
  // any there. Records the container as a user. Throws HttpError 400 for a bad name or path.
  VolumeMount Mount(const std::string& container_id, const std::string& name,
                    const std::string& destination, bool read_only, const std::string& image_ref);
  // The OCI mount for a VolumeMount (rbind, rw/ro).
  static libcontainerd::oci::Mount OciMount(const VolumeMount& m);
  // The container is gone: drops it as a user of its volumes; removes its anonymous volumes
  // when remove_anonymous (docker rm -v, --rm).
  void Release(const std::string& container_id, const std::vector<VolumeMount>& mounts,
               bool remove_anonymous);

  // Registers the volume routes (/volumes, /volumes/create, /volumes/{name}, /volumes/prune).
  void RegisterRoutes(class Router& router);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lcde
