// The image tiers' fixture: a docker-registry on loopback, and OCI layouts written by hand.
#include "registry_fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "test_util.h"
#include "token_server.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace lcdtest {

int Sh(const std::string& command, std::string* out) {
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed for: " + command + ": " + std::strerror(errno));
  std::array<char, 8192> buf;
  std::string got;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) got.append(buf.data(), n);
  int status = ::pclose(p);
  if (out) *out = std::move(got);
  if (status == -1) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

namespace {

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string Hex(const unsigned char* p, unsigned n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

// "sha256:<hex>" of a file's bytes.
std::string Sha256OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::array<char, 65536> buf;
  while (in) {
    in.read(buf.data(), buf.size());
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return "sha256:" + Hex(md, len);
}

std::string Sha256Of(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return "sha256:" + Hex(md, len);
}

std::string HexOf(const std::string& digest) {
  auto colon = digest.find(':');
  std::string hex = colon == std::string::npos ? digest : digest.substr(colon + 1);
  if (hex.empty() || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw std::runtime_error("not a sha256 digest: " + digest);
  return hex;
}

// A port on 127.0.0.1 that nothing listens on now (bound and released).
int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error(std::string("cannot bind a loopback port: ") + std::strerror(e));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// Connects to 127.0.0.1:port; the fd or -1.
int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The HTTP status of GET path on 127.0.0.1:port, or -1 when nothing answers within 2 s.
int HttpGetStatus(int port, const std::string& path) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return -1;
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n\r\n";
  int status = -1;
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char buf[64];
    ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    if (n > 12) {
      buf[n] = 0;
      if (std::strncmp(buf, "HTTP/1.", 7) == 0) status = std::atoi(buf + 9);
    }
  }
  ::close(fd);
  return status;
}

std::string Tail(const std::string& path, size_t max = 4000) {
  try {
    std::string s = ReadFile(path);
    return s.size() > max ? s.substr(s.size() - max) : s;
  } catch (const std::exception&) {
    return "";
  }
}

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  std::string out;
  static const char* d = "0123456789abcdef";
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += d[v >> 4];
    out += d[v & 15];
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// LocalRegistry

struct LocalRegistry::Impl {
  RegistryConfig config;
  std::string dir;  // private, removed at the end
  std::string storage;
  std::string config_path;
  std::string log_path;
  int port = 0;
  std::string host;
  mutable pid_t pid = -1;
  std::unique_ptr<TokenServer> tokens;

  ~Impl() {
    try {
      Stop();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "LocalRegistry: %s\n", e.what());
    }
    tokens.reset();
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }

  void WriteConfig() {
    std::ostringstream y;
    y << "version: 0.1\n"
      << "log:\n  level: info\n  formatter: text\n"
      << "storage:\n  filesystem:\n    rootdirectory: " << storage << "\n"
      << "  delete:\n    enabled: true\n"
      << "http:\n  addr: 127.0.0.1:" << port << "\n  secret: " << RandomHex(16) << "\n";
    switch (config.auth) {
      case RegistryAuth::kNone:
        break;
      case RegistryAuth::kBasic: {
        std::string htpasswd = dir + "/htpasswd";
        if (Sh("htpasswd -Bbn " + Quote(config.user) + " " + Quote(config.password) + " > " +
               Quote(htpasswd)) != 0)
          throw std::runtime_error("htpasswd -Bbn failed (is apache2-utils installed?)");
        y << "auth:\n  htpasswd:\n    realm: lcd-test-registry\n    path: " << htpasswd << "\n";
        break;
      }
      case RegistryAuth::kBearer: {
        TokenServer::Options o;
        o.dir = dir + "/token";
        o.service = "lcd-test-registry";
        o.issuer = "lcd-test-token-issuer";
        o.user = config.user;
        o.password = config.password;
        o.anonymous_pull = config.anonymous_pull;
        tokens = std::make_unique<TokenServer>(o);
        y << "auth:\n  token:\n    realm: " << tokens->realm() << "\n    service: " << o.service
          << "\n    issuer: " << o.issuer << "\n    rootcertbundle: " << tokens->cert_path()
          << "\n";
        break;
      }
    }
    WriteFile(config_path, y.str());
  }

