// Metrics decoding: containerd's io.containerd.cgroups.v1/v2.Metrics protobufs into the
// public value types (InterfaceToStats), the JSON rendering and the docker-like summary.
#include "libcontainerd/stats.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"
#include "libcontainerd/errors.h"
#include "stats/stats_json.h"

using namespace libcontainerd;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using nlohmann::json;
namespace pb1 = io::containerd::cgroups::v1;
namespace pb2 = io::containerd::cgroups::v2;

namespace {

constexpr char kV1[] = "io.containerd.cgroups.v1.Metrics";
constexpr char kV2[] = "io.containerd.cgroups.v2.Metrics";

// Sets every field of `m`, recursively, to a value no other field has: numbers count up from
// *next, strings are "s<n>", every repeated field gets two elements, every sub-message is set.
// Driven by the descriptor, so a field added to the proto is covered without editing the test.
void FillDistinct(Message* m, uint64_t* next) {
  const auto* d = m->GetDescriptor();
  const auto* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const int n = f->is_repeated() ? 2 : 1;
    for (int k = 0; k < n; ++k) {
      const uint64_t v = (*next)++;
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_UINT64:
          f->is_repeated() ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          f->is_repeated() ? r->AddUInt32(m, f, static_cast<uint32_t>(v))
                           : r->SetUInt32(m, f, static_cast<uint32_t>(v));
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          f->is_repeated() ? r->AddString(m, f, "s" + std::to_string(v))
                           : r->SetString(m, f, "s" + std::to_string(v));
          break;
        case FieldDescriptor::CPPTYPE_MESSAGE:
          FillDistinct(f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f), next);
          break;
        default:
          ADD_FAILURE() << "FillDistinct: field " << f->full_name() << " has a type this test "
                        << "does not fill; extend the test";
      }
    }
  }
}

json ScalarToJson(const Message& m, const FieldDescriptor* f, int index) {
  const auto* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    default:
      ADD_FAILURE() << "ProtoToJson: unsupported type of " << f->full_name();
      return nullptr;
  }
}

// The proto itself as JSON in the shape StatsToJson promises: field names as in the .proto,
// unset sub-messages null, repeated fields arrays, numbers as numbers.
json ProtoToJson(const Message& m) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  json out = json::object();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    json& v = out[f->name()];
    if (f->is_repeated()) {
      v = json::array();
      for (int k = 0; k < r->FieldSize(m, f); ++k) {
        v.push_back(f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
                        ? ProtoToJson(r->GetRepeatedMessage(m, f, k))
                        : ScalarToJson(m, f, k));
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      v = r->HasField(m, f) ? ProtoToJson(r->GetMessage(m, f)) : json(nullptr);
    } else {
      v = ScalarToJson(m, f, 0);
    }
  }
  return out;
}

// Every number and string leaf of a JSON value.
void Leaves(const json& j, std::vector<json>* out) {
  if (j.is_structured()) {
    for (const auto& e : j) Leaves(e, out);
  } else if (!j.is_null()) {
    out->push_back(j);
  }
}

std::string Serialize(const Message& m) {
  std::string s;
  EXPECT_TRUE(m.SerializeToString(&s));
  return s;
}

const SystemTime kRead =
    SystemTime{} + std::chrono::seconds(1764412887) + std::chrono::nanoseconds(123456789);

ErrorKind KindOf(std::string_view url, std::string_view bytes) {
  try {
    InterfaceToStats(kRead, url, bytes);
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "InterfaceToStats(" << url << ") did not throw";
  return ErrorKind::kUnknown;
}

}  // namespace

// The core check: every field of the proto, each with its own value, reaches the value types
// (compared through StatsToJson, whose keys are the proto's names). Dropping, swapping or
// misnaming any one field, in the decoder, the value types or the JSON, makes it fail.
TEST(InterfaceToStats, V1EveryFieldArrives) {
  pb1::Metrics pb;
  uint64_t next = 1001;
  FillDistinct(&pb, &next);
  const json want = ProtoToJson(pb);
  std::vector<json> leaves;
  Leaves(want, &leaves);
  ASSERT_GT(leaves.size(), 150u);  // the fill really reached the nested and repeated fields
  EXPECT_EQ(std::set<json>(leaves.begin(), leaves.end()).size(), leaves.size());

  Stats st = InterfaceToStats(kRead, kV1, Serialize(pb));
  ASSERT_NE(st.v1(), nullptr);
  EXPECT_EQ(st.v2(), nullptr);
  EXPECT_EQ(st.read, kRead);
  const json got = StatsToJson(st);
  EXPECT_EQ(got["cgroup"], "v1");
  const json diff = json::diff(want, got["metrics"]);
  EXPECT_TRUE(diff.empty()) << "proto -> value types differ (RFC 6902 patch from proto):\n"
                            << diff.dump(2);
}

