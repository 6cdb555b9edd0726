// oci::SpecFromImage: docker's rules for entrypoint, cmd, env, working dir and user.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "libcontainerd/errors.h"
#include "libcontainerd/oci/image.h"

namespace libcontainerd::oci {
namespace {

using V = std::vector<std::string>;

images::ImageConfig Image() {
  images::ImageConfig c;
  c.entrypoint = {"/bin/entry"};
  c.cmd = {"default", "args"};
  c.env = {"PATH=/usr/bin:/bin", "FROM_IMAGE=1", "SHARED=image"};
  c.working_dir = "/srv";
  c.user = "1000";
  return c;
}

bool HasEnv(const Spec& s, const std::string& kv) {
  const auto& env = s.process->env;
  return std::find(env.begin(), env.end(), kv) != env.end();
}

TEST(OciImageSpec, ImageDefaultsApply) {
  Spec s = SpecFromImage(Image(), {});
  EXPECT_EQ(s.process->args, (V{"/bin/entry", "default", "args"}));
  EXPECT_TRUE(HasEnv(s, "FROM_IMAGE=1"));
  EXPECT_TRUE(HasEnv(s, "PATH=/usr/bin:/bin"));
  EXPECT_EQ(s.process->cwd, "/srv");
  EXPECT_EQ(s.process->user.uid, 1000u);
  EXPECT_EQ(s.root->path, "rootfs");
}

TEST(OciImageSpec, CmdOverrideKeepsEntrypoint) {
  ImageOverrides o;
  o.cmd = {"mine"};
  EXPECT_EQ(SpecFromImage(Image(), o).process->args, (V{"/bin/entry", "mine"}));
}

TEST(OciImageSpec, EntrypointOverrideDropsImageCmd) {
  ImageOverrides o;
  o.entrypoint = V{"/bin/other"};
  EXPECT_EQ(SpecFromImage(Image(), o).process->args, (V{"/bin/other"}));
  o.cmd = {"x"};
  EXPECT_EQ(SpecFromImage(Image(), o).process->args, (V{"/bin/other", "x"}));
}

TEST(OciImageSpec, EnvMergedAndOverridesWin) {
  ImageOverrides o;
  o.env = {"SHARED=mine", "NEW=2", "FROM_IMAGE"};
  Spec s = SpecFromImage(Image(), o);
  EXPECT_TRUE(HasEnv(s, "SHARED=mine"));
  EXPECT_FALSE(HasEnv(s, "SHARED=image"));
  EXPECT_TRUE(HasEnv(s, "NEW=2"));
  EXPECT_FALSE(HasEnv(s, "FROM_IMAGE=1"));
}

TEST(OciImageSpec, WorkingDirAndUserOverrides) {
  ImageOverrides o;
  o.working_dir = "/tmp";
  o.user = "0:0";
  Spec s = SpecFromImage(Image(), o);
  EXPECT_EQ(s.process->cwd, "/tmp");
  EXPECT_EQ(s.process->user.uid, 0u);
  images::ImageConfig bare;
  bare.cmd = {"sh"};
  EXPECT_EQ(SpecFromImage(bare, {}).process->cwd, "/");
}

TEST(OciImageSpec, UserNameResolvedInTheImageTree) {
  auto dir = std::filesystem::temp_directory_path() / ("lcd-imgspec-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "etc");
  std::ofstream(dir / "etc/passwd")
      << "root:x:0:0::/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\n";
  std::ofstream(dir / "etc/group") << "root:x:0:\napp:x:1002:\nextra:x:1003:app\n";
  images::ImageConfig c = Image();
  c.user = "app";
  Spec s = SpecFromImage(c, {}, {}, dir.string());
  EXPECT_EQ(s.process->user.uid, 1001u);
  EXPECT_EQ(s.process->user.gid, 1002u);
  EXPECT_EQ(s.process->user.additional_gids, (std::vector<uint32_t>{1003}));
  EXPECT_EQ(s.root->path, "rootfs");  // the lookup tree is not the container's root
  std::filesystem::remove_all(dir);
}

TEST(OciImageSpec, NoCommandIsAClearError) {
  try {
    SpecFromImage(images::ImageConfig{}, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("no entrypoint and no cmd"), std::string::npos);
  }
}

}  // namespace
}  // namespace libcontainerd::oci
