// containerd's content service (Content.Info/Read/Write/Update/Delete/Abort) and leases
// (Leases.Create/Delete), as src/images/content.h describes them.
#include "images/content.h"

#include <google/protobuf/empty.pb.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <utility>

#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "remote/connection.h"
#include "remote/status.h"

namespace libcontainerd::images {

namespace {

namespace content_v1 = remote::content_v1;
namespace leases_v1 = remote::leases_v1;

// containerd's Content.Write takes any size per message; 1 MiB keeps messages well under the
// channel's 16 MiB limit while costing few messages. Data is gathered into messages of this size
// whatever the caller's pieces (curl hands over 16-512 KiB at a time).
constexpr size_t kWriteChunk = 1 << 20;
// containerd's server answers every request of the stream in order and reads the next one only
// after answering, but nothing obliges a client to wait for an answer before sending more:
// WRITEs are sent ahead, and their (small) answers read once this many are outstanding, and
// all of them before COMMIT. The server still checks every WRITE's offset against its own.
constexpr int kMaxWritesInFlight = 8;

using WriteStream = grpc::ClientReaderWriterInterface<content_v1::WriteContentRequest,
                                                      content_v1::WriteContentResponse>;

std::string NotFoundMessage(const remote::Connection& conn, const std::string& digest) {
  return "content " + digest + " not found in namespace " + conn.ns();
}

// Content.Abort of an ingest ref; a missing ref is fine. Best effort: failures are logged.
void AbortRef(remote::Connection& conn, const Context& ctx, const std::string& ref,
              const std::string& lease) {
  try {
    remote::Rpc rpc(conn, ctx, "Content.Abort");
    rpc.SetLease(lease);
    content_v1::AbortRequest req;
    req.set_ref(ref);
    google::protobuf::Empty resp;
    grpc::Status s = conn.content().Abort(rpc.get(), req, &resp);
    if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) rpc.Fail(s, {.path = ref});
  } catch (const Error& e) {
    Log(LogLevel::kWarning, std::string("content ingest ") + ref + " left behind: " + e.what());
  }
}

class RemoteWriter final : public ContentWriter {
 public:
  RemoteWriter(std::shared_ptr<remote::Connection> conn, ContentStore& store, const Context& ctx,
               std::string ref, int64_t expected_size, std::string expected_digest)
      : conn_(std::move(conn)),
        store_(store),
        ctx_(ctx),
        ref_(std::move(ref)),
        expected_size_(expected_size),
        expected_digest_(std::move(expected_digest)) {
    if (ref_.empty())
      throw Error(ErrorKind::kInvalidArgument, "a content write needs a ref",
                  {.op = "Content.Write"});
    rpc_ = std::make_unique<remote::Rpc>(*conn_, ctx_, "Content.Write");
    rpc_->SetLease(store_.lease());
    stream_ = conn_->content().Write(rpc_->get());
    content_v1::WriteContentRequest req;
    req.set_action(content_v1::STAT);
    req.set_ref(ref_);
    req.set_total(expected_size_);
    req.set_expected(expected_digest_);
    content_v1::WriteContentResponse resp;
    grpc::Status s = Exchange(req, &resp);
    if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS && !expected_digest_.empty()) {
      exists_ = true;
      offset_ = expected_size_;
      return;
    }
    rpc_->Check(s, {.path = ref_});
    offset_ = resp.offset();
    digest_ = resp.digest();
  }

  ~RemoteWriter() override {
    // Sends what is buffered (a later write of the same ref resumes after it), then ends the
    // stream politely so containerd releases the ref's lock before we return (the data written
    // so far stays in its ingest).
    if (!stream_) return;
    if (!finished_ && !exists_ && !pending_.data().empty()) {
      pending_.set_action(content_v1::WRITE);
      pending_.set_offset(offset_);
      stream_->Write(pending_);  // a failure ends the stream; Finish reports it to nobody
    }
    Finish();
  }

  int64_t Offset() const override { return offset_ + static_cast<int64_t>(pending_.data().size()); }
  // Starts over: the next WRITE (at offset 0) truncates what the ingest holds.
  void Restart() {
    offset_ = 0;
    pending_.clear_data();
  }

