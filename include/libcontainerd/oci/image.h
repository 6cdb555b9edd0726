// libcontainerd: an OCI runtime spec from an image's config, as docker combines them.
// Thread-safety: reentrant; reads <image_root>/etc/passwd and /etc/group for user names only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "libcontainerd/export.h"
#include "libcontainerd/images.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/spec.h"

namespace libcontainerd::oci {

// What the caller says over the image. Unset fields keep the image's.
struct LCD_EXPORT ImageOverrides {
  // Replaces the image's entrypoint; set (even to {}) it also drops the image's cmd (docker's
  // --entrypoint rule).
  std::optional<std::vector<std::string>> entrypoint;
  // Non-empty: replaces the image's cmd.
  std::vector<std::string> cmd;
  // Merged over the image's env: "KEY=value" replaces the image's KEY, a bare "KEY" removes it.
  std::vector<std::string> env;
  std::optional<std::string> working_dir;
  std::optional<std::string> user;
};

// The spec of a container from an image: process.args = entrypoint + cmd, env = image env with
// the overrides, cwd = working dir (or "/"), user resolved against the image's /etc/passwd and
// /etc/group under image_root (a directory holding the image's tree, e.g. from
// ImageService::WithRootfs; "" allows numeric users only); everything else from `base` as
// DefaultSpec makes it (base.args, env, cwd, user and rootfs are ignored). root.path is
// "rootfs" (the bundle's, where containerd mounts the snapshot). Throws
// Error{kInvalidArgument} when neither image nor overrides give a command, and as DefaultSpec.
LCD_EXPORT Spec SpecFromImage(const images::ImageConfig& image, const ImageOverrides& overrides,
                              const SpecOptions& base = {}, const std::string& image_root = "");

}  // namespace libcontainerd::oci