TEST(InterfaceToStats, V2EveryFieldArrives) {
  pb2::Metrics pb;
  uint64_t next = 5001;
  FillDistinct(&pb, &next);
  const json want = ProtoToJson(pb);
  std::vector<json> leaves;
  Leaves(want, &leaves);
  ASSERT_GT(leaves.size(), 70u);
  EXPECT_EQ(std::set<json>(leaves.begin(), leaves.end()).size(), leaves.size());

  Stats st = InterfaceToStats(kRead, kV2, Serialize(pb));
  ASSERT_NE(st.v2(), nullptr);
  EXPECT_EQ(st.v1(), nullptr);
  EXPECT_EQ(st.read, kRead);
  const json got = StatsToJson(st);
  EXPECT_EQ(got["cgroup"], "v2");
  // Fields newer than the compiled proto (PSI, peak usage) are checked in stats_psi_test.cc.
  json metrics = got["metrics"];
  metrics["cpu"].erase("psi");
  metrics["io"].erase("psi");
  for (const char* k : {"psi", "max_usage", "swap_max_usage"}) metrics["memory"].erase(k);
  const json diff = json::diff(want, metrics);
  EXPECT_TRUE(diff.empty()) << "proto -> value types differ (RFC 6902 patch from proto):\n"
                            << diff.dump(2);
}

// The same, read straight from the structs (not through the JSON), for the nested and repeated
// fields most likely to be mishandled.
TEST(InterfaceToStats, V1NestedAndRepeatedFieldsInStructs) {
  pb1::Metrics pb;
  uint64_t next = 1;
  FillDistinct(&pb, &next);
  const Stats st = InterfaceToStats(kRead, kV1, Serialize(pb));
  const cgroup1::Metrics& m = *st.v1();

  ASSERT_EQ(m.hugetlb.size(), 2u);
  EXPECT_EQ(m.hugetlb[1].pagesize, pb.hugetlb(1).pagesize());
  EXPECT_EQ(m.hugetlb[1].failcnt, pb.hugetlb(1).failcnt());
  ASSERT_TRUE(m.cpu && m.cpu->usage && m.cpu->throttling);
  EXPECT_EQ(m.cpu->usage->per_cpu,
            (std::vector<uint64_t>{pb.cpu().usage().per_cpu(0), pb.cpu().usage().per_cpu(1)}));
  EXPECT_EQ(m.cpu->throttling->throttled_time, pb.cpu().throttling().throttled_time());
  ASSERT_TRUE(m.memory && m.memory->kernel_tcp);
  EXPECT_EQ(m.memory->kernel_tcp->failcnt, pb.memory().kernel_tcp().failcnt());
  EXPECT_EQ(m.memory->total_unevictable, pb.memory().total_unevictable());
  ASSERT_TRUE(m.blkio);
  ASSERT_EQ(m.blkio->sectors_recursive.size(), 2u);
  EXPECT_EQ(m.blkio->sectors_recursive[1].device, pb.blkio().sectors_recursive(1).device());
  EXPECT_EQ(m.blkio->io_service_bytes_recursive[0].op,
            pb.blkio().io_service_bytes_recursive(0).op());
  ASSERT_TRUE(m.rdma);
  ASSERT_EQ(m.rdma->limit.size(), 2u);
  EXPECT_EQ(m.rdma->limit[1].hca_objects, pb.rdma().limit(1).hca_objects());
  ASSERT_EQ(m.network.size(), 2u);
  EXPECT_EQ(m.network[1].rx_errors, pb.network(1).rx_errors());
  EXPECT_EQ(m.network[1].name, pb.network(1).name());
  ASSERT_TRUE(m.cgroup_stats && m.memory_oom_control && m.pids);
  EXPECT_EQ(m.cgroup_stats->nr_io_wait, pb.cgroup_stats().nr_io_wait());
  EXPECT_EQ(m.memory_oom_control->oom_kill, pb.memory_oom_control().oom_kill());
  EXPECT_EQ(m.pids->limit, pb.pids().limit());
}

