// Volumes through lcd-engine with the docker CLI: a named volume carries data from one container
// to the next, rm refuses a volume in use (even by a stopped container), a new volume mounted
// over an image path starts with the image's files (once), anonymous volumes go with rm -v and
// --rm, volume ls / inspect / create --label / prune (API 1.41: every unused volume) and their
// events, --mount type=volume, --volumes-from, the Mounts entry of inspect, and bad input.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine_fixture.h"

namespace {

using namespace enginetest;
using json = nlohmann::json;
namespace fs = std::filesystem;

using EngineVolumeTest = EngineTest;
using EngineVolumeApiTest = EngineApiTest;

// Fresh volume names, removed with `docker volume rm -f` at the end (declare before a Cleanup,
// so the containers go first and the volumes are no longer in use).
class VolumeCleanup {
 public:
  VolumeCleanup() = default;
  ~VolumeCleanup() {
    if (names_.empty()) return;
    std::vector<std::string> args = {"volume", "rm", "-f"};
    args.insert(args.end(), names_.begin(), names_.end());
    Docker(args, 60s);
  }
  VolumeCleanup(const VolumeCleanup&) = delete;
  VolumeCleanup& operator=(const VolumeCleanup&) = delete;
  std::string Name(const std::string& what) {
    static int counter = 0;
    names_.push_back("etvol" + std::to_string(getpid()) + "-" + what + "-" +
                     std::to_string(++counter));
    return names_.back();
  }
  void Add(const std::string& name) { names_.push_back(name); }

 private:
  std::vector<std::string> names_;
};

bool IsHex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The names of a container's volume mounts (inspect's Mounts of type volume).
std::vector<std::string> VolumeNames(const std::string& container) {
  auto i = D({"inspect", "--format", "{{json .Mounts}}", container});
  std::vector<std::string> out;
  if (i.code != 0) return out;
  json j = json::parse(Trim(i.out), nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& m : j)
    if (m.value("Type", "") == "volume") out.push_back(m.value("Name", ""));
  return out;
}

bool VolumeExists(const std::string& name) {
  return D({"volume", "inspect", "--format", "{{.Name}}", name}).code == 0;
}

