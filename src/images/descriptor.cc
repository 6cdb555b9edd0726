#include "images/descriptor.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "libcontainerd/errors.h"

namespace libcontainerd::images {

using nlohmann::json;

bool IsIndexType(std::string_view t) {
  return t == media::kOciIndex || t == media::kDockerManifestList;
}
bool IsManifestType(std::string_view t) {
  return t == media::kOciManifest || t == media::kDockerManifest;
}
bool IsConfigType(std::string_view t) {
  return t == media::kOciConfig || t == media::kDockerConfig;
}
bool IsLayerType(std::string_view t) {
  return t.starts_with(media::kOciLayer) || t.starts_with(media::kDockerLayer) ||
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
         t == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}
bool IsSchema1Type(std::string_view t) {
  return t == media::kDockerSchema1 || t == media::kDockerSchema1Signed;
}

namespace {

[[noreturn]] void Malformed(std::string_view what, const std::string& detail) {
  throw Error(ErrorKind::kInvalidArgument, std::string(what) + " is malformed: " + detail);
}

json Parse(std::string_view text, std::string_view what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) Malformed(what, "not valid JSON");
  if (!j.is_object()) Malformed(what, "not a JSON object");
  return j;
}

std::string Str(const json& j, const char* key, std::string_view what, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (!it->is_string()) Malformed(what, path + key + " is not a string");
  return it->get<std::string>();
}

std::vector<std::string> Strings(const json& j, const char* key, std::string_view what,
                                 const std::string& path) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) Malformed(what, path + key + " is not an array");
  for (const auto& e : *it) {
    if (!e.is_string()) Malformed(what, path + key + " has a non-string element");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> StringMap(const json& j, const char* key, std::string_view what,
                                             const std::string& path) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) Malformed(what, path + key + " is not an object");
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) Malformed(what, path + key + "." + k + " is not a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

// Keys of an object whose values are (usually empty) objects: ExposedPorts, Volumes.
std::vector<std::string> Keys(const json& j, const char* key, std::string_view what,
                              const std::string& path) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) Malformed(what, path + key + " is not an object");
  for (const auto& [k, v] : it->items()) out.push_back(k);
  return out;
}

// An integer field (durations in nanoseconds, counts): 0 when absent or null.
int64_t Int(const json& j, const char* key, std::string_view what, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return 0;
  if (!it->is_number_integer()) Malformed(what, path + key + " is not an integer");
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX})
    Malformed(what, path + key + " is out of range");
  return it->get<int64_t>();
}

// config.Healthcheck (the image's HEALTHCHECK): absent or null = none.
std::optional<HealthConfig> DecodeHealthcheck(const json& c, std::string_view what) {
  auto it = c.find("Healthcheck");
  if (it == c.end() || it->is_null()) return std::nullopt;
  if (!it->is_object()) Malformed(what, "config.Healthcheck is not an object");
  const std::string path = "config.Healthcheck.";
  HealthConfig h;
  h.test = Strings(*it, "Test", what, path);
  h.interval = Int(*it, "Interval", what, path);
  h.timeout = Int(*it, "Timeout", what, path);
  h.start_period = Int(*it, "StartPeriod", what, path);
  int64_t retries = Int(*it, "Retries", what, path);
  if (retries < INT32_MIN || retries > INT32_MAX) Malformed(what, path + "Retries is out of range");
  h.retries = static_cast<int>(retries);
  return h;
}

Descriptor DecodeDescriptor(const json& j, std::string_view what, const std::string& path) {
  if (!j.is_object()) Malformed(what, path + " is not an object");
  Descriptor d;
  d.media_type = Str(j, "mediaType", what, path + ".");
  d.digest = Str(j, "digest", what, path + ".");
  if (d.digest.empty()) Malformed(what, path + ".digest is missing");
  ValidateDigest(d.digest, std::string(what) + " " + path + ".digest");
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
    Malformed(what, path + ".size is missing or not a non-negative integer");
  d.size = size->get<int64_t>();
  d.annotations = StringMap(j, "annotations", what, path + ".");
  d.urls = Strings(j, "urls", what, path + ".");
  if (auto p = j.find("platform"); p != j.end() && !p->is_null()) {
    if (!p->is_object()) Malformed(what, path + ".platform is not an object");
    d.platform = Platform{Str(*p, "os", what, path + ".platform."),
                          Str(*p, "architecture", what, path + ".platform."),
                          Str(*p, "variant", what, path + ".platform.")};
  }
  return d;
}

}  // namespace

std::string SniffMediaType(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "";
  if (auto v = j.find("schemaVersion");
      v != j.end() && v->is_number_integer() && v->get<int>() == 1)
    return std::string(media::kDockerSchema1);
  if (auto m = j.find("mediaType"); m != j.end() && m->is_string()) return m->get<std::string>();
  // OCI documents may omit mediaType: tell them apart by their members.
  if (j.contains("manifests")) return std::string(media::kOciIndex);
  if (j.contains("config") && j.contains("layers")) return std::string(media::kOciManifest);
  return "";
}

Manifest ParseManifest(std::string_view text, std::string_view what) {
  json j = Parse(text, what);
  Manifest m;
  m.media_type = Str(j, "mediaType", what, "");
  if (auto v = j.find("schemaVersion");
      v != j.end() && v->is_number_integer() && v->get<int>() == 1)
    throw Error(ErrorKind::kInvalidArgument,
                std::string(what) +
                    " is a Docker schema 1 manifest, which is not supported: push the image "
                    "again with a current docker or skopeo");
  auto c = j.find("config");
  if (c == j.end()) Malformed(what, "config is missing");
  m.config = DecodeDescriptor(*c, what, "config");
  auto layers = j.find("layers");
  if (layers != j.end() && !layers->is_null()) {
    if (!layers->is_array()) Malformed(what, "layers is not an array");
    for (size_t i = 0; i < layers->size(); ++i)
      m.layers.push_back(DecodeDescriptor((*layers)[i], what, "layers[" + std::to_string(i) + "]"));
  }
  m.annotations = StringMap(j, "annotations", what, "");
  return m;
}