TEST(InterfaceToStats, V2NestedAndRepeatedFieldsInStructs) {
  pb2::Metrics pb;
  uint64_t next = 1;
  FillDistinct(&pb, &next);
  const Stats st = InterfaceToStats(kRead, kV2, Serialize(pb));
  const cgroup2::Metrics& m = *st.v2();

  ASSERT_TRUE(m.cpu && m.memory && m.pids && m.rdma && m.io && m.memory_events);
  EXPECT_EQ(m.cpu->usage_usec, pb.cpu().usage_usec());
  EXPECT_EQ(m.cpu->throttled_usec, pb.cpu().throttled_usec());
  EXPECT_EQ(m.memory->anon, pb.memory().anon());
  EXPECT_EQ(m.memory->swap_limit, pb.memory().swap_limit());
  ASSERT_EQ(m.io->usage.size(), 2u);
  EXPECT_EQ(m.io->usage[1].wios, pb.io().usage(1).wios());
  ASSERT_EQ(m.rdma->current.size(), 2u);
  EXPECT_EQ(m.rdma->current[0].device, pb.rdma().current(0).device());
  ASSERT_EQ(m.hugetlb.size(), 2u);
  EXPECT_EQ(m.hugetlb[1].pagesize, pb.hugetlb(1).pagesize());
  EXPECT_EQ(m.memory_events->oom_kill, pb.memory_events().oom_kill());
  EXPECT_EQ(m.pids->current, pb.pids().current());
}

TEST(InterfaceToStats, V1AbsentMessagesAreEmptyOptionals) {
  pb1::Metrics pb;
  pb.mutable_pids()->set_current(3);
  pb.mutable_cpu()->mutable_usage()->set_total(10);  // cpu.throttling absent
  pb.mutable_memory()->set_cache(5);                 // every MemoryEntry absent
  const Stats st = InterfaceToStats(kRead, kV1, Serialize(pb));
  const cgroup1::Metrics& m = *st.v1();
  ASSERT_TRUE(m.pids);
  EXPECT_EQ(m.pids->current, 3u);
  ASSERT_TRUE(m.cpu && m.cpu->usage);
  EXPECT_FALSE(m.cpu->throttling);
  ASSERT_TRUE(m.memory);
  EXPECT_EQ(m.memory->cache, 5u);
  EXPECT_FALSE(m.memory->usage);
  EXPECT_FALSE(m.memory->swap);
  EXPECT_FALSE(m.memory->kernel);
  EXPECT_FALSE(m.memory->kernel_tcp);
  EXPECT_FALSE(m.blkio);
  EXPECT_FALSE(m.rdma);
  EXPECT_FALSE(m.cgroup_stats);
  EXPECT_FALSE(m.memory_oom_control);
  EXPECT_TRUE(m.hugetlb.empty());
  EXPECT_TRUE(m.network.empty());
}

TEST(InterfaceToStats, V1EmptyMessageSetButZeroIsNotAbsent) {
  pb1::Metrics pb;
  pb.mutable_blkio();  // present, every list empty
  const Stats st = InterfaceToStats(kRead, kV1, Serialize(pb));
  ASSERT_TRUE(st.v1()->blkio);
  EXPECT_TRUE(st.v1()->blkio->io_serviced_recursive.empty());
  EXPECT_FALSE(st.v1()->pids);
}

TEST(InterfaceToStats, V2AbsentMessagesAreEmptyOptionals) {
  pb2::Metrics pb;
  pb.mutable_memory()->set_usage(7);
  const Stats st = InterfaceToStats(kRead, kV2, Serialize(pb));
  const cgroup2::Metrics& m = *st.v2();
  ASSERT_TRUE(m.memory);
  EXPECT_EQ(m.memory->usage, 7u);
  EXPECT_FALSE(m.pids);
  EXPECT_FALSE(m.cpu);
  EXPECT_FALSE(m.rdma);
  EXPECT_FALSE(m.io);
  EXPECT_FALSE(m.memory_events);
  EXPECT_TRUE(m.hugetlb.empty());
}

