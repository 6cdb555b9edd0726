// WriteBusyboxImage: an OCI layout archive, reproducible, naming the image.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "images/descriptor.h"
#include "libcontainerd/rootfs.h"
#include "test_util.h"

namespace {
namespace fs = std::filesystem;

TEST(BusyboxImage, ReproducibleOciLayoutNamingTheImage) {
  std::ostringstream a, b;
  libcontainerd::WriteBusyboxImage(a, "localhost/test/bb:v1");
  libcontainerd::WriteBusyboxImage(b, "localhost/test/bb:v1");
  ASSERT_FALSE(a.str().empty());
  EXPECT_EQ(a.str(), b.str()) << "two writes from the same busybox differ";

  fs::path dir = fs::temp_directory_path() / ("lcd-bbimg-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "img.tar", std::ios::binary) << a.str();
  ASSERT_EQ(std::system(("tar -xf " + (dir / "img.tar").string() + " -C " + dir.string()).c_str()),
            0);
  std::ifstream idx(dir / "index.json");
  auto index = nlohmann::json::parse(idx);
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["annotations"]["io.containerd.image.name"],
            "localhost/test/bb:v1");
  // Every blob's file name is its digest.
  for (const auto& e : fs::directory_iterator(dir / "blobs/sha256")) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    EXPECT_EQ(libcontainerd::images::Sha256Digest(s.str()),
              "sha256:" + e.path().filename().string());
  }
  std::string manifest_hex = index["manifests"][0]["digest"].get<std::string>().substr(7);
  std::ifstream mf(dir / "blobs/sha256" / manifest_hex);
  auto manifest = nlohmann::json::parse(mf);
  std::string layer_hex = manifest["layers"][0]["digest"].get<std::string>().substr(7);
  std::string listing =
      lcdtest::RunCommand(("tar -tvf " + (dir / "blobs/sha256" / layer_hex).string()).c_str());
  EXPECT_NE(listing.find("bin/busybox"), std::string::npos);
  EXPECT_NE(listing.find("etc/passwd"), std::string::npos);
  // Applets are links to busybox, each under its own name.
  EXPECT_NE(listing.find("bin/sh -> busybox"), std::string::npos) << listing.substr(0, 2000);
  EXPECT_NE(listing.find("bin/echo -> busybox"), std::string::npos);
  EXPECT_EQ(listing.find(".libcontainerd-rootfs"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