Index ParseIndex(std::string_view text, std::string_view what) {
  json j = Parse(text, what);
  Index index;
  index.media_type = Str(j, "mediaType", what, "");
  auto ms = j.find("manifests");
  if (ms == j.end() || !ms->is_array()) Malformed(what, "manifests is missing or not an array");
  for (size_t i = 0; i < ms->size(); ++i)
    index.manifests.push_back(
        DecodeDescriptor((*ms)[i], what, "manifests[" + std::to_string(i) + "]"));
  index.annotations = StringMap(j, "annotations", what, "");
  return index;
}

ConfigFile ParseConfig(std::string_view text, std::string_view what) {
  json j = Parse(text, what);
  ConfigFile f;
  f.platform.os = Str(j, "os", what, "");
  f.platform.architecture = Str(j, "architecture", what, "");
  f.platform.variant = Str(j, "variant", what, "");
  f.created = Str(j, "created", what, "");
  if (auto c = j.find("config"); c != j.end() && !c->is_null()) {
    if (!c->is_object()) Malformed(what, "config is not an object");
    ImageConfig& ic = f.config;
    ic.entrypoint = Strings(*c, "Entrypoint", what, "config.");
    ic.cmd = Strings(*c, "Cmd", what, "config.");
    ic.env = Strings(*c, "Env", what, "config.");
    ic.working_dir = Str(*c, "WorkingDir", what, "config.");
    ic.user = Str(*c, "User", what, "config.");
    ic.labels = StringMap(*c, "Labels", what, "config.");
    ic.exposed_ports = Keys(*c, "ExposedPorts", what, "config.");
    ic.volumes = Keys(*c, "Volumes", what, "config.");
    ic.stop_signal = Str(*c, "StopSignal", what, "config.");
    ic.healthcheck = DecodeHealthcheck(*c, what);
  }
  auto rootfs = j.find("rootfs");
  if (rootfs != j.end() && !rootfs->is_null()) {
    if (!rootfs->is_object()) Malformed(what, "rootfs is not an object");
    f.diff_ids = Strings(*rootfs, "diff_ids", what, "rootfs.");
    for (const auto& d : f.diff_ids) ValidateDigest(d, std::string(what) + " rootfs.diff_ids");
  }
  if (auto h = j.find("history"); h != j.end() && h->is_array()) {
    for (const auto& e : *h) {
      if (!e.is_object()) continue;
      HistoryEntry he;
      he.created = Str(e, "created", what, "history.");
      he.created_by = Str(e, "created_by", what, "history.");
      he.comment = Str(e, "comment", what, "history.");
      if (auto el = e.find("empty_layer"); el != e.end() && el->is_boolean())
        he.empty_layer = el->get<bool>();
      f.history.push_back(std::move(he));
    }
  }
  return f;
}

namespace {
json EncodeDescriptorJson(const Descriptor& d) {
  json j = json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest;
  j["size"] = d.size;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (d.platform) {
    json p = {{"architecture", d.platform->architecture}, {"os", d.platform->os}};
    if (!d.platform->variant.empty()) p["variant"] = d.platform->variant;
    j["platform"] = p;
  }
  return j;
}
}  // namespace

std::string EncodeManifest(const Manifest& m) {
  json j = json::object();
  j["schemaVersion"] = 2;
  if (!m.media_type.empty()) j["mediaType"] = m.media_type;
  j["config"] = EncodeDescriptorJson(m.config);
  json layers = json::array();
  for (const auto& l : m.layers) layers.push_back(EncodeDescriptorJson(l));
  j["layers"] = layers;
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return j.dump();
}

std::string EncodeIndex(const Index& index) {
  json j = json::object();
  j["schemaVersion"] = 2;
  if (!index.media_type.empty()) j["mediaType"] = index.media_type;
  json ms = json::array();
  for (const auto& m : index.manifests) ms.push_back(EncodeDescriptorJson(m));
  j["manifests"] = ms;
  if (!index.annotations.empty()) j["annotations"] = index.annotations;
  return j.dump();
}

bool PlatformMatches(const Platform& want, const Platform& have) {
  if (want.os != have.os || want.architecture != have.architecture) return false;
  if (want.variant.empty()) return true;
  if (want.variant == have.variant) return true;
  // arm64's only variant is v8: an index that leaves it out means the same.
  return want.architecture == "arm64" && want.variant == "v8" && have.variant.empty();
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}
std::string Sha256::Digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &n);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

std::string Sha256Digest(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Digest();
}

void ValidateDigest(std::string_view d, std::string_view what) {
  bool ok = d.size() == 71 && d.starts_with("sha256:");
  for (size_t i = 7; ok && i < d.size(); ++i)
    ok = (d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f');
  if (!ok)
    throw Error(ErrorKind::kInvalidArgument,
                std::string(what) + ": " + text::Quoted(d) +
                    " is not a digest (want sha256: and 64 lower-case hex digits)");
}

std::string ShortDigest(std::string_view d) {
  auto colon = d.find(':');
  std::string_view hex = colon == std::string_view::npos ? d : d.substr(colon + 1);
  return std::string(hex.substr(0, 12));
}

std::vector<std::string> ChainIDs(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  out.reserve(diff_ids.size());
  for (const auto& d : diff_ids)
    out.push_back(out.empty() ? d : Sha256Digest(out.back() + " " + d));
  return out;
}

}  // namespace libcontainerd::images
