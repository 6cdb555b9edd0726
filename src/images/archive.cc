// Image archives, read and written with libarchive.
//
// Import streams every regular file of the tar into the content store as it comes (one
// Content.Write per entry, under the store's lease), keeps the few top-level JSON files in
// memory, and once the whole archive is read builds the images: from index.json (OCI image
// layout, digests checked by containerd on commit) or else from manifest.json (docker save),
// for which it writes a Docker schema 2 manifest. Nothing is recorded here: the image service
// writes the records, and releases the lease on failure so containerd's GC reclaims the blobs.
//
// Export writes one tar holding both layouts: oci-layout, blobs/sha256/<hex>, index.json and
// docker's manifest.json (whose Config and Layers point into blobs/sha256).
#include "images/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>

#include "common/text.h"
#include "libcontainerd/errors.h"

namespace libcontainerd::images {
namespace {

using nlohmann::json;

constexpr size_t kChunk = 1 << 20;           // bytes per read from the archive / Content.Write
constexpr int64_t kMaxJsonFile = 16 << 20;   // manifest.json, index.json and the like
constexpr int64_t kMaxSmallBlob = 16 << 20;  // manifests, indexes and configs read back
constexpr int kMaxLinkHops = 16;
constexpr int kMaxIndexDepth = 8;

constexpr std::string_view kBlobsDir = "blobs/sha256/";
constexpr std::string_view kAnnotationImageName = "io.containerd.image.name";
constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
constexpr std::string_view kGcRef = "containerd.io/gc.ref.content.";

[[noreturn]] void Invalid(std::string message) {
  throw Error(ErrorKind::kInvalidArgument, std::move(message));
}

std::string Q(std::string_view s) { return text::Quoted(s, 200); }

// --- entry names ---------------------------------------------------------------------------

// An entry name as a clean relative path ("./a//b" -> "a/b"); nullopt when it is absolute or
// has a ".." component.
std::optional<std::string> CleanName(std::string_view name) {
  if (!name.empty() && name.front() == '/') return std::nullopt;
  std::string out;
  while (!name.empty()) {
    size_t slash = name.find('/');
    std::string_view part = name.substr(0, slash);
    name = slash == std::string_view::npos ? std::string_view{} : name.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") return std::nullopt;
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

// Where a symbolic link at `entry` (a clean name) with `target` points, as a clean name inside
// the archive; nullopt when it leaves the archive (absolute, or ".." above the top).
std::optional<std::string> ResolveSymlink(const std::string& entry, std::string_view target) {
  if (target.empty() || target.front() == '/') return std::nullopt;
  std::vector<std::string> parts;
  size_t slash = entry.rfind('/');
  std::string_view dir =
      slash == std::string::npos ? std::string_view{} : std::string_view(entry).substr(0, slash);
  auto push = [&](std::string_view path) {
    while (!path.empty()) {
      size_t s = path.find('/');
      std::string_view part = path.substr(0, s);
      path = s == std::string_view::npos ? std::string_view{} : path.substr(s + 1);
      if (part.empty() || part == ".") continue;
      if (part == "..") {
        if (parts.empty()) return false;
        parts.pop_back();
        continue;
      }
      parts.emplace_back(part);
    }
    return true;
  };
  if (!push(dir) || !push(target)) return std::nullopt;
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

// A unique part for this import's ingest refs, so two imports never share (or resume) a write.
std::string UniqueRefPrefix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return "import-" + std::to_string(nanos) + "-" + std::string(buf, 8) + "-";
}

// --- GC labels -----------------------------------------------------------------------------

// containerd's GC reference labels naming a parent's children, one counter per prefix.
std::map<std::string, std::string> ChildLabels(const std::vector<Descriptor>& children) {
  std::map<std::string, std::string> labels;
  int m = 0, l = 0, other = 0;
  for (const auto& c : children) {
    std::string key(kGcRef);
    if (IsManifestType(c.media_type) || IsIndexType(c.media_type)) {
      key += "m." + std::to_string(m++);
    } else if (IsConfigType(c.media_type)) {
      key += "config";
    } else if (IsLayerType(c.media_type)) {
      key += "l." + std::to_string(l++);
    } else {
      key += std::to_string(other++);
    }
    labels[key] = c.digest;
  }
  return labels;
}

std::map<std::string, std::string> ManifestLabels(const Manifest& m) {
  std::map<std::string, std::string> labels;
  labels[std::string(kGcRef) + "config"] = m.config.digest;
  for (size_t i = 0; i < m.layers.size(); ++i)
    labels[std::string(kGcRef) + "l." + std::to_string(i)] = m.layers[i].digest;
  return labels;
}

// --- reading -------------------------------------------------------------------------------

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

// libarchive's read callback over a std::istream; exceptions are kept and rethrown outside C.
struct ReadSource {
  std::istream& in;
  std::vector<char> buf = std::vector<char>(kChunk);
  std::exception_ptr error;

  static la_ssize_t Read(archive* a, void* data, const void** block) {
    auto* self = static_cast<ReadSource*>(data);
    try {
      self->in.read(self->buf.data(), static_cast<std::streamsize>(self->buf.size()));
      std::streamsize n = self->in.gcount();
      if (n == 0 && self->in.bad()) {
        archive_set_error(a, EIO, "reading the input stream failed");
        return -1;
      }
      *block = self->buf.data();
      return n;
    } catch (...) {
      self->error = std::current_exception();
      archive_set_error(a, EIO, "reading the input stream failed");
      return -1;
    }
  }
  void Rethrow() const {
    if (error) std::rethrow_exception(error);
  }
};

// What a regular file of the archive became in the content store.
struct StoredFile {
  std::string digest;
  int64_t size = 0;
  std::string magic;  // its first bytes, for the media type of a docker-archive layer
};

class ArchiveReader {
 public:
  ArchiveReader(const Context& ctx, std::istream& in, ContentStore& content)
      : ctx_(ctx), src_{in}, content_(content), ref_prefix_(UniqueRefPrefix()) {}

  std::vector<ArchiveImage> Run() {
    ReadEntries();
    if (json_.count("index.json")) return ImportOci();
    if (json_.count("manifest.json")) return ImportDocker();
    Invalid(
        "the archive has neither manifest.json (docker save) nor index.json (OCI image layout) at "
        "its top: not an image archive");
  }

 private:
  [[noreturn]] void Truncated(const std::string& where) {
    src_.Rethrow();
    const char* why = a_ ? archive_error_string(a_.get()) : nullptr;
    Invalid("image archive truncated or not a tar archive (" + where +
            (why ? std::string("): ") + why : std::string(")")));
  }

  void ReadEntries() {
    a_.reset(archive_read_new());
    if (!a_) throw Error(ErrorKind::kUnknown, "libarchive: cannot allocate a reader");
    archive_read_support_format_tar(a_.get());  // ustar, pax, GNU tar
    // Compressed tars too, as containerd's importer accepts them; built into Debian's libarchive.
    archive_read_support_filter_gzip(a_.get());
    archive_read_support_filter_zstd(a_.get());
    archive_read_support_filter_xz(a_.get());
    archive_read_support_filter_bzip2(a_.get());
    if (archive_read_open(a_.get(), &src_, nullptr, &ReadSource::Read, nullptr) != ARCHIVE_OK)
      Truncated("at its start");
    std::string last;
    for (;;) {
      ctx_.ThrowIfDone("ImportImage");
      archive_entry* e = nullptr;
      int r = archive_read_next_header(a_.get(), &e);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) Truncated(last.empty() ? "at its start" : "after entry " + Q(last));
      const char* raw = archive_entry_pathname(e);
      std::string raw_name = raw ? raw : "";
      last = raw_name;
      auto name = CleanName(raw_name);
      if (!name)
        Invalid("archive entry " + Q(raw_name) +
                " is an absolute path or has a \"..\" component: refusing an entry that "
                "escapes the archive");
      if (const char* hl = archive_entry_hardlink(e)) {
        auto target = CleanName(hl);
        if (!target)
          Invalid("archive entry " + Q(raw_name) + " is a hard link to " + Q(hl) +
                  ", which leaves the archive: refusing it");
        links_[*name] = *target;
        continue;
      }
      switch (archive_entry_filetype(e)) {
        case AE_IFREG:
          ReadFile(e, *name, raw_name);
          break;
        case AE_IFLNK: {
          const char* t = archive_entry_symlink(e);
          auto target = ResolveSymlink(*name, t ? t : "");
          if (!target)
            Invalid("archive entry " + Q(raw_name) + " is a symbolic link to " + Q(t ? t : "") +
                    ", which leaves the archive: refusing it");
          links_[*name] = *target;
          break;
        }
        default:  // directories, and devices or FIFOs no image layout uses
          break;
      }
    }
  }

  static bool IsTopJson(const std::string& name) {
    return name == "manifest.json" || name == "index.json" || name == "repositories" ||
           name == "oci-layout";
  }

  void ReadFile(archive_entry* e, const std::string& name, const std::string& raw_name) {
    std::vector<char>& buf = buf_;
    if (buf.empty()) buf.resize(kChunk);
    if (IsTopJson(name)) {
      std::string data;
      for (;;) {
        la_ssize_t n = archive_read_data(a_.get(), buf.data(), buf.size());
        if (n < 0) Truncated("entry " + Q(raw_name));
        if (n == 0) break;
        if (static_cast<int64_t>(data.size()) + n > kMaxJsonFile)
          Invalid("archive entry " + Q(raw_name) + " is over " +
                  std::to_string(kMaxJsonFile >> 20) + " MiB: not an image archive's " + name);
        data.append(buf.data(), static_cast<size_t>(n));
      }
      json_[name] = std::move(data);
      return;
    }
    int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    std::string expected;
    if (name.starts_with(kBlobsDir) && name.size() > kBlobsDir.size()) {
      expected = "sha256:" + name.substr(kBlobsDir.size());
      try {
        ValidateDigest(expected, "blob name");
      } catch (const Error&) {
        Invalid("archive entry " + Q(raw_name) +
                " is not named blobs/sha256/<64 lowercase hex digits>: not an OCI blob");
      }
    }
    StoredFile file;
    std::unique_ptr<ContentWriter> w;
    try {
      w = content_.OpenWriter(ctx_, ref_prefix_ + name, size, expected);
    } catch (const Error& err) {
      // The store holds this blob already (containerd adds it to our lease all the same).
      if (err.kind() != ErrorKind::kAlreadyExists || expected.empty()) throw;
      if (archive_read_data_skip(a_.get()) < ARCHIVE_WARN) Truncated("entry " + Q(raw_name));
      files_[name] = StoredFile{expected, size, ""};
      return;
    }
    if (w->Offset() != 0) {
      // The store holds this digest already (the writer reports it whole): no need to send it.
      if (expected.empty() || w->Offset() != size)
        throw Error(ErrorKind::kFailedPrecondition,
                    "content ingest " + Q(ref_prefix_ + name) + " already holds " +
                        std::to_string(w->Offset()) + " bytes: another import uses the same ref");
      if (archive_read_data_skip(a_.get()) < ARCHIVE_WARN) Truncated("entry " + Q(raw_name));
      files_[name] = StoredFile{w->Commit(size, expected), size, ""};
      return;
    }
    for (;;) {
      ctx_.ThrowIfDone("ImportImage");
      la_ssize_t n = archive_read_data(a_.get(), buf.data(), buf.size());
      if (n < 0) Truncated("entry " + Q(raw_name));
      if (n == 0) break;
      std::string_view chunk(buf.data(), static_cast<size_t>(n));
      if (file.magic.size() < 4) file.magic += chunk.substr(0, 4 - file.magic.size());
      w->Write(chunk);
      file.size += n;
    }
    try {
      file.digest = w->Commit(file.size, expected);
    } catch (const Error& err) {
      if (expected.empty() || err.kind() != ErrorKind::kFailedPrecondition) throw;
      Invalid("archive entry " + Q(raw_name) +
              " does not match the digest its name gives: " + err.message());
    }
    files_[name] = std::move(file);
  }

  // The stored file at `path` (a clean name), following links inside the archive.
  const StoredFile* Find(std::string path) const {
    for (int hop = 0; hop <= kMaxLinkHops; ++hop) {
      if (auto f = files_.find(path); f != files_.end()) return &f->second;
      auto l = links_.find(path);
      if (l == links_.end()) return nullptr;
      path = l->second;
    }
    return nullptr;  // a loop of links
  }

  const StoredFile* FindBlob(const std::string& digest) const {
    if (!digest.starts_with("sha256:")) return nullptr;
    return Find(std::string(kBlobsDir) + digest.substr(7));
  }

  // --- OCI image layout ---------------------------------------------------------------------

  std::vector<ArchiveImage> ImportOci() {
    Index index = ParseIndex(json_["index.json"], "index.json");
    if (index.manifests.empty()) Invalid("index.json lists no manifests: nothing to import");
    std::vector<ArchiveImage> images;
    for (const auto& listed : index.manifests) {
      Descriptor d = listed;
      Check(d, "index.json", 0);
      images.push_back(ArchiveImage{OciName(d), std::move(d)});
    }
    return images;
  }

  // Checks that d's blob and everything it names are in the archive, and labels it for GC.
  // An index may miss the manifests of other platforms (an export for one platform, as
  // `ctr images export --platform` and ours write), but not all of them; a manifest must be
  // complete. Fills in d.media_type when the listing left it out.
  void Check(Descriptor& d, const std::string& parent, int depth) {
    if (depth > kMaxIndexDepth)
      Invalid(parent + " nests indexes more than " + std::to_string(kMaxIndexDepth) + " deep");
    const StoredFile* blob = FindBlob(d.digest);
    if (!blob)
      Invalid(parent + " names " + Q(d.digest) + ", which is not in the archive (no " +
              std::string(kBlobsDir) + "<hex> entry for it)");
    if (blob->size != d.size)
      Invalid(parent + " gives " + d.digest + " a size of " + std::to_string(d.size) +
              " bytes; the archive's blob has " + std::to_string(blob->size));
    if (!d.media_type.empty() && !IsIndexType(d.media_type) && !IsManifestType(d.media_type) &&
        !IsSchema1Type(d.media_type))
      Invalid(parent + " names " + d.digest + " of media type " + Q(d.media_type) +
              ", neither an image manifest nor an index");
    std::string data = content_.ReadAll(ctx_, d.digest, kMaxSmallBlob);
    if (d.media_type.empty()) {
      d.media_type = SniffMediaType(data);
      if (d.media_type.empty()) d.media_type = std::string(media::kOciManifest);
    }
    if (IsSchema1Type(d.media_type))
      Invalid(parent + " names " + d.digest +
              ", a Docker schema 1 manifest: not supported (convert it to schema 2)");
    std::string what = (IsIndexType(d.media_type) ? "index " : "manifest ") + d.digest;
    if (IsIndexType(d.media_type)) {
      Index index = ParseIndex(data, what);
      size_t present = 0;
      for (auto& child : index.manifests) {
        if (!IsIndexType(child.media_type) && !IsManifestType(child.media_type)) continue;
        if (!FindBlob(child.digest)) continue;
        Check(child, what, depth + 1);
        ++present;
      }
      if (present == 0)
        Invalid(what + " (listed in " + parent + ") names no manifest that is in the archive" +
                (index.manifests.empty() ? std::string()
                                         : ": " + index.manifests.front().digest + " is missing"));
      content_.SetLabels(ctx_, d.digest, ChildLabels(index.manifests));
      return;
    }
    Manifest m = ParseManifest(data, what);
    auto need = [&](const Descriptor& c, const char* kind) {
      const StoredFile* f = FindBlob(c.digest);
      if (!f) Invalid(what + " names " + kind + " " + c.digest + ", which is not in the archive");
      if (f->size != c.size)
        Invalid(what + " gives " + kind + " " + c.digest + " a size of " + std::to_string(c.size) +
                " bytes; the archive's blob has " + std::to_string(f->size));
    };
    need(m.config, "config");
    for (const auto& l : m.layers) need(l, "layer");
    content_.SetLabels(ctx_, d.digest, ManifestLabels(m));
  }

  // io.containerd.image.name, else org.opencontainers.image.ref.name when it is a full
  // reference (has a '/', ':' or '@'); a bare tag alone names nothing.
  static std::string OciName(const Descriptor& d) {
    if (auto it = d.annotations.find(std::string(kAnnotationImageName));
        it != d.annotations.end() && !it->second.empty()) {
      try {
        return ParseReference(it->second).String();
      } catch (const Error& err) {
        Invalid("index.json: annotation " + std::string(kAnnotationImageName) + " " +
                Q(it->second) + " of " + d.digest + " is not an image reference: " + err.message());
      }
    }
    if (auto it = d.annotations.find(std::string(kAnnotationRefName));
        it != d.annotations.end() && it->second.find_first_of("/:@") != std::string::npos) {
      try {
        return ParseReference(it->second).String();
      } catch (const Error&) {
        // Not a reference: a ref name need not be one.
      }
    }
    return "";
  }

  // --- docker save --------------------------------------------------------------------------

  const StoredFile& Named(const char* key, size_t i, const std::string& path, const char* kind) {
    auto clean = CleanName(path);
    if (!clean || clean->empty())
      Invalid("manifest.json entry " + std::to_string(i) + " names " + kind + " " + Q(path) +
              ", which escapes the archive");
    const StoredFile* f = Find(*clean);
    if (!f)
      Invalid("manifest.json entry " + std::to_string(i) + " names " + kind + " " + Q(path) + " (" +
              key + "), which is not in the archive");
    return *f;
  }

  static std::string LayerMediaType(const std::string& magic) {
    if (magic.size() >= 2 && static_cast<unsigned char>(magic[0]) == 0x1f &&
        static_cast<unsigned char>(magic[1]) == 0x8b)
      return std::string(media::kDockerLayerGzip);
    if (magic == std::string("\x28\xb5\x2f\xfd", 4)) return std::string(media::kOciLayerZstd);
    return std::string(media::kDockerLayer);
  }

  std::vector<ArchiveImage> ImportDocker() {
    json doc = json::parse(json_["manifest.json"], nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_array())
      Invalid("manifest.json is malformed: not a JSON array");
    if (doc.empty()) Invalid("manifest.json lists no images: nothing to import");
    std::vector<ArchiveImage> images;
    for (size_t i = 0; i < doc.size(); ++i) {
      const json& entry = doc[i];
      std::string at = "manifest.json entry " + std::to_string(i);
      if (!entry.is_object()) Invalid(at + " is not a JSON object");
      auto config_it = entry.find("Config");
      if (config_it == entry.end() || !config_it->is_string())
        Invalid(at + " has no Config file name");
      auto layers_it = entry.find("Layers");
      if (layers_it != entry.end() && !layers_it->is_null() && !layers_it->is_array())
        Invalid(at + ": Layers is not an array");
      std::vector<std::string> tags;
      if (auto t = entry.find("RepoTags"); t != entry.end() && !t->is_null()) {
        if (!t->is_array()) Invalid(at + ": RepoTags is not an array");
        for (const auto& s : *t) {
          if (!s.is_string()) Invalid(at + ": RepoTags has a non-string element");
          tags.push_back(s.get<std::string>());
        }
      }

      Manifest m;
      m.media_type = std::string(media::kDockerManifest);
      const StoredFile& config = Named("Config", i, config_it->get<std::string>(), "config");
      m.config =
          Descriptor{std::string(media::kDockerConfig), config.digest, config.size, {}, {}, {}};
      if (layers_it != entry.end() && layers_it->is_array()) {
        for (const auto& l : *layers_it) {
          if (!l.is_string()) Invalid(at + ": Layers has a non-string element");
          const StoredFile& layer = Named("Layers", i, l.get<std::string>(), "layer");
          m.layers.push_back(
              Descriptor{LayerMediaType(layer.magic), layer.digest, layer.size, {}, {}, {}});
        }
      }
      ConfigFile cfg = ParseConfig(content_.ReadAll(ctx_, config.digest, kMaxSmallBlob),
                                   at + " config " + config_it->get<std::string>());
      if (cfg.diff_ids.size() != m.layers.size())
        Invalid(at + ": its config lists " + std::to_string(cfg.diff_ids.size()) +
                " layers (rootfs.diff_ids) but Layers names " + std::to_string(m.layers.size()));

      std::string data = EncodeManifest(m);
      std::string digest = Sha256Digest(data);
      content_.WriteBlob(ctx_, ref_prefix_ + "manifest-" + digest, data, digest, ManifestLabels(m));
      Descriptor target{std::string(media::kDockerManifest),
                        digest,
                        static_cast<int64_t>(data.size()),
                        {},
                        {},
                        {}};
      if (tags.empty()) images.push_back(ArchiveImage{"", target});
      for (const auto& tag : tags) {
        std::string name;
        try {
          name = ParseReference(tag).String();
        } catch (const Error& err) {
          Invalid(at + ": RepoTags " + Q(tag) + " is not an image reference: " + err.message());
        }
        images.push_back(ArchiveImage{std::move(name), target});
      }
    }
    return images;
  }

  const Context& ctx_;
  ReadSource src_;
  ContentStore& content_;
  std::string ref_prefix_;
  std::unique_ptr<archive, ReadFree> a_;
  std::vector<char> buf_;
  std::map<std::string, StoredFile> files_;   // clean name -> stored blob
  std::map<std::string, std::string> links_;  // clean name -> clean target name
  std::map<std::string, std::string> json_;   // top-level JSON files
};

}  // namespace

std::vector<ArchiveImage> ReadImageArchive(const Context& ctx, std::istream& in,
                                           ContentStore& content) {
  ArchiveReader reader(ctx, in, content);
  return reader.Run();
}

// --- writing -------------------------------------------------------------------------------

namespace {

// libarchive's write side over a std::ostream. Once abandoned (an exception is on its way),
// nothing more reaches the stream, so a failed export never ends with a tar trailer that would
// make a half-written archive look whole.
class ArchiveWriter {
 public:
  explicit ArchiveWriter(std::ostream& out) : out_(out), a_(archive_write_new()) {
    if (!a_) throw Error(ErrorKind::kUnknown, "libarchive: cannot allocate a writer");
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_per_block(a_, 64 << 10);
    archive_write_set_bytes_in_last_block(a_, 1);
    if (archive_write_open(a_, this, nullptr, &ArchiveWriter::WriteCb, nullptr) != ARCHIVE_OK)
      Fail("opening the archive");
  }
  ~ArchiveWriter() {
    abandoned_ = true;  // when Close was not reached: write no trailer
    archive_write_free(a_);
  }
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  void Dir(const std::string& path) { Header(path, AE_IFDIR, 0755, 0); }

