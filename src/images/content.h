// Internal: containerd's content store (content service) as the image code uses it: blobs by
// digest, written through a resumable, verified stream, read back, labelled.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "images/descriptor.h"
#include "libcontainerd/context.h"

namespace libcontainerd::remote {
class Connection;
}

namespace libcontainerd::images {

struct ContentInfo {
  std::string digest;
  int64_t size = 0;
  std::map<std::string, std::string> labels;
};

// One content write in progress (Content.Write stream). Not thread-safe; one per blob.
class ContentWriter {
 public:
  virtual ~ContentWriter() = default;
  // Bytes the store already holds for this ref (a write interrupted earlier resumes here);
  // Write continues from this offset.
  virtual int64_t Offset() const = 0;
  virtual void Write(std::string_view data) = 0;
  // Commits with the expected size and digest (empty digest: whatever was written) and the
  // labels. Returns the committed digest. A blob already stored under that digest is success.
  // A mismatch throws Error{kFailedPrecondition} naming both digests; nothing is committed.
  virtual std::string Commit(int64_t size, const std::string& expected_digest,
                             const std::map<std::string, std::string>& labels = {}) = 0;
};

class ContentStore {
 public:
  // lease: the containerd lease every write and label update is made under ("" for none).
  ContentStore(std::shared_ptr<remote::Connection> conn, std::string lease = "");

  // nullopt when the blob is not stored.
  std::optional<ContentInfo> Info(const Context& ctx, const std::string& digest);
  // True when the blob is stored, and from then on held by this store's lease (so the GC cannot
  // take it between this check and its use): Info, and only when it is there AddResource and Info
  // again; without a lease, Info only.
  bool Hold(const Context& ctx, const std::string& digest);
  // The whole blob; throws kNotFound naming the digest, kInvalidArgument when it is larger than
  // max_size. One Content.Read; with `info`, Content.Info first (its size checked before reading)
  // and stored there.
  std::string ReadAll(const Context& ctx, const std::string& digest, int64_t max_size = 64 << 20,
                      ContentInfo* info = nullptr);
  // Streams the blob to sink in chunks.
  void Read(const Context& ctx, const std::string& digest,
            const std::function<void(std::string_view)>& sink);
  // Opens a write for ref (e.g. "layer-sha256:..."), resuming an earlier one of the same ref.
  // expected_size/expected_digest may be 0/"" when unknown.
  std::unique_ptr<ContentWriter> OpenWriter(const Context& ctx, const std::string& ref,
                                            int64_t expected_size,
                                            const std::string& expected_digest);
  // Writes data as one blob (checked against expected_digest when given); returns its digest.
  std::string WriteBlob(const Context& ctx, const std::string& ref, std::string_view data,
                        const std::string& expected_digest = "",
                        const std::map<std::string, std::string>& labels = {});
  // Sets (or with an empty value removes) the given labels, leaving the others.
  void SetLabels(const Context& ctx, const std::string& digest,
                 const std::map<std::string, std::string>& labels);
  void Delete(const Context& ctx, const std::string& digest);

  const std::string& lease() const { return lease_; }

 private:
  std::shared_ptr<remote::Connection> conn_;
  std::string lease_;
};

// A containerd lease: created with containerd.io/gc.expire = now + expire, deleted (releasing
// what it holds to the GC unless something else references it) by Release or the destructor.
class Lease {
 public:
  Lease(std::shared_ptr<remote::Connection> conn, const Context& ctx,
        std::chrono::seconds expire = std::chrono::hours(24));
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  const std::string& id() const { return id_; }
  void Release(const Context& ctx);
  // Leaves the lease to expire by itself (what it holds stays until then): for a pull cut short
  // by an unreachable registry, so that running it again reuses the finished blobs.
  void Keep() { released_ = true; }

 private:
  std::shared_ptr<remote::Connection> conn_;
  std::string id_;
  bool released_ = false;
};

}  // namespace libcontainerd::images