TEST(InterfaceToStats, EmptyBytesAreAnEmptyMessage) {
  const Stats st = InterfaceToStats(kRead, kV2, "");
  ASSERT_NE(st.v2(), nullptr);
  EXPECT_EQ(*st.v2(), cgroup2::Metrics{});
}

TEST(InterfaceToStats, AcceptsBareAndPrefixedTypeUrls) {
  pb1::Metrics p1;
  p1.mutable_pids()->set_current(11);
  pb2::Metrics p2;
  p2.mutable_pids()->set_current(22);
  for (std::string prefix : {"", "type.googleapis.com/", "example.org/any/"}) {
    SCOPED_TRACE(prefix);
    const Stats s1 = InterfaceToStats(kRead, prefix + kV1, Serialize(p1));
    ASSERT_NE(s1.v1(), nullptr);
    EXPECT_EQ(s1.v1()->pids->current, 11u);
    const Stats s2 = InterfaceToStats(kRead, prefix + kV2, Serialize(p2));
    ASSERT_NE(s2.v2(), nullptr);
    EXPECT_EQ(s2.v2()->pids->current, 22u);
  }
}

TEST(InterfaceToStats, UnknownTypeUrlIsInvalidArgumentNamingIt) {
  for (std::string url :
       {"", "io.containerd.cgroups.v3.Metrics", "io.containerd.cgroups.v1.Metricsx",
        "io.containerd.cgroups.v1.Metrics/", "containerd.events.TaskExit",
        "type.googleapis.com/io.containerd.cgroups.v1.metrics"}) {
    SCOPED_TRACE(url);
    EXPECT_EQ(KindOf(url, ""), ErrorKind::kInvalidArgument);
  }
  try {
    InterfaceToStats(kRead, "windows.Stats", "");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"windows.Stats\""), std::string::npos) << e.what();
  }
}

TEST(InterfaceToStats, GarbageBytesAreInvalidArgumentNamingTheType) {
  // A truncated varint, a length running past the end, and an end-group tag with no group.
  for (std::string bytes : {std::string("\x08\xff\xff", 3), std::string("\x12\x10\x08\x01", 4),
                            std::string("\x0c", 1)}) {
    EXPECT_EQ(KindOf(kV1, bytes), ErrorKind::kInvalidArgument);
    EXPECT_EQ(KindOf(kV2, bytes), ErrorKind::kInvalidArgument);
  }
  try {
    InterfaceToStats(kRead, std::string("type.googleapis.com/") + kV2,
                     std::string("\x0a\x05\x08", 3));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(kV2), std::string::npos) << e.what();
  }
}

TEST(InterfaceToStats, InvalidUtf8InAStringFieldIsInvalidArgument) {
  // Metrics.hugetlb[0].pagesize = "\xc0": proto3 strings must be UTF-8, so the parse fails.
  EXPECT_EQ(KindOf(kV2, std::string("\x3a\x03\x1a\x01\xc0", 5)), ErrorKind::kInvalidArgument);
}

TEST(Summarize, V1IsDockerStatsFigures) {
  pb1::Metrics pb;
  pb.mutable_cpu()->mutable_usage()->set_total(123456789);
  auto* mem = pb.mutable_memory();
  mem->mutable_usage()->set_usage(100 << 20);
  mem->mutable_usage()->set_limit(512 << 20);
  mem->set_total_inactive_file(10 << 20);
  mem->set_inactive_file(1 << 20);  // the hierarchical total is the one docker uses
  pb.mutable_pids()->set_current(4);
  const StatsSummary s = Summarize(InterfaceToStats(kRead, kV1, Serialize(pb)));
  EXPECT_EQ(s.cpu_total_ns, 123456789u);
  EXPECT_EQ(s.memory_usage, uint64_t{90} << 20);
  EXPECT_EQ(s.memory_limit, uint64_t{512} << 20);
  EXPECT_EQ(s.pids_current, 4u);
}

