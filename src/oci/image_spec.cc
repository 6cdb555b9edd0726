// oci::SpecFromImage: docker's rules for combining an image's config with the caller's flags.
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/image.h"

namespace libcontainerd::oci {

Spec SpecFromImage(const images::ImageConfig& image, const ImageOverrides& overrides,
                   const SpecOptions& base, const std::string& image_root) {
  SpecOptions o = base;
  o.args = overrides.entrypoint ? *overrides.entrypoint : image.entrypoint;
  const std::vector<std::string>& cmd =
      !overrides.cmd.empty() ? overrides.cmd : (overrides.entrypoint ? overrides.cmd : image.cmd);
  o.args.insert(o.args.end(), cmd.begin(), cmd.end());
  if (o.args.empty())
    throw Error(ErrorKind::kInvalidArgument,
                "the image has no entrypoint and no cmd: give the command to run",
                {.op = "SpecFromImage"});
  o.env = image.env;
  o.env.insert(o.env.end(), overrides.env.begin(), overrides.env.end());
  o.cwd = overrides.working_dir ? *overrides.working_dir : image.working_dir;
  if (o.cwd.empty()) o.cwd = "/";
  o.user = overrides.user ? *overrides.user : image.user;
  o.rootfs = image_root;
  Spec spec = DefaultSpec(o);
  if (!spec.root) spec.root.emplace();
  spec.root->path = "rootfs";
  return spec;
}

}  // namespace libcontainerd::oci
