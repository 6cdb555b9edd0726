// The built-in busybox image: the busybox rootfs as a one-layer OCI image layout archive.
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "images/descriptor.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/rootfs.h"

namespace libcontainerd {
namespace fs = std::filesystem;
namespace {

// A tar written by libarchive into memory or an ostream.
class TarWriter {
 public:
  explicit TarWriter(std::ostream* out) : out_(out), a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_in_last_block(a_, 1);
    archive_write_open(a_, this, nullptr, &TarWriter::Write, nullptr);
  }
  ~TarWriter() { archive_write_free(a_); }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  void Add(const std::string& path, mode_t type, mode_t perm, time_t mtime, const std::string& data,
           const std::string& link = "") {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_mtime(e, mtime, 0);
    if (type == AE_IFLNK) archive_entry_set_symlink(e, link.c_str());
    archive_entry_set_size(e, type == AE_IFREG ? static_cast<la_int64_t>(data.size()) : 0);
    Check(archive_write_header(a_, e), path);
    archive_entry_free(e);
    if (type == AE_IFREG && !data.empty() &&
        archive_write_data(a_, data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
      Check(ARCHIVE_FATAL, path);
  }
  void Close() { Check(archive_write_close(a_), "(end)"); }

 private:
  static la_ssize_t Write(struct archive*, void* self, const void* buf, size_t n) {
    auto* w = static_cast<TarWriter*>(self);
    w->out_->write(static_cast<const char*>(buf), static_cast<std::streamsize>(n));
    return w->out_->good() ? static_cast<la_ssize_t>(n) : -1;
  }
  void Check(int rc, const std::string& path) {
    if (rc < ARCHIVE_WARN)
      throw Error(ErrorKind::kUnknown,
                  "writing the busybox image (" + path + "): " +
                      (archive_error_string(a_) ? archive_error_string(a_) : "write failed"),
                  {.op = "WriteBusyboxImage"});
  }
  std::ostream* out_;
  struct archive* a_;
};

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string LayerTar(const fs::path& root, time_t mtime) {
  std::vector<fs::path> paths;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().filename() == ".libcontainerd-rootfs") continue;
    paths.push_back(e.path());
  }
  std::sort(paths.begin(), paths.end());
  std::ostringstream out;
  TarWriter tar(&out);
  for (const auto& p : paths) {
    std::string rel = p.lexically_relative(root).string();
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) ThrowErrno(ErrorKind::kUnknown, errno, "lstat " + p.string());
    mode_t perm = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode))
      tar.Add(rel + "/", AE_IFDIR, perm, mtime, "");
    else if (S_ISLNK(st.st_mode))
      tar.Add(rel, AE_IFLNK, 0777, mtime, "", fs::read_symlink(p).string());
    else if (S_ISREG(st.st_mode))
      tar.Add(rel, AE_IFREG, perm, mtime, ReadFile(p));
  }
  tar.Close();
  return out.str();
}

}  // namespace

void WriteBusyboxImage(std::ostream& out, const std::string& name, const RootfsOptions& options) {
  using nlohmann::json;
  namespace img = images;
  std::random_device rd;
  fs::path tmp = fs::temp_directory_path() /
                 ("lcd-busybox-image-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  std::string layer;
  time_t mtime = 0;
  try {
    BuildBusyboxRootfs(tmp.string(), options);
    struct stat st {};
    if (::stat(options.busybox.c_str(), &st) == 0) mtime = st.st_mtim.tv_sec;
    layer = LayerTar(tmp, mtime);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);

  const img::Platform platform = img::DefaultPlatform();
  const std::string diff_id = img::Sha256Digest(layer);
  char created[32];
  std::tm tm{};
  gmtime_r(&mtime, &tm);
  std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json cfg = {
      {"created", created},
      {"architecture", platform.architecture},
      {"os", platform.os},
      {"config", {{"Cmd", {"sh"}}, {"Env", {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}},
      {"history", {{{"created", created}, {"created_by", "libcontainerd WriteBusyboxImage"}}}}};
  if (!platform.variant.empty()) cfg["variant"] = platform.variant;
  const std::string config = cfg.dump();
  img::Manifest m;
  m.media_type = std::string(img::media::kOciManifest);
  m.config = {std::string(img::media::kOciConfig), img::Sha256Digest(config),
              static_cast<int64_t>(config.size())};
  m.layers.push_back(
      {std::string(img::media::kOciLayer), diff_id, static_cast<int64_t>(layer.size())});
  const std::string manifest = img::EncodeManifest(m);
  img::Descriptor md{std::string(img::media::kOciManifest), img::Sha256Digest(manifest),
                     static_cast<int64_t>(manifest.size())};
  md.annotations = {{"io.containerd.image.name", name},
                    {"org.opencontainers.image.ref.name", name.substr(name.rfind(':') + 1)}};
  img::Index index;
  index.manifests.push_back(md);
  const std::string index_json = img::EncodeIndex(index);

  TarWriter tar(&out);
  tar.Add("oci-layout", AE_IFREG, 0644, mtime, R"({"imageLayoutVersion":"1.0.0"})");
  tar.Add("index.json", AE_IFREG, 0644, mtime, index_json);
  tar.Add("blobs/", AE_IFDIR, 0755, mtime, "");
  tar.Add("blobs/sha256/", AE_IFDIR, 0755, mtime, "");
  auto blob = [&](const std::string& digest, const std::string& data) {
    tar.Add("blobs/sha256/" + digest.substr(7), AE_IFREG, 0644, mtime, data);
  };
  blob(m.config.digest, config);
  blob(diff_id, layer);
  blob(md.digest, manifest);
  tar.Close();
}

}  // namespace libcontainerd