  void Start() {
    if (Running()) return;
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) throw std::runtime_error("cannot open " + log_path + ": " + std::strerror(errno));
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    std::string exe = "/usr/bin/docker-registry";
    std::string serve = "serve";
    std::vector<char*> argv = {exe.data(), serve.data(), config_path.data(), nullptr};
    pid_t child = ::fork();
    if (child == 0) {
      // Dies with the thread that started it, so a crashed test leaves no registry behind.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (null >= 0) ::dup2(null, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::close_range(3, ~0U, 0);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    int fork_errno = errno;
    ::close(log);
    if (null >= 0) ::close(null);
    if (child < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(fork_errno));
    pid = child;
    // Ready when GET /v2/ answers (200, or 401 behind auth).
    auto deadline = std::chrono::steady_clock::now() + Scaled(std::chrono::seconds(20));
    while (true) {
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        throw std::runtime_error("docker-registry exited at start (status " + std::to_string(st) +
                                 "); its log " + log_path + ":\n" + Tail(log_path));
      }
      if (HttpGetStatus(port, "/v2/") > 0) return;
      if (std::chrono::steady_clock::now() > deadline) {
        std::string log_tail = Tail(log_path);
        Stop();
        throw std::runtime_error("docker-registry did not answer GET /v2/ on " + host +
                                 " within 20 s; its log:\n" + log_tail);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void Stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + Scaled(std::chrono::seconds(10));
    bool killed = false;
    while (true) {
      int st = 0;
      pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid || (r < 0 && errno == ECHILD)) break;
      if (!killed && std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        killed = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid = -1;
    // The port closes with the process; check anyway so Start can bind it again.
    auto port_deadline = std::chrono::steady_clock::now() + Scaled(std::chrono::seconds(5));
    while (true) {
      int fd = ConnectLoopback(port);
      if (fd < 0) break;
      ::close(fd);
      if (std::chrono::steady_clock::now() > port_deadline)
        throw std::runtime_error("port " + std::to_string(port) +
                                 " still accepts connections after docker-registry exited");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  bool Running() const {
    if (pid <= 0) return false;
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      pid = -1;
      return false;
    }
    return true;
  }
};

LocalRegistry::LocalRegistry(RegistryConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  char tmpl[] = "/tmp/lcd-registry-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  impl_->dir = tmpl;
  impl_->storage = impl_->dir + "/storage";
  fs::create_directories(impl_->storage);
  impl_->config_path = impl_->dir + "/config.yml";
  impl_->log_path = impl_->dir + "/registry.log";
  impl_->port = FreeLoopbackPort();
  impl_->host = "127.0.0.1:" + std::to_string(impl_->port);
  impl_->WriteConfig();
  impl_->Start();
}

LocalRegistry::~LocalRegistry() = default;

const std::string& LocalRegistry::host() const { return impl_->host; }
const std::string& LocalRegistry::storage_dir() const { return impl_->storage; }
void LocalRegistry::Stop() { impl_->Stop(); }
void LocalRegistry::Start() { impl_->Start(); }
bool LocalRegistry::running() const { return impl_->Running(); }

namespace {

// skopeo copy oci:DIR:TAG docker://HOST/REPO_TAG with the registry's credentials and `flags`.
void SkopeoPush(const std::string& host, const RegistryConfig& c, const std::string& oci_dir,
                const std::string& layout_tag, const std::string& repo_tag,
                const std::string& flags) {
  std::string creds = c.auth == RegistryAuth::kNone
                          ? "--dest-no-creds"
                          : "--dest-creds " + Quote(c.user + ":" + c.password);
  std::string cmd =
      "skopeo --insecure-policy copy --all --retry-times 0 "
      "--dest-tls-verify=false " +
      flags + " " + creds + " " + Quote("oci:" + oci_dir + ":" + layout_tag) + " " +
      Quote("docker://" + host + "/" + repo_tag) + " 2>&1";
  std::string out;
  int rc = Sh(cmd, &out);
  if (rc != 0)
    throw std::runtime_error("skopeo copy to " + host + "/" + repo_tag + " failed (exit " +
                             std::to_string(rc) + "):\n" + out);
}

}  // namespace

void LocalRegistry::Push(const std::string& oci_dir, const std::string& layout_tag,
                         const std::string& repo_tag) {
  SkopeoPush(impl_->host, impl_->config, oci_dir, layout_tag, repo_tag, "--preserve-digests");
}

std::string LocalRegistry::PushAsDocker(const std::string& oci_dir, const std::string& layout_tag,
                                        const std::string& repo_tag) {
  std::string digest_file = impl_->dir + "/digest-" + RandomHex(8);
  try {
    SkopeoPush(impl_->host, impl_->config, oci_dir, layout_tag, repo_tag,
               "--format v2s2 --digestfile " + Quote(digest_file));
  } catch (...) {
    std::error_code ec;
    fs::remove(digest_file, ec);
    throw;
  }
  std::string digest = ReadFile(digest_file);
  fs::remove(digest_file);
  while (!digest.empty() && std::isspace(static_cast<unsigned char>(digest.back())))
    digest.pop_back();
  return digest;
}

const std::string& LocalRegistry::log_path() const { return impl_->log_path; }
std::string LocalRegistry::token_realm() const {
  return impl_->tokens ? impl_->tokens->realm() : std::string();
}
int LocalRegistry::token_requests() const { return impl_->tokens ? impl_->tokens->requests() : 0; }

std::string LocalRegistry::BlobDataPath(const std::string& digest) const {
  std::string hex = HexOf(digest);
  return impl_->storage + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex +
         "/data";
}

// ---------------------------------------------------------------------------------------------
// OciLayoutBuilder

namespace {

constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kIndexType = "application/vnd.oci.image.index.v1+json";
constexpr const char* kConfigType = "application/vnd.oci.image.config.v1+json";
constexpr const char* kCreated = "2024-01-01T00:00:00Z";
constexpr time_t kMtime = 1704067200;  // kCreated

struct TarEntry {
  enum Type { kDir, kFile, kSymlink } type = kDir;
  int mode = 0755;
  std::string data;  // content or link target
};

// The layer's entries by path; parents listed before children (map order).
std::map<std::string, TarEntry> LayerEntries(const TestLayer& layer) {
  std::map<std::string, TarEntry> e;
  auto clean = [](std::string p) {
    while (!p.empty() && p.front() == '/') p.erase(0, 1);
    while (!p.empty() && p.back() == '/') p.pop_back();
    if (p.empty()) throw std::runtime_error("TestLayer: empty path");
    return p;
  };
  auto add_parents = [&](const std::string& p) {
    for (size_t i = p.find('/'); i != std::string::npos; i = p.find('/', i + 1))
      e.try_emplace(p.substr(0, i), TarEntry{});
  };
  auto parent_of = [](const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? std::string() : p.substr(0, s + 1);
  };
  auto base_of = [](const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
  };
  for (const auto& d : layer.dirs) {
    auto p = clean(d);
    add_parents(p);
    e[p] = TarEntry{};
  }
  for (const auto& d : layer.opaque_dirs) {
    auto p = clean(d);
    add_parents(p);
    e.try_emplace(p, TarEntry{});
    e[p + "/.wh..wh..opq"] = TarEntry{TarEntry::kFile, 0644, ""};
  }
  for (const auto& w : layer.whiteouts) {
    auto p = clean(w);
    add_parents(p);
    e[parent_of(p) + ".wh." + base_of(p)] = TarEntry{TarEntry::kFile, 0644, ""};
  }
  for (const auto& [path, content] : layer.files) {
    auto p = clean(path);
    add_parents(p);
    e[p] = TarEntry{TarEntry::kFile, content.rfind("#!", 0) == 0 ? 0755 : 0644, content};
  }
  for (const auto& [path, target] : layer.symlinks) {
    auto p = clean(path);
    add_parents(p);
    e[p] = TarEntry{TarEntry::kSymlink, 0777, target};
  }
  for (const auto& [path, mode] : layer.modes) {
    auto it = e.find(clean(path));
    if (it == e.end()) throw std::runtime_error("TestLayer: mode for a path not in it: " + path);
    it->second.mode = mode;
  }
  return e;
}

// Writes the layer as an uncompressed tar (deterministic: fixed owner and times).
void WriteLayerTar(const TestLayer& layer, const std::string& path) {
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                            archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  if (archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK)
    throw std::runtime_error("libarchive: cannot open " + path + ": " +
                             archive_error_string(a.get()));
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> en(archive_entry_new(),
                                                                   archive_entry_free);
  for (const auto& [p, t] : LayerEntries(layer)) {
    archive_entry_clear(en.get());
    archive_entry_set_pathname(en.get(), p.c_str());
    archive_entry_set_uid(en.get(), 0);
    archive_entry_set_gid(en.get(), 0);
    archive_entry_set_mtime(en.get(), kMtime, 0);
    switch (t.type) {
      case TarEntry::kDir:
        archive_entry_set_filetype(en.get(), AE_IFDIR);
        break;
      case TarEntry::kFile:
        archive_entry_set_filetype(en.get(), AE_IFREG);
        archive_entry_set_size(en.get(), static_cast<la_int64_t>(t.data.size()));
        break;
      case TarEntry::kSymlink:
        archive_entry_set_filetype(en.get(), AE_IFLNK);
        archive_entry_set_symlink(en.get(), t.data.c_str());
        break;
    }
    archive_entry_set_perm(en.get(), static_cast<mode_t>(t.mode));
    if (archive_write_header(a.get(), en.get()) != ARCHIVE_OK)
      throw std::runtime_error("libarchive: " + p + ": " + archive_error_string(a.get()));
    if (t.type == TarEntry::kFile && !t.data.empty() &&
        archive_write_data(a.get(), t.data.data(), t.data.size()) !=
            static_cast<la_ssize_t>(t.data.size()))
      throw std::runtime_error("libarchive: " + p + ": " + archive_error_string(a.get()));
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    throw std::runtime_error("libarchive: closing " + path + ": " + archive_error_string(a.get()));
}

std::string LayerMediaType(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "application/vnd.oci.image.layer.v1.tar";
    case Compression::kGzip:
      return "application/vnd.oci.image.layer.v1.tar+gzip";
    case Compression::kZstd:
      return "application/vnd.oci.image.layer.v1.tar+zstd";
  }
  return "";
}

json Platform(const TestImageConfig& c) {
  json p = {{"architecture", c.architecture}, {"os", c.os}};
  if (!c.variant.empty()) p["variant"] = c.variant;
  return p;
}

}  // namespace

struct OciLayoutBuilder::Impl {
  std::string dir;
  json index;                                      // index.json
  std::map<std::string, json> manifest_platforms;  // manifest digest -> platform
  std::map<std::string, std::string> media_types;  // blob digest -> media type

  std::string BlobPath(const std::string& digest) const {
    return dir + "/blobs/sha256/" + HexOf(digest);
  }

  // Moves a file into blobs/; its digest.
  std::string AdoptBlob(const std::string& path, const std::string& media_type) {
    std::string d = Sha256OfFile(path);
    fs::rename(path, BlobPath(d));
    media_types[d] = media_type;
    return d;
  }

  std::string WriteBlob(const std::string& data, const std::string& media_type) {
    std::string d = Sha256Of(data);
    WriteFile(BlobPath(d), data);
    media_types[d] = media_type;
    return d;
  }

  json Descriptor(const std::string& digest) const {
    return {{"mediaType", media_types.at(digest)},
            {"digest", digest},
            {"size", static_cast<int64_t>(fs::file_size(BlobPath(digest)))}};
  }

  void Tag(json desc, const std::string& tag) {
    desc["annotations"] = {{"org.opencontainers.image.ref.name", tag}};
    json kept = json::array();
    for (const auto& m : index["manifests"]) {
      if (m.contains("annotations") &&
          m["annotations"].value("org.opencontainers.image.ref.name", "") == tag)
        continue;
      kept.push_back(m);
    }
    kept.push_back(std::move(desc));
    index["manifests"] = std::move(kept);
    WriteFile(dir + "/index.json", index.dump());
  }
};

OciLayoutBuilder::OciLayoutBuilder(const std::string& dir) : impl_(std::make_shared<Impl>()) {
  impl_->dir = dir;
  fs::create_directories(dir + "/blobs/sha256");
  WriteFile(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  impl_->index = {{"schemaVersion", 2}, {"manifests", json::array()}};
  WriteFile(dir + "/index.json", impl_->index.dump());
}

const std::string& OciLayoutBuilder::dir() const { return impl_->dir; }

TestLayer OciLayoutBuilder::BusyboxLayer(Compression c) {
  static const std::string binary = ReadFile("/bin/busybox");
  static const std::vector<std::string> applets = [] {
    std::string out;
    if (Sh("/bin/busybox --list", &out) != 0)
      throw std::runtime_error("/bin/busybox --list failed (is busybox-static installed?)");
    std::vector<std::string> v;
    std::istringstream in(out);
    for (std::string a; std::getline(in, a);)
      if (!a.empty() && a != "busybox") v.push_back(a);
    return v;
  }();
  TestLayer l;
  l.compression = c;
  l.files["bin/busybox"] = binary;
  l.modes["bin/busybox"] = 0755;
  for (const auto& a : applets) l.symlinks["bin/" + a] = "busybox";
  l.files["etc/passwd"] = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";
  l.files["etc/group"] = "root:x:0:\napp:x:1000:\n";
  l.dirs = {"tmp", "root", "home/app"};
  l.modes["tmp"] = 01777;
  return l;
}

std::string OciLayoutBuilder::AddImage(const std::vector<TestLayer>& layers,
                                       const TestImageConfig& config, const std::string& tag) {
  json diff_ids = json::array();
  json layer_descs = json::array();
  json history = json::array();
  for (size_t i = 0; i < layers.size(); ++i) {
    const TestLayer& l = layers[i];
    std::string tar = impl_->dir + "/.layer-" + RandomHex(8) + ".tar";
    std::string packed = tar + ".packed";
    try {
      WriteLayerTar(l, tar);
      diff_ids.push_back(Sha256OfFile(tar));
      std::string media = LayerMediaType(l.compression);
      std::string digest;
      if (l.compression == Compression::kNone) {
        digest = impl_->AdoptBlob(tar, media);
      } else {
        std::string cmd = l.compression == Compression::kGzip ? "gzip -n -c " : "zstd -q -c ";
        if (Sh(cmd + Quote(tar) + " > " + Quote(packed)) != 0)
          throw std::runtime_error("compressing a layer failed: " + cmd + tar);
        fs::remove(tar);
        digest = impl_->AdoptBlob(packed, media);
      }
      layer_descs.push_back(impl_->Descriptor(digest));
      history.push_back(
          {{"created", kCreated}, {"created_by", "lcdtest layer " + std::to_string(i)}});
    } catch (...) {
      std::error_code ec;
      fs::remove(tar, ec);
      fs::remove(packed, ec);
      throw;
    }
  }
  json cfg = json::object();
  if (!config.entrypoint.empty()) cfg["Entrypoint"] = config.entrypoint;
  if (!config.cmd.empty()) cfg["Cmd"] = config.cmd;
  if (!config.env.empty()) cfg["Env"] = config.env;
  if (!config.working_dir.empty()) cfg["WorkingDir"] = config.working_dir;
  if (!config.user.empty()) cfg["User"] = config.user;
  if (!config.labels.empty()) cfg["Labels"] = config.labels;
  json image = Platform(config);
  image["created"] = kCreated;
  image["config"] = cfg;
  image["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  image["history"] = history;
  std::string config_digest = impl_->WriteBlob(image.dump(), kConfigType);
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", kManifestType},
                   {"config", impl_->Descriptor(config_digest)},
                   {"layers", layer_descs}};
  std::string digest = impl_->WriteBlob(manifest.dump(), kManifestType);
  impl_->manifest_platforms[digest] = Platform(config);
  if (!tag.empty()) impl_->Tag(impl_->Descriptor(digest), tag);
  return digest;
}

std::string OciLayoutBuilder::AddIndex(const std::vector<std::string>& manifest_digests,
                                       const std::string& tag) {
  json manifests = json::array();
  for (const auto& d : manifest_digests) {
    auto it = impl_->manifest_platforms.find(d);
    if (it == impl_->manifest_platforms.end())
      throw std::runtime_error("AddIndex: " + d + " is not a manifest of this builder");
    json desc = impl_->Descriptor(d);
    desc["platform"] = it->second;
    manifests.push_back(std::move(desc));
  }
  json index = {{"schemaVersion", 2}, {"mediaType", kIndexType}, {"manifests", manifests}};
  std::string digest = impl_->WriteBlob(index.dump(), kIndexType);
  if (!tag.empty()) impl_->Tag(impl_->Descriptor(digest), tag);
  return digest;
}

int64_t OciLayoutBuilder::BlobSize(const std::string& digest) const {
  return static_cast<int64_t>(fs::file_size(impl_->BlobPath(digest)));
}

std::string OciLayoutBuilder::BlobPath(const std::string& digest) const {
  return impl_->BlobPath(digest);
}

void OciLayoutBuilder::WriteOciArchive(const std::string& tar_path) const {
  std::string out;
  if (Sh("tar -C " + Quote(impl_->dir) + " -cf " + Quote(tar_path) +
             " oci-layout index.json blobs 2>&1",
         &out) != 0)
    throw std::runtime_error("tar of the OCI layout " + impl_->dir + " failed:\n" + out);
}

void OciLayoutBuilder::WriteDockerArchive(const std::string& tag, const std::string& tar_path,
                                          const std::string& name_tag) const {
  std::error_code ec;
  fs::remove(tar_path, ec);
  std::string out;
  if (Sh("skopeo --insecure-policy copy " + Quote("oci:" + impl_->dir + ":" + tag) + " " +
             Quote("docker-archive:" + tar_path + ":" + name_tag) + " 2>&1",
         &out) != 0)
    throw std::runtime_error("skopeo copy to docker-archive:" + tar_path + " failed:\n" + out);
}

}  // namespace lcdtest
