// Internal: a client of one OCI distribution (v2) registry over libcurl: ping and challenge,
// Bearer and Basic auth, manifest resolution, blob streaming. No containerd here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "images/descriptor.h"
#include "libcontainerd/context.h"
#include "libcontainerd/images.h"

namespace libcontainerd::images {

struct RegistryOptions {
  bool plain_http = false;                       // force http://
  std::vector<std::string> insecure_registries;  // hosts given plain HTTP (and unverified TLS)
  std::optional<Credentials> credentials;        // else from docker_config, else anonymous
  std::string docker_config;  // "" -> $DOCKER_CONFIG/config.json or ~/.docker/config.json
  int max_retries = 3;        // on 5xx, resets and timeouts (back-off 200 ms doubling)
};

// Thread-safe: one Registry serves the parallel fetches of a pull (a curl handle per call,
// the token cache under a lock).
class Registry {
 public:
  // The registry of ref.domain ("docker.io" is reached at registry-1.docker.io).
  Registry(const Reference& ref, RegistryOptions options);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Resolves ref's digest or tag with HEAD (GET when HEAD gives no digest) on
  // /v2/<path>/manifests/<tag|digest>, Accept: OCI index and manifest, Docker list and schema 2.
  // Returns the descriptor (media type, digest from Docker-Content-Digest or computed, size).
  // Errors: kNotFound naming the repository and tag; kUnavailable naming the registry;
  // kFailedPrecondition for refused authentication; kInvalidArgument for schema 1.
  Descriptor Resolve(const Context& ctx);
  // GETs a manifest or index by digest; verifies digest and size (kFailedPrecondition naming
  // the digest on mismatch). At most 4 MiB.
  std::string FetchManifest(const Context& ctx, const Descriptor& desc);
  // GETs a blob from `offset` (Range) and passes its bytes to sink in order. Follows redirects
  // to other hosts (without sending the registry's Authorization there). Retries transient
  // failures by resuming after the bytes already passed. Does not verify: the caller does.
  void FetchBlob(const Context& ctx, const Descriptor& desc, int64_t offset,
                 const std::function<void(std::string_view)>& sink);

  // "http" or "https", as chosen for this registry (after the ping).
  std::string scheme() const;
  // host[:port] as contacted.
  const std::string& host() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parsed WWW-Authenticate challenge ("Bearer realm=...,service=...,scope=..." or "Basic
// realm=...").
struct Challenge {
  std::string scheme;  // lower case: "bearer", "basic"
  std::map<std::string, std::string> params;
};
std::vector<Challenge> ParseChallenges(std::string_view header);

// Looks up credentials for host in a docker config.json text (auths.<host>.auth base64
// "user:pass", or username/password, or identitytoken). docker.io matches
// "https://index.docker.io/v1/" as docker does. nullopt when none.
std::optional<Credentials> CredentialsFromDockerConfig(std::string_view config_json,
                                                       std::string_view host);

// docker's rule: loopback addresses (127.0.0.0/8, ::1, "localhost") are insecure by default.
bool IsLoopbackHost(std::string_view host_port);

}  // namespace libcontainerd::images
