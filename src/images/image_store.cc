// containerd's images service (Images.Get/List/Create/Update/Delete): image records.
#include "images/image_store.h"

#include <google/protobuf/empty.pb.h>
#include <google/protobuf/util/time_util.h>

#include <utility>

#include "libcontainerd/errors.h"
#include "remote/connection.h"

namespace libcontainerd::images {

namespace {

namespace images_v1 = remote::images_v1;

std::string Timestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  return google::protobuf::util::TimeUtil::ToString(t);
}

ImageRecord FromProto(const images_v1::Image& in) {
  ImageRecord out;
  out.name = in.name();
  out.labels.insert(in.labels().begin(), in.labels().end());
  out.target.media_type = in.target().media_type();
  out.target.digest = in.target().digest();
  out.target.size = in.target().size();
  out.target.annotations.insert(in.target().annotations().begin(), in.target().annotations().end());
  if (in.has_created_at()) out.created_at = Timestamp(in.created_at());
  if (in.has_updated_at()) out.updated_at = Timestamp(in.updated_at());
  return out;
}

void ToProto(const ImageRecord& in, images_v1::Image* out) {
  out->set_name(in.name);
  out->mutable_labels()->insert(in.labels.begin(), in.labels.end());
  auto* t = out->mutable_target();
  t->set_media_type(in.target.media_type);
  t->set_digest(in.target.digest);
  t->set_size(in.target.size);
  t->mutable_annotations()->insert(in.target.annotations.begin(), in.target.annotations.end());
}

Error NotFound(const remote::Connection& conn, const std::string& name, const char* op) {
  return Error(ErrorKind::kNotFound, "image " + name + " not found in namespace " + conn.ns(),
               {.op = op});
}

}  // namespace

ImageStore::ImageStore(std::shared_ptr<remote::Connection> conn) : conn_(std::move(conn)) {}

std::optional<ImageRecord> ImageStore::Get(const Context& ctx, const std::string& name) {
  remote::Rpc rpc(*conn_, ctx, "Images.Get");
  images_v1::GetImageRequest req;
  req.set_name(name);
  images_v1::GetImageResponse resp;
  grpc::Status s = conn_->images().Get(rpc.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  rpc.Check(s, {.path = name});
  return FromProto(resp.image());
}

std::vector<ImageRecord> ImageStore::List(const Context& ctx) {
  remote::Rpc rpc(*conn_, ctx, "Images.List");
  images_v1::ListImagesRequest req;
  images_v1::ListImagesResponse resp;
  rpc.Check(conn_->images().List(rpc.get(), req, &resp), {});
  std::vector<ImageRecord> out;
  out.reserve(static_cast<size_t>(resp.images_size()));
  for (const auto& i : resp.images()) out.push_back(FromProto(i));
  return out;
}

ImageRecord ImageStore::Put(const Context& ctx, const ImageRecord& record) {
  {
    remote::Rpc rpc(*conn_, ctx, "Images.Create");
    images_v1::CreateImageRequest req;
    ToProto(record, req.mutable_image());
    images_v1::CreateImageResponse resp;
    grpc::Status s = conn_->images().Create(rpc.get(), req, &resp);
    if (s.ok()) return FromProto(resp.image());
    if (s.error_code() != grpc::StatusCode::ALREADY_EXISTS) rpc.Fail(s, {.path = record.name});
  }
  remote::Rpc rpc(*conn_, ctx, "Images.Update");
  images_v1::UpdateImageRequest req;
  ToProto(record, req.mutable_image());
  req.mutable_update_mask()->add_paths("target");
  req.mutable_update_mask()->add_paths("labels");
  images_v1::UpdateImageResponse resp;
  grpc::Status s = conn_->images().Update(rpc.get(), req, &resp);
  // Deleted between our Create and Update: report it rather than loop.
  if (s.error_code() == grpc::StatusCode::NOT_FOUND)
    throw NotFound(*conn_, record.name, "Images.Update");
  rpc.Check(s, {.path = record.name});
  return FromProto(resp.image());
}

void ImageStore::Delete(const Context& ctx, const std::string& name, bool sync) {
  remote::Rpc rpc(*conn_, ctx, "Images.Delete");
  images_v1::DeleteImageRequest req;
  req.set_name(name);
  req.set_sync(sync);
  google::protobuf::Empty resp;
  grpc::Status s = conn_->images().Delete(rpc.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) throw NotFound(*conn_, name, "Images.Delete");
  rpc.Check(s, {.path = name});
}

}  // namespace libcontainerd::images