  void File(const std::string& path, std::string_view data) {
    Header(path, AE_IFREG, 0644, static_cast<int64_t>(data.size()));
    Data(data);
  }

  void Header(const std::string& path, unsigned type, int mode, int64_t size) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               &archive_entry_free);
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), static_cast<mode_t>(mode));
    archive_entry_set_size(e.get(), size);
    archive_entry_set_mtime(e.get(), 0, 0);  // reproducible: the same images give the same bytes
    if (archive_write_header(a_, e.get()) != ARCHIVE_OK) Fail("writing the header of " + path);
  }

  void Data(std::string_view data) {
    while (!data.empty()) {
      la_ssize_t n = archive_write_data(a_, data.data(), data.size());
      if (n <= 0) Fail("writing data");
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  void Close() {
    if (archive_write_close(a_) != ARCHIVE_OK) Fail("finishing the archive");
    out_.flush();
    if (!out_) throw Error(ErrorKind::kUnknown, "image export: flushing the output stream failed");
  }

 private:
  static la_ssize_t WriteCb(archive* a, void* data, const void* buf, size_t n) {
    auto* self = static_cast<ArchiveWriter*>(data);
    if (self->abandoned_) {
      archive_set_error(a, ECANCELED, "export abandoned");
      return -1;
    }
    try {
      self->out_.write(static_cast<const char*>(buf), static_cast<std::streamsize>(n));
      if (!self->out_) {
        archive_set_error(a, EIO, "writing to the output stream failed");
        return -1;
      }
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      self->error_ = std::current_exception();
      archive_set_error(a, EIO, "writing to the output stream failed");
      return -1;
    }
  }

  [[noreturn]] void Fail(const std::string& what) {
    abandoned_ = true;
    if (error_) std::rethrow_exception(error_);
    const char* why = archive_error_string(a_);
    throw Error(ErrorKind::kUnknown,
                "image export: " + what + " failed: " + (why ? why : "libarchive error"));
  }

  std::ostream& out_;
  archive* a_;
  bool abandoned_ = false;
  std::exception_ptr error_;
};

struct DockerEntry {
  std::string manifest_digest;
  std::string config;
  std::vector<std::string> layers;
  std::vector<std::string> repo_tags;
};

std::string BlobPath(const std::string& digest) {
  return std::string(kBlobsDir) + digest.substr(std::string_view("sha256:").size());
}

}  // namespace