TEST(Summarize, V2IsDockerStatsFigures) {
  pb2::Metrics pb;
  pb.mutable_cpu()->set_usage_usec(2500);
  pb.mutable_cpu()->set_user_usec(2000);
  auto* mem = pb.mutable_memory();
  mem->set_usage(64 << 20);
  mem->set_usage_limit(128 << 20);
  mem->set_inactive_file(4 << 20);
  pb.mutable_pids()->set_current(9);
  const StatsSummary s = Summarize(InterfaceToStats(kRead, kV2, Serialize(pb)));
  EXPECT_EQ(s.cpu_total_ns, 2500000u);
  EXPECT_EQ(s.memory_usage, uint64_t{60} << 20);
  EXPECT_EQ(s.memory_limit, uint64_t{128} << 20);
  EXPECT_EQ(s.pids_current, 9u);
}

TEST(Summarize, InactiveFileLargerThanUsageIsNotSubtracted) {
  Stats v1;
  cgroup1::Metrics m1;
  m1.memory.emplace();
  m1.memory->usage = cgroup1::MemoryEntry{.limit = 0, .usage = 1000};
  m1.memory->total_inactive_file = 5000;
  v1.metrics = m1;
  EXPECT_EQ(Summarize(v1).memory_usage, 1000u);

  Stats v2;
  cgroup2::Metrics m2;
  m2.memory.emplace();
  m2.memory->usage = 1000;
  m2.memory->inactive_file = 1000;  // equal: not subtracted either (docker's strict <)
  v2.metrics = m2;
  EXPECT_EQ(Summarize(v2).memory_usage, 1000u);
}

TEST(Summarize, MissingMessagesGiveZeros) {
  EXPECT_EQ(Summarize(Stats{}), StatsSummary{});
  EXPECT_EQ(Summarize(InterfaceToStats(kRead, kV1, "")), StatsSummary{});
  EXPECT_EQ(Summarize(InterfaceToStats(kRead, kV2, "")), StatsSummary{});
  pb1::Metrics pb;
  pb.mutable_memory()->set_total_inactive_file(7);  // memory without its usage entry
  pb.mutable_cpu();                                 // cpu without usage
  EXPECT_EQ(Summarize(InterfaceToStats(kRead, kV1, Serialize(pb))), StatsSummary{});
}

TEST(StatsToJson, TopLevelShape) {
  pb1::Metrics pb;
  pb.mutable_pids()->set_current(3);
  const json j = StatsToJson(InterfaceToStats(kRead, kV1, Serialize(pb)));
  EXPECT_EQ(j["read"], "2025-11-29T10:41:27.123456789Z");
  EXPECT_EQ(j["cgroup"], "v1");
  EXPECT_EQ(j["metrics"]["pids"]["current"], 3);
  EXPECT_TRUE(j["metrics"]["cpu"].is_null());
  EXPECT_EQ(j["metrics"]["network"], json::array());

  const json none = StatsToJson(Stats{});
  EXPECT_EQ(none["cgroup"], "none");
  EXPECT_TRUE(none["metrics"].is_null());
  EXPECT_EQ(none["read"], "1970-01-01T00:00:00.000000000Z");

  EXPECT_EQ(json::parse(StatsToJsonString(InterfaceToStats(kRead, kV1, Serialize(pb)))), j);
}

TEST(StatsToJson, LargeCountersKeepEveryBit) {
  pb2::Metrics pb;
  pb.mutable_memory()->set_usage_limit(UINT64_MAX);  // "max" in memory.max
  const json j = json::parse(StatsToJsonString(InterfaceToStats(kRead, kV2, Serialize(pb))));
  EXPECT_EQ(j["metrics"]["memory"]["usage_limit"].get<uint64_t>(), UINT64_MAX);
}

TEST(FormatRfc3339Nano, UtcWithNanosecondsAndBeforeEpoch) {
  EXPECT_EQ(FormatRfc3339Nano(SystemTime{} + std::chrono::seconds(951782400)),
            "2000-02-29T00:00:00.000000000Z");
  EXPECT_EQ(FormatRfc3339Nano(SystemTime{} - std::chrono::nanoseconds(1)),
            "1969-12-31T23:59:59.999999999Z");
}