  void Write(std::string_view data) override {
    if (exists_) return;
    if (finished_)
      throw Error(ErrorKind::kFailedPrecondition, "content write already ended",
                  {.op = "Content.Write", .path = ref_});
    while (!data.empty()) {
      std::string& buf = *pending_.mutable_data();
      if (buf.capacity() < kWriteChunk) buf.reserve(kWriteChunk);
      size_t n = std::min(data.size(), kWriteChunk - buf.size());
      buf.append(data.data(), n);
      data.remove_prefix(n);
      if (buf.size() >= kWriteChunk) SendPending();
    }
  }

  std::string Commit(int64_t size, const std::string& expected_digest,
                     const std::map<std::string, std::string>& labels) override {
    std::string expected = expected_digest.empty() ? expected_digest_ : expected_digest;
    if (exists_) return Exists(ctx_, expected, labels);
    if (finished_)
      throw Error(ErrorKind::kFailedPrecondition, "content write already ended",
                  {.op = "Content.Write", .path = ref_});
    if (!pending_.data().empty()) SendPending();
    Drain(0);
    if (!expected.empty() && !digest_.empty() && digest_ != expected) {
      // We know the written bytes do not match: nothing to commit.
      Finish();
      AbortRef(*conn_, ctx_, ref_, store_.lease());
      throw Error(ErrorKind::kFailedPrecondition, Mismatch(expected, digest_),
                  {.op = "Content.Write", .path = ref_});
    }
    content_v1::WriteContentRequest req;
    req.set_action(content_v1::COMMIT);
    req.set_offset(offset_);
    req.set_total(size);
    req.set_expected(expected);
    for (const auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
    content_v1::WriteContentResponse resp;
    grpc::Status s = Exchange(req, &resp);
    if (s.ok()) s = Finish();
    if (s.ok()) return resp.digest().empty() ? expected : resp.digest();
    if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS &&
        !(expected.empty() && digest_.empty()))
      return Exists(ctx_, expected.empty() ? digest_ : expected, labels);
    if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
        s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      // Wrong size or digest: the ingest holds bad data; remove it so nothing is left.
      AbortRef(*conn_, ctx_, ref_, store_.lease());
      std::string msg = !expected.empty() && !digest_.empty() && digest_ != expected
                            ? Mismatch(expected, digest_)
                            : "commit of " + std::to_string(offset_) + " bytes (expected size " +
                                  std::to_string(size) + ", digest " +
                                  (expected.empty() ? "any" : expected) +
                                  ") refused: " + s.error_message() + "; the data was discarded";
      throw Error(ErrorKind::kFailedPrecondition, msg, {.op = "Content.Write", .path = ref_});
    }
    rpc_->Fail(s, {.path = ref_});
  }

 private:
  // Sends req and reads its response; on a broken stream, the call's final status.
  grpc::Status Exchange(const content_v1::WriteContentRequest& req,
                        content_v1::WriteContentResponse* resp) {
    if (stream_->Write(req) && stream_->Read(resp)) return grpc::Status::OK;
    return Finish();
  }

  // Sends the buffered data as one WRITE at the current offset without waiting for its answer;
  // reads answers while more than kMaxWritesInFlight are outstanding.
  void SendPending() {
    pending_.set_action(content_v1::WRITE);
    pending_.set_offset(offset_);
    const auto n = static_cast<int64_t>(pending_.data().size());
    if (!stream_->Write(pending_)) Broken();
    ++in_flight_;
    offset_ += n;
    pending_.clear_data();  // keeps its capacity for the next chunk
    Drain(kMaxWritesInFlight);
  }

  // Reads answers to the WRITEs sent until at most `keep` are outstanding; the last one read
  // gives the digest of the data written so far.
  void Drain(int keep) {
    content_v1::WriteContentResponse resp;
    while (in_flight_ > keep) {
      if (!stream_->Read(&resp)) Broken();
      --in_flight_;
      digest_ = resp.digest();
    }
  }

  // The stream broke under a WRITE: its final status as an Error.
  [[noreturn]] void Broken() {
    grpc::Status s = Finish();
    if (s.ok())
      throw Error(ErrorKind::kUnavailable,
                  "containerd ended the content write stream early; write the blob again",
                  {.op = "Content.Write", .path = ref_});
    rpc_->Fail(s, {.path = ref_});
  }

  grpc::Status Finish() {
    if (finished_) return status_;
    finished_ = true;
    stream_->WritesDone();
    // containerd sends its last response once more when the stream ends without error
    // (after COMMIT, or on our end of writes): read what is left, or Finish waits for it.
    content_v1::WriteContentResponse rest;
    while (stream_->Read(&rest)) {
    }
    status_ = stream_->Finish();
    return status_;
  }

  std::string Mismatch(const std::string& expected, const std::string& actual) const {
    return "digest mismatch: expected " + expected + ", the " + std::to_string(offset_) +
           " bytes written are " + actual + "; nothing was committed and the data was discarded";
  }

  // The blob is stored already: success; the labels asked for are still set.
  std::string Exists(const Context& ctx, const std::string& digest,
                     const std::map<std::string, std::string>& labels) {
    if (!labels.empty()) store_.SetLabels(ctx, digest, labels);
    return digest;
  }

  std::shared_ptr<remote::Connection> conn_;
  ContentStore& store_;
  Context ctx_;
  std::string ref_;
  int64_t expected_size_;
  std::string expected_digest_;
  std::unique_ptr<remote::Rpc> rpc_;
  std::unique_ptr<WriteStream> stream_;
  int64_t offset_ = 0;                       // bytes sent (the next WRITE's offset)
  std::string digest_;                       // of the data written so far, as containerd reports it
  content_v1::WriteContentRequest pending_;  // data not sent yet (less than kWriteChunk)
  int in_flight_ = 0;                        // WRITEs sent whose answers are not read yet
  bool exists_ = false;
  bool finished_ = false;
  grpc::Status status_;
};