// For an index target the archive keeps the index blob itself (so the image's digest is the
// same after a round trip) but carries only the manifest for `platform` and its config and
// layers, as `ctr images export --platform` and docker 25's save do: skopeo's oci-archive
// reader resolves the index to that platform's manifest, our import accepts an index that
// misses other platforms' manifests, and docker's manifest.json names only the included
// manifest's config and layers (classic `docker load` reads manifest.json alone).
void WriteImageArchive(const Context& ctx, const std::vector<ExportImage>& images,
                       ContentStore& content, const Platform& platform, std::ostream& out) {
  std::vector<Descriptor> blobs;  // in archive order, each digest once
  std::set<std::string> seen;
  auto add = [&](const Descriptor& d) {
    ValidateDigest(d.digest, "descriptor digest");
    if (!d.digest.starts_with("sha256:"))
      throw Error(ErrorKind::kNotImplemented, "image export: only sha256 blobs can be exported");
    if (seen.insert(d.digest).second) blobs.push_back(d);
  };
  Index index_json{std::string(media::kOciIndex), {}, {}};
  std::vector<DockerEntry> docker;

  for (const auto& image : images) {
    ctx.ThrowIfDone("ExportImage");
    std::string label = image.name.empty() ? image.target.digest : image.name;
    Reference ref;
    if (!image.name.empty()) ref = ParseReference(image.name);
    Descriptor listed = image.target;
    listed.annotations.clear();
    if (!image.name.empty()) {
      listed.annotations[std::string(kAnnotationImageName)] = ref.String();
      if (!ref.tag.empty()) listed.annotations[std::string(kAnnotationRefName)] = ref.tag;
    }
    index_json.manifests.push_back(listed);

    Descriptor manifest_desc = image.target;
    if (IsIndexType(image.target.media_type)) {
      add(image.target);
      Index index = ParseIndex(content.ReadAll(ctx, image.target.digest, kMaxSmallBlob),
                               "index " + image.target.digest);
      auto it = std::find_if(index.manifests.begin(), index.manifests.end(), [&](const auto& m) {
        return IsManifestType(m.media_type) && m.platform && PlatformMatches(platform, *m.platform);
      });
      if (it == index.manifests.end()) {
        std::string offered;
        for (const auto& m : index.manifests)
          if (m.platform) offered += (offered.empty() ? "" : ", ") + m.platform->String();
        throw Error(ErrorKind::kNotFound, "image " + label + " has no manifest for " +
                                              platform.String() + " (its index offers " +
                                              (offered.empty() ? "none" : offered) + ")");
      }
      manifest_desc = *it;
    } else if (!IsManifestType(image.target.media_type)) {
      throw Error(ErrorKind::kInvalidArgument,
                  "image " + label + ": its target " + image.target.digest + " is of media type " +
                      Q(image.target.media_type) + ", which cannot be exported");
    }
    add(manifest_desc);
    Manifest m = ParseManifest(content.ReadAll(ctx, manifest_desc.digest, kMaxSmallBlob),
                               "manifest " + manifest_desc.digest);
    add(m.config);
    for (const auto& l : m.layers) add(l);

    std::string repo_tag;
    if (!image.name.empty() && !ref.tag.empty()) {
      Reference tagged = ref;
      tagged.digest.clear();
      repo_tag = tagged.Familiar();
    }
    auto d = std::find_if(docker.begin(), docker.end(), [&](const DockerEntry& e) {
      return e.manifest_digest == manifest_desc.digest;
    });
    if (d == docker.end()) {
      DockerEntry e{manifest_desc.digest, BlobPath(m.config.digest), {}, {}};
      for (const auto& l : m.layers) e.layers.push_back(BlobPath(l.digest));
      docker.push_back(std::move(e));
      d = std::prev(docker.end());
    }
    if (!repo_tag.empty() &&
        std::find(d->repo_tags.begin(), d->repo_tags.end(), repo_tag) == d->repo_tags.end())
      d->repo_tags.push_back(repo_tag);
  }

  // Every blob present with its descriptor's size before a byte is written.
  for (const auto& b : blobs) {
    auto info = content.Info(ctx, b.digest);
    if (!info)
      throw Error(ErrorKind::kNotFound, "image export: blob " + b.digest + " (" + b.media_type +
                                            ") is not in the content store: pull the image again");
    if (info->size != b.size)
      throw Error(ErrorKind::kFailedPrecondition,
                  "image export: blob " + b.digest + " is " + std::to_string(info->size) +
                      " bytes in the content store but its descriptor says " +
                      std::to_string(b.size));
  }

  json manifest_json = json::array();
  for (const auto& e : docker)
    manifest_json.push_back(
        {{"Config", e.config}, {"RepoTags", e.repo_tags}, {"Layers", e.layers}});

  ArchiveWriter w(out);
  w.File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  w.Dir("blobs");
  w.Dir("blobs/sha256");
  for (const auto& b : blobs) {
    ctx.ThrowIfDone("ExportImage");
    w.Header(BlobPath(b.digest), AE_IFREG, 0644, b.size);
    int64_t written = 0;
    content.Read(ctx, b.digest, [&](std::string_view chunk) {
      if (written + static_cast<int64_t>(chunk.size()) > b.size)
        throw Error(ErrorKind::kFailedPrecondition, "image export: blob " + b.digest +
                                                        " in the content store is longer than " +
                                                        std::to_string(b.size) + " bytes");
      w.Data(chunk);
      written += static_cast<int64_t>(chunk.size());
    });
    if (written != b.size)
      throw Error(ErrorKind::kFailedPrecondition,
                  "image export: blob " + b.digest + " in the content store ended after " +
                      std::to_string(written) + " of " + std::to_string(b.size) + " bytes");
  }
  w.File("index.json", EncodeIndex(index_json));
  w.File("manifest.json", manifest_json.dump());
  w.Close();
}

}  // namespace libcontainerd::images