std::set<std::string> LineSet(const std::string& s) {
  std::set<std::string> out;
  for (const auto& l : Lines(s))
    if (!Trim(l).empty()) out.insert(Trim(l));
  return out;
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_F(EngineVolumeTest, DataWrittenByOneContainerIsReadByTheNext) {
  VolumeCleanup v;
  Cleanup c;
  std::string vol = v.Name("carry");
  auto w = D({"run", "--rm", "-v", vol + ":/data", Busybox(), "sh", "-c", "echo x > /data/f"});
  ASSERT_EQ(w.code, 0) << w.why();
  auto r = D({"run", "--rm", "-v", vol + ":/data", Busybox(), "cat", "/data/f"});
  ASSERT_EQ(r.code, 0) << r.why();
  EXPECT_EQ(Trim(r.out), "x") << r.why();
  // The file is in the volume's directory on the host, where inspect says it is.
  auto i = D({"volume", "inspect", "--format", "{{.Mountpoint}}", vol});
  ASSERT_EQ(i.code, 0) << i.why();
  EXPECT_EQ(Trim(i.out), EngineRoot() + "/volumes/" + vol + "/_data") << i.why();
  std::ifstream f(Trim(i.out) + "/f");
  std::string line;
  EXPECT_TRUE(std::getline(f, line) && line == "x") << "no f with x in " << Trim(i.out);
}

TEST_F(EngineVolumeTest, RmOfAVolumeUsedByAStoppedContainerFailsUntilTheContainerGoes) {
  VolumeCleanup v;
  Cleanup c;
  std::string vol = v.Name("inuse");
  std::string name = c.Container("inuse");
  auto r = D({"run", "--name", name, "-v", vol + ":/data", Busybox(), "true"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto id = D({"inspect", "--format", "{{.Id}}", name});
  ASSERT_EQ(id.code, 0) << id.why();
  auto rm = D({"volume", "rm", vol});
  EXPECT_NE(rm.code, 0) << rm.why();
  EXPECT_TRUE(Contains(rm.err, "volume is in use")) << rm.why();
  EXPECT_TRUE(Contains(rm.err, Trim(id.out))) << "the error names the container: " << rm.why();
  EXPECT_TRUE(VolumeExists(vol));
  // --force does not override "in use" (as in docker).
  auto rmf = D({"volume", "rm", "-f", vol});
  EXPECT_NE(rmf.code, 0) << rmf.why();
  EXPECT_TRUE(VolumeExists(vol));
  auto crm = D({"rm", name});
  ASSERT_EQ(crm.code, 0) << crm.why();
  auto rm2 = D({"volume", "rm", vol});
  EXPECT_EQ(rm2.code, 0) << rm2.why();
  EXPECT_FALSE(VolumeExists(vol));
  EXPECT_FALSE(fs::exists(EngineRoot() + "/volumes/" + vol));
}

TEST_F(EngineVolumeTest, NewVolumeOverAnImagePathStartsWithTheImagesFilesOnce) {
  VolumeCleanup v;
  Cleanup c;
  std::string vol = v.Name("etc");
  auto r = D({"run", "--rm", "-v", vol + ":/etc", Busybox(), "sh", "-c",
              "ls /etc/passwd && grep -c '^root:' /etc/passwd && rm /etc/group"});
  ASSERT_EQ(r.code, 0) << r.why();
  EXPECT_TRUE(Contains(r.out, "/etc/passwd")) << r.why();
  const std::string data = EngineRoot() + "/volumes/" + vol + "/_data";
  EXPECT_TRUE(fs::exists(data + "/passwd")) << data;
  struct stat st {};
  ASSERT_EQ(::stat((data + "/passwd").c_str(), &st), 0) << data;
  EXPECT_EQ(st.st_uid, 0u);
  // The copy is made once: the file removed by the first container does not come back.
  auto r2 = D({"run", "--rm", "-v", vol + ":/etc", Busybox(), "sh", "-c",
               "test -e /etc/passwd && test ! -e /etc/group && echo ok"});
  ASSERT_EQ(r2.code, 0) << r2.why();
  EXPECT_EQ(Trim(r2.out), "ok") << r2.why();
  // A path the image does not have: the volume starts empty.
  std::string vol2 = v.Name("empty");
  auto r3 = D({"run", "--rm", "-v", vol2 + ":/nothere", Busybox(), "ls", "-A", "/nothere"});
  ASSERT_EQ(r3.code, 0) << r3.why();
  EXPECT_EQ(Trim(r3.out), "") << r3.why();
}

TEST_F(EngineVolumeTest, AnonymousVolumeGoesWithRmVAndWithRunRm) {
  VolumeCleanup v;
  Cleanup c;
  // docker rm -v
  std::string name = c.Container("anon");
  auto r = D({"run", "--name", name, "-v", "/data", Busybox(), "sh", "-c", "echo hi > /data/f"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto vols = VolumeNames(name);
  ASSERT_EQ(vols.size(), 1u) << "one volume mount expected on " << name;
  const std::string anon = vols[0];
  v.Add(anon);
  EXPECT_TRUE(IsHex64(anon)) << "an anonymous volume's name is 64 hex: " << anon;
  ASSERT_TRUE(VolumeExists(anon));
  auto rm = D({"rm", "-v", name});
  ASSERT_EQ(rm.code, 0) << rm.why();
  EXPECT_FALSE(VolumeExists(anon)) << "docker rm -v left the anonymous volume " << anon;

  // docker rm without -v keeps it (docker's rule).
  std::string name2 = c.Container("anonkeep");
  r = D({"run", "--name", name2, "-v", "/data", Busybox(), "true"});
  ASSERT_EQ(r.code, 0) << r.why();
  vols = VolumeNames(name2);
  ASSERT_EQ(vols.size(), 1u);
  v.Add(vols[0]);
  ASSERT_EQ(D({"rm", name2}).code, 0);
  EXPECT_TRUE(VolumeExists(vols[0])) << "docker rm (no -v) removed the anonymous volume";

  // --rm: removed with the container when it exits.
  std::string name3 = c.Container("anonrm");
  r = D({"run", "-d", "--rm", "--name", name3, "-v", "/data", Busybox(), "sleep", "100"});
  ASSERT_EQ(r.code, 0) << r.why();
  vols = VolumeNames(name3);
  ASSERT_EQ(vols.size(), 1u);
  v.Add(vols[0]);
  ASSERT_TRUE(VolumeExists(vols[0]));
  auto s = D({"stop", "-t", "1", name3});
  ASSERT_EQ(s.code, 0) << s.why();
  EXPECT_TRUE(WaitFor([&] { return !VolumeExists(vols[0]); }, 15s))
      << "--rm left the anonymous volume " << vols[0];
}

TEST_F(EngineVolumeTest, CreateLsInspectPruneAndEvents) {
  VolumeCleanup v;
  Cleanup c;
  const int64_t since = NowSeconds();
  std::string tag = "et" + std::to_string(getpid());
  std::string v1 = v.Name("lab"), v2 = v.Name("nolab");
  auto cr = D({"volume", "create", "--label", "lcdtest=" + tag, "--label", "team=a", v1});
  ASSERT_EQ(cr.code, 0) << cr.why();
  EXPECT_EQ(Trim(cr.out), v1) << cr.why();
  auto cr2 = D({"volume", "create", "--label", "lcdtest=" + tag, v2});
  ASSERT_EQ(cr2.code, 0) << cr2.why();
  // An existing name answers the existing volume (its labels unchanged).
  auto again = D({"volume", "create", "--label", "team=b", v1});
  ASSERT_EQ(again.code, 0) << again.why();

  auto i =
      D({"volume", "inspect", "--format",
         "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels.team}} {{.Mountpoint}} {{.CreatedAt}}", v1});
  ASSERT_EQ(i.code, 0) << i.why();
  std::istringstream in(Trim(i.out));
  std::string n, driver, scope, team, mountpoint, created;
  in >> n >> driver >> scope >> team >> mountpoint >> created;
  EXPECT_EQ(n, v1);
  EXPECT_EQ(driver, "local");
  EXPECT_EQ(scope, "local");
  EXPECT_EQ(team, "a") << "create of an existing name changed its labels: " << i.why();
  EXPECT_EQ(mountpoint, EngineRoot() + "/volumes/" + v1 + "/_data");
  EXPECT_EQ(created.size(), 20u) << "CreatedAt is RFC 3339 (seconds, UTC): " << created;
  EXPECT_TRUE(fs::is_directory(mountpoint));

  auto ls = D({"volume", "ls", "-q", "--filter", "label=team=a"});
  ASSERT_EQ(ls.code, 0) << ls.why();
  EXPECT_EQ(LineSet(ls.out), std::set<std::string>{v1}) << ls.why();
  auto lsn = D({"volume", "ls", "--format", "{{.Name}} {{.Driver}}", "--filter",
                "name=etvol" + std::to_string(getpid())});
  ASSERT_EQ(lsn.code, 0) << lsn.why();
  EXPECT_TRUE(LineSet(lsn.out).count(v1 + " local")) << lsn.why();
  EXPECT_TRUE(LineSet(lsn.out).count(v2 + " local")) << lsn.why();

  // v2 in use by a stopped container: not dangling, not pruned.
  std::string name = c.Container("user");
  auto run = D({"run", "--name", name, "-v", v2 + ":/d", Busybox(), "true"});
  ASSERT_EQ(run.code, 0) << run.why();
  auto dang =
      D({"volume", "ls", "-q", "--filter", "dangling=true", "--filter", "label=lcdtest=" + tag});
  ASSERT_EQ(dang.code, 0) << dang.why();
  EXPECT_EQ(LineSet(dang.out), std::set<std::string>{v1}) << dang.why();
  auto used =
      D({"volume", "ls", "-q", "--filter", "dangling=false", "--filter", "label=lcdtest=" + tag});
  ASSERT_EQ(used.code, 0) << used.why();
  EXPECT_EQ(LineSet(used.out), std::set<std::string>{v2}) << used.why();

  // API 1.41: prune takes every unused volume, named ones too (filtered to this test's here).
  auto p = D({"volume", "prune", "-f", "--filter", "label=lcdtest=" + tag});
  ASSERT_EQ(p.code, 0) << p.why();
  EXPECT_TRUE(Contains(p.out, v1)) << p.why();
  EXPECT_FALSE(Contains(p.out, v2)) << p.why();
  EXPECT_FALSE(VolumeExists(v1));
  EXPECT_TRUE(VolumeExists(v2));

  ASSERT_EQ(D({"rm", name}).code, 0);
  ASSERT_EQ(D({"volume", "rm", v2}).code, 0);
  auto e = D({"events", "--since", std::to_string(since), "--until",
              std::to_string(NowSeconds() + 1), "--filter", "type=volume", "--format",
              "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}"},
             30s);
  ASSERT_EQ(e.code, 0) << e.why();
  auto events = LineSet(e.out);
  for (const auto& want : {"create " + v1 + " local", "destroy " + v1 + " local",
                           "create " + v2 + " local", "destroy " + v2 + " local"})
    EXPECT_TRUE(events.count(want)) << "no event \"" << want << "\": " << e.why();
}

TEST_F(EngineVolumeTest, MountFlagTypeVolumeReadWriteAndReadOnly) {
  VolumeCleanup v;
  Cleanup c;
  std::string vol = v.Name("mnt");
  auto w = D({"run", "--rm", "--mount", "type=volume,src=" + vol + ",dst=/x", Busybox(), "sh", "-c",
              "echo m > /x/f"});
  ASSERT_EQ(w.code, 0) << w.why();
  auto r = D({"run", "--rm", "-v", vol + ":/y", Busybox(), "cat", "/y/f"});
  ASSERT_EQ(r.code, 0) << r.why();
  EXPECT_EQ(Trim(r.out), "m") << r.why();
  auto ro = D({"run", "--rm", "--mount", "type=volume,src=" + vol + ",dst=/x,readonly", Busybox(),
               "sh", "-c", "echo n > /x/f"});
  EXPECT_NE(ro.code, 0) << "a write to a read-only volume worked: " << ro.why();
  EXPECT_TRUE(Contains(ro.err, "Read-only file system") || Contains(ro.out, "Read-only"))
      << ro.why();
  auto r2 = D({"run", "--rm", "-v", vol + ":/y:ro", Busybox(), "cat", "/y/f"});
  EXPECT_EQ(Trim(r2.out), "m") << r2.why();
}

TEST_F(EngineVolumeTest, VolumesFromSharesNamedAndAnonymousVolumes) {
  VolumeCleanup v;
  Cleanup c;
  std::string vol = v.Name("from");
  std::string src = c.Container("src");
  auto r = D({"run", "--name", src, "-v", vol + ":/shared", "-v", "/anon", Busybox(), "sh", "-c",
              "echo a > /shared/f && echo b > /anon/g"});
  ASSERT_EQ(r.code, 0) << r.why();
  for (const auto& n : VolumeNames(src)) v.Add(n);
  auto rd = D({"run", "--rm", "--volumes-from", src, Busybox(), "cat", "/shared/f", "/anon/g"});
  ASSERT_EQ(rd.code, 0) << rd.why();
  EXPECT_EQ(Lines(Trim(rd.out)), (std::vector<std::string>{"a", "b"})) << rd.why();
  // :ro makes them read-only in the new container.
  auto ro = D(
      {"run", "--rm", "--volumes-from", src + ":ro", Busybox(), "sh", "-c", "echo z > /shared/f"});
  EXPECT_NE(ro.code, 0) << ro.why();
  // The borrowing container's --rm does not take the other container's anonymous volume.
  auto vols = VolumeNames(src);
  for (const auto& n : vols) EXPECT_TRUE(VolumeExists(n)) << n;
}

TEST_F(EngineVolumeTest, InspectShowsTheVolumeMount) {
  VolumeCleanup v;
  Cleanup c;
  std::string vol = v.Name("insp");
  std::string name = c.Container("insp");
  auto r = D({"create", "--name", name, "-v", vol + ":/data:ro", Busybox(), "true"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto i = D({"inspect", "--format", "{{json .Mounts}}", name});
  ASSERT_EQ(i.code, 0) << i.why();
  json mounts = json::parse(Trim(i.out), nullptr, false);
  ASSERT_TRUE(mounts.is_array()) << i.why();
  bool found = false;
  for (const auto& m : mounts) {
    if (m.value("Type", "") != "volume") continue;
    found = true;
    EXPECT_EQ(m.value("Name", ""), vol) << m.dump();
    EXPECT_EQ(m.value("Destination", ""), "/data") << m.dump();
    EXPECT_EQ(m.value("Source", ""), EngineRoot() + "/volumes/" + vol + "/_data") << m.dump();
    EXPECT_EQ(m.value("Driver", ""), "local") << m.dump();
    EXPECT_FALSE(m.value("RW", true)) << m.dump();
  }
  EXPECT_TRUE(found) << "no Mounts entry of type volume: " << i.why();
  // docker create made the named volume (first use).
  EXPECT_TRUE(VolumeExists(vol));
}

TEST_F(EngineVolumeTest, BadVolumeNamesAndDestinationsAreRefused) {
  VolumeCleanup v;
  Cleanup c;
  auto bad = D({"run", "--rm", "-v", "a@b:/x", Busybox(), "true"});
  EXPECT_NE(bad.code, 0) << bad.why();
  EXPECT_TRUE(Contains(bad.err, "a@b")) << "the error names the volume: " << bad.why();
  EXPECT_FALSE(VolumeExists("a@b"));
  auto create = D({"volume", "create", "bad/name"});
  EXPECT_NE(create.code, 0) << create.why();
  EXPECT_TRUE(Contains(create.err, "invalid volume name")) << create.why();
  auto one = D({"volume", "create", "x"});
  EXPECT_NE(one.code, 0) << "a one-character name is not a local volume name: " << one.why();
  auto drv = D({"volume", "create", "-d", "nfsdriver", v.Name("drv")});
  EXPECT_NE(drv.code, 0) << drv.why();
  EXPECT_TRUE(Contains(drv.err, "nfsdriver")) << drv.why();
  auto opt = D({"volume", "create", "-o", "size=10m", v.Name("opt")});
  EXPECT_NE(opt.code, 0) << opt.why();
  EXPECT_TRUE(Contains(opt.err, "size")) << opt.why();
  std::string vol = v.Name("root");
  auto root = D({"run", "--rm", "--mount", "type=volume,src=" + vol + ",dst=/", Busybox(), "true"});
  EXPECT_NE(root.code, 0) << root.why();
  EXPECT_TRUE(Contains(root.err, "root")) << root.why();
}

TEST_F(EngineVolumeApiTest, InspectAndRmOfAMissingVolumeSayNoSuchVolume) {
  auto i = D({"volume", "inspect", "etvol-nosuch"});
  EXPECT_EQ(i.code, 1) << i.why();
  EXPECT_TRUE(Contains(i.err, "no such volume")) << i.why();
  auto rm = D({"volume", "rm", "etvol-nosuch"});
  EXPECT_NE(rm.code, 0) << rm.why();
  EXPECT_TRUE(Contains(rm.err, "no such volume")) << rm.why();
  auto rmf = D({"volume", "rm", "-f", "etvol-nosuch"});
  EXPECT_EQ(rmf.code, 0) << "rm -f of a missing volume is not an error: " << rmf.why();
  // docker inspect (any object) relies on the 404.
  auto any = D({"inspect", "--type", "volume", "etvol-nosuch"});
  EXPECT_NE(any.code, 0) << any.why();
  EXPECT_TRUE(Contains(any.err, "No such") || Contains(any.err, "no such")) << any.why();
}

}  // namespace