std::string RandomHex(int bytes) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  char buf[3];
  for (int i = 0; i < bytes; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned>(rng() & 0xff));
    out += buf;
  }
  return out;
}

std::string Rfc3339Utc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

ContentStore::ContentStore(std::shared_ptr<remote::Connection> conn, std::string lease)
    : conn_(std::move(conn)), lease_(std::move(lease)) {}

bool ContentStore::Hold(const Context& ctx, const std::string& digest) {
  // An absent blob needs no reference (what is written later is written under the lease): one
  // read, no write, for every blob of a cold pull.
  if (!Info(ctx, digest)) return false;
  if (lease_.empty()) return true;
  // Present: the reference, then the check again: a blob that is there after this stays there.
  remote::Rpc rpc(*conn_, ctx, "Leases.AddResource");
  leases_v1::AddResourceRequest req;
  req.set_id(lease_);
  req.mutable_resource()->set_id(digest);
  req.mutable_resource()->set_type("content");
  google::protobuf::Empty resp;
  rpc.Check(conn_->leases().AddResource(rpc.get(), req, &resp), {.path = digest});
  return Info(ctx, digest).has_value();
}

std::optional<ContentInfo> ContentStore::Info(const Context& ctx, const std::string& digest) {
  remote::Rpc rpc(*conn_, ctx, "Content.Info");
  content_v1::InfoRequest req;
  req.set_digest(digest);
  content_v1::InfoResponse resp;
  grpc::Status s = conn_->content().Info(rpc.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  rpc.Check(s, {.path = digest});
  ContentInfo info;
  info.digest = resp.info().digest();
  info.size = resp.info().size();
  info.labels.insert(resp.info().labels().begin(), resp.info().labels().end());
  return info;
}

std::string ContentStore::ReadAll(const Context& ctx, const std::string& digest, int64_t max_size,
                                  ContentInfo* info) {
  std::string out;
  if (info != nullptr) {
    auto found = Info(ctx, digest);
    if (!found)
      throw Error(ErrorKind::kNotFound, NotFoundMessage(*conn_, digest), {.op = "Content.Read"});
    if (found->size > max_size)
      throw Error(ErrorKind::kInvalidArgument,
                  "content " + digest + " is " + std::to_string(found->size) +
                      " bytes, over the limit of " + std::to_string(max_size) +
                      " for a document read whole",
                  {.op = "Content.Read"});
    out.reserve(static_cast<size_t>(found->size));
    *info = std::move(*found);
  }
  Read(ctx, digest, [&](std::string_view chunk) {
    if (static_cast<int64_t>(out.size() + chunk.size()) > max_size)
      throw Error(
          ErrorKind::kInvalidArgument,
          "content " + digest + " is over the limit of " + std::to_string(max_size) + " bytes",
          {.op = "Content.Read"});
    out.append(chunk);
  });
  return out;
}

void ContentStore::Read(const Context& ctx, const std::string& digest,
                        const std::function<void(std::string_view)>& sink) {
  remote::Rpc rpc(*conn_, ctx, "Content.Read");
  content_v1::ReadContentRequest req;
  req.set_digest(digest);
  auto reader = conn_->content().Read(rpc.get(), req);
  content_v1::ReadContentResponse resp;
  while (reader->Read(&resp)) {
    try {
      sink(resp.data());
    } catch (...) {
      rpc.get()->TryCancel();
      reader->Finish();
      throw;
    }
  }
  grpc::Status s = reader->Finish();
  if (s.error_code() == grpc::StatusCode::NOT_FOUND)
    throw Error(ErrorKind::kNotFound, NotFoundMessage(*conn_, digest), {.op = "Content.Read"});
  rpc.Check(s, {.path = digest});
}

std::unique_ptr<ContentWriter> ContentStore::OpenWriter(const Context& ctx, const std::string& ref,
                                                        int64_t expected_size,
                                                        const std::string& expected_digest) {
  return std::make_unique<RemoteWriter>(conn_, *this, ctx, ref, expected_size, expected_digest);
}

std::string ContentStore::WriteBlob(const Context& ctx, const std::string& ref,
                                    std::string_view data, const std::string& expected_digest,
                                    const std::map<std::string, std::string>& labels) {
  RemoteWriter w(conn_, *this, ctx, ref, static_cast<int64_t>(data.size()), expected_digest);
  int64_t off = w.Offset();
  if (off < 0 || off > static_cast<int64_t>(data.size())) {
    w.Restart();
    off = 0;
  }
  w.Write(data.substr(static_cast<size_t>(off)));
  return w.Commit(static_cast<int64_t>(data.size()), expected_digest, labels);
}

void ContentStore::SetLabels(const Context& ctx, const std::string& digest,
                             const std::map<std::string, std::string>& labels) {
  if (labels.empty()) return;
  remote::Rpc rpc(*conn_, ctx, "Content.Update");
  rpc.SetLease(lease_);
  content_v1::UpdateRequest req;
  req.mutable_info()->set_digest(digest);
  for (const auto& [k, v] : labels) {
    if (!v.empty()) (*req.mutable_info()->mutable_labels())[k] = v;
    req.mutable_update_mask()->add_paths("labels." + k);
  }
  content_v1::UpdateResponse resp;
  grpc::Status s = conn_->content().Update(rpc.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND)
    throw Error(ErrorKind::kNotFound, NotFoundMessage(*conn_, digest), {.op = "Content.Update"});
  rpc.Check(s, {.path = digest});
}

void ContentStore::Delete(const Context& ctx, const std::string& digest) {
  remote::Rpc rpc(*conn_, ctx, "Content.Delete");
  content_v1::DeleteContentRequest req;
  req.set_digest(digest);
  google::protobuf::Empty resp;
  grpc::Status s = conn_->content().Delete(rpc.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND)
    throw Error(ErrorKind::kNotFound, NotFoundMessage(*conn_, digest), {.op = "Content.Delete"});
  rpc.Check(s, {.path = digest});
}

Lease::Lease(std::shared_ptr<remote::Connection> conn, const Context& ctx,
             std::chrono::seconds expire)
    : conn_(std::move(conn)) {
  auto now = std::chrono::system_clock::now();
  id_ = "lcd-" +
        std::to_string(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()) +
        "-" + RandomHex(4);
  remote::Rpc rpc(*conn_, ctx, "Leases.Create");
  leases_v1::CreateRequest req;
  req.set_id(id_);
  (*req.mutable_labels())["containerd.io/gc.expire"] = Rfc3339Utc(now + expire);
  leases_v1::CreateResponse resp;
  rpc.Check(conn_->leases().Create(rpc.get(), req, &resp), {.path = id_});
}

Lease::~Lease() {
  if (released_) return;
  try {
    Release(Context::WithTimeout(std::chrono::seconds(2)));
  } catch (const Error& e) {
    Log(LogLevel::kWarning,
        "containerd lease " + id_ + " not released (it expires by itself): " + e.what());
  }
}

void Lease::Release(const Context& ctx) {
  if (released_) return;
  remote::Rpc rpc(*conn_, ctx, "Leases.Delete");
  leases_v1::DeleteRequest req;
  req.set_id(id_);
  google::protobuf::Empty resp;
  grpc::Status s = conn_->leases().Delete(rpc.get(), req, &resp);
  if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) rpc.Fail(s, {.path = id_});
  released_ = true;
}

}  // namespace libcontainerd::images
