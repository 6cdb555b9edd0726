// cgroup v2 fields that containerd's cgroups added after the proto the library is built from
// (PSI of cpu, memory and io; memory and swap peak usage) arrive in the value types. The
// payloads are encoded here by hand, as a newer containerd sends them (cgroups' metrics.proto:
// CPUStat.psi = 7, MemoryStat.max_usage = 36, swap_max_usage = 37, psi = 38, IOStat.psi = 2).
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cstdint>
#include <string>

#include "libcontainerd/stats.h"

namespace libcontainerd {
namespace {

const std::string kV2 = "io.containerd.cgroups.v2.Metrics";
const SystemTime kRead{std::chrono::seconds(1700000000)};

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Tag(int number, int wire_type) {
  return Varint((static_cast<uint64_t>(number) << 3) | static_cast<uint64_t>(wire_type));
}
std::string U64(int number, uint64_t v) { return Tag(number, 0) + Varint(v); }
std::string F64(int number, double d) {
  std::string out = Tag(number, 1);
  uint64_t bits = std::bit_cast<uint64_t>(d);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  return out;
}
std::string Msg(int number, const std::string& body) {
  return Tag(number, 2) + Varint(body.size()) + body;
}
std::string PSIData(double a10, double a60, double a300, uint64_t total) {
  return F64(1, a10) + F64(2, a60) + F64(3, a300) + U64(4, total);
}

TEST(InterfaceToStatsV2, PressureAndPeakUsageArrive) {
  const std::string cpu = U64(1, 100) + Msg(7, Msg(1, PSIData(1.5, 2.5, 3.5, 42)) +
                                                   Msg(2, PSIData(0.25, 0.5, 0.75, 7)));
  const std::string memory =
      U64(32, 4096) + U64(36, 8192) + U64(37, 1024) + Msg(38, Msg(1, PSIData(9, 8, 7, 6)));
  const std::string io = Msg(1, U64(1, 8) + U64(3, 512)) + Msg(2, Msg(2, PSIData(4, 5, 6, 77)));
  const Stats st = InterfaceToStats(kRead, kV2, Msg(2, cpu) + Msg(4, memory) + Msg(6, io));
  const cgroup2::Metrics* m = st.v2();
  ASSERT_NE(m, nullptr);

  ASSERT_TRUE(m->cpu);
  EXPECT_EQ(m->cpu->usage_usec, 100u);
  ASSERT_TRUE(m->cpu->psi);
  EXPECT_EQ(m->cpu->psi->some, (cgroup2::PSIData{1.5, 2.5, 3.5, 42}));
  EXPECT_EQ(m->cpu->psi->full, (cgroup2::PSIData{0.25, 0.5, 0.75, 7}));

  ASSERT_TRUE(m->memory);
  EXPECT_EQ(m->memory->usage, 4096u);
  EXPECT_EQ(m->memory->max_usage, 8192u);
  EXPECT_EQ(m->memory->swap_max_usage, 1024u);
  ASSERT_TRUE(m->memory->psi);
  EXPECT_EQ(m->memory->psi->some, (cgroup2::PSIData{9, 8, 7, 6}));
  EXPECT_FALSE(m->memory->psi->full);  // not sent: absent, not zero

  ASSERT_TRUE(m->io);
  ASSERT_EQ(m->io->usage.size(), 1u);
  EXPECT_EQ(m->io->usage[0].major, 8u);
  EXPECT_EQ(m->io->usage[0].rbytes, 512u);
  ASSERT_TRUE(m->io->psi);
  EXPECT_FALSE(m->io->psi->some);
  EXPECT_EQ(m->io->psi->full, (cgroup2::PSIData{4, 5, 6, 77}));
}

TEST(InterfaceToStatsV2, OlderDaemonSendsNoPressure) {
  const Stats st = InterfaceToStats(kRead, kV2, Msg(2, U64(1, 5)) + Msg(4, U64(32, 1)));
  ASSERT_NE(st.v2(), nullptr);
  EXPECT_FALSE(st.v2()->cpu->psi);
  EXPECT_FALSE(st.v2()->memory->psi);
  EXPECT_EQ(st.v2()->memory->max_usage, 0u);
}

TEST(InterfaceToStatsV2, JsonCarriesPressureAndPeaks) {
  const std::string memory = U64(36, 8192) + U64(37, 1024) + Msg(38, Msg(1, PSIData(9, 8, 7, 6)));
  const std::string json = StatsToJsonString(InterfaceToStats(kRead, kV2, Msg(4, memory)));
  EXPECT_NE(json.find("\"max_usage\":8192"), std::string::npos) << json;
  EXPECT_NE(json.find("\"swap_max_usage\":1024"), std::string::npos) << json;
  EXPECT_NE(json.find("\"psi\":{\"full\":null,\"some\":{\"avg10\":9.0,\"avg300\":7.0,\"avg60\":8.0,"
                      "\"total\":6}}"),
            std::string::npos)
      << json;
}

}  // namespace
}  // namespace libcontainerd
