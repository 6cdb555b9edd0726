// Test fixture for the image tiers: a real registry (Debian's docker-registry) on 127.0.0.1,
// optionally behind Basic auth (htpasswd) or a small Bearer token service of the fixture's own,
// and test images built offline (OCI layouts written by the fixture, pushed with skopeo).
// Everything lives in a private directory under /tmp and is removed by the destructors.
// Traffic: loopback only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lcdtest {

enum class RegistryAuth { kNone, kBasic, kBearer };

struct RegistryConfig {
  RegistryAuth auth = RegistryAuth::kNone;
  std::string user = "tester";  // for kBasic and kBearer (token with credentials)
  std::string password = "s3cret";
  // kBearer: the token service also gives anonymous tokens (scope pull) when true.
  bool anonymous_pull = true;
};

// A docker-registry process on 127.0.0.1:<free port>, stopped and its directory removed by the
// destructor. Start/Stop may be called again (storage kept), for interruption tests.
// kBearer: the token service (service "lcd-test-registry", issuer "lcd-test-token-issuer") runs
// on a thread of this object for its whole life, across Stop/Start.
// The registry process gets SIGKILL when the thread that started it exits (PR_SET_PDEATHSIG, so
// a crashed test leaves none behind): construct and Start from a thread that outlives it.
// Thread-safety: none; Stop/Start/Push from one thread at a time.
class LocalRegistry {
 public:
  explicit LocalRegistry(RegistryConfig config = {});
  ~LocalRegistry();
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;

  const std::string& host() const;         // "127.0.0.1:PORT"
  const std::string& storage_dir() const;  // registry's filesystem root
  void Stop();                             // SIGTERM, then waits for the port to close
  void Start();                            // same port and storage
  bool running() const;

  // Pushes an OCI layout's image (dir and tag as in `oci:DIR:TAG`) to host/repo:tag with skopeo
  // (any auth handled). Throws std::runtime_error with skopeo's output on failure.
  void Push(const std::string& oci_dir, const std::string& layout_tag, const std::string& repo_tag);
  // Pushes as Push does, converted to Docker schema 2 media types (skopeo --format v2s2; gzip or
  // uncompressed layers only, an index becomes a Docker manifest list); returns the digest of the
  // manifest (or list) as the registry stores it, which differs from the layout's.
  std::string PushAsDocker(const std::string& oci_dir, const std::string& layout_tag,
                           const std::string& repo_tag);
  // Path of a blob's data file in the storage (to tamper with it).
  std::string BlobDataPath(const std::string& digest) const;
  // The registry's log (its access log lists every request).
  const std::string& log_path() const;
  // kBearer: the token service's URL (http://127.0.0.1:PORT/token) and the number of requests it
  // answered so far; "" and 0 otherwise.
  std::string token_realm() const;
  int token_requests() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

enum class Compression { kNone, kGzip, kZstd };

// One layer as a list of changes; applied in order.
struct TestLayer {
  std::map<std::string, std::string>
      files;  // path (no leading '/') -> content (mode 0755 when it starts "#!")
  std::vector<std::string> dirs;                // directories to create
  std::map<std::string, std::string> symlinks;  // path -> target
  std::vector<std::string> whiteouts;           // paths deleted from lower layers (.wh.<name>)
  std::vector<std::string> opaque_dirs;  // directories whose lower content is hidden (.wh..wh..opq)
  // Permission bits overriding the defaults (files 0644, or 0755 when they start "#!"; dirs
  // 0755; parents of listed paths are added as 0755 dirs), e.g. {"tmp", 01777}.
  std::map<std::string, int> modes;
  Compression compression = Compression::kGzip;
};

struct TestImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
  std::map<std::string, std::string> labels;
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;
};

// Writes OCI image layouts by hand (plain files + JSON), so any compression, whiteout or index
// can be made without a network. The busybox base layer comes from Debian's busybox-static.
class OciLayoutBuilder {
 public:
  explicit OciLayoutBuilder(const std::string& dir);  // creates an empty layout in dir
  const std::string& dir() const;

  // A layer with /bin/busybox and its applet links, /etc/passwd (root, and "app" uid 1000 gid
  // 1000), /etc/group, /tmp.
  static TestLayer BusyboxLayer(Compression c = Compression::kGzip);

  // Writes layers, config and manifest blobs; returns the manifest's digest. With a non-empty
  // tag the manifest is listed in index.json under org.opencontainers.image.ref.name = tag.
  std::string AddImage(const std::vector<TestLayer>& layers, const TestImageConfig& config,
                       const std::string& tag);
  // Writes an OCI index of the given manifests (digests from AddImage, each with its config's
  // platform) and lists it in index.json under tag; returns the index digest.
  std::string AddIndex(const std::vector<std::string>& manifest_digests, const std::string& tag);

  // Size and media type of a blob written by this builder.
  int64_t BlobSize(const std::string& digest) const;
  std::string BlobPath(const std::string& digest) const;

  // The layout as a tar file (an "OCI archive").
  void WriteOciArchive(const std::string& tar_path) const;
  // A docker-archive (docker save format) of tag, written by skopeo, named as name_tag
  // ("busybox:latest"). skopeo writes the name fully qualified in manifest.json's RepoTags
  // ("docker.io/library/busybox:latest"), where `docker save` writes "busybox:latest".
  void WriteDockerArchive(const std::string& tag, const std::string& tar_path,
                          const std::string& name_tag) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Runs a command line with /bin/sh, returns its exit code (128 + signal when killed); its
// standard output captured into *out when given (stderr passes through: add 2>&1 to keep it).
int Sh(const std::string& command, std::string* out = nullptr);

}  // namespace lcdtest
