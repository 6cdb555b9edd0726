// docker cp against lcd-engine (HEAD/GET/PUT /containers/{id}/archive): a file and a directory
// tree into a running and a stopped container and back out (content and modes compared), a bind
// mount of a stopped container, a tar on stdin, docker's error for a missing file, and the
// container's root as the boundary: "../" paths, symlinks to /etc/passwd and symlinks aiming at
// host directories all resolve inside the container, and tar entries with ".." are refused.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine_fixture.h"

namespace {

using namespace enginetest;
namespace fs = std::filesystem;

using EngineCpTest = EngineTest;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  std::ofstream(path, std::ios::binary) << content;
  ::chmod(path.c_str(), mode);
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Runs tar (no shell); its exit code, *out its stdout.
int RunTar(const std::vector<std::string>& argv, std::string* out) {
  auto r = lcdtest::Exec(argv);
  *out = r.out;
  if (r.code != 0) ADD_FAILURE() << lcdtest::Describe(argv, r);
  return r.code;
}

// A host scratch directory removed at the end.
class HostDir {
 public:
  HostDir() {
    std::string t = "/tmp/lcd-cptest-XXXXXX";
    if (::mkdtemp(t.data())) path_ = t;
  }
  ~HostDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// The host's tree under `src`: a file (0640) and a tree with a script (0755), a private file
// (0600), an empty directory (0700) and a relative symlink.
void MakeSources(const HostDir& h) {
  WriteFile(h / "a.txt", "file a\nline two\n", 0640);
  fs::create_directories(h / "tree/sub/empty");
  ::chmod((h / "tree/sub/empty").c_str(), 0700);
  WriteFile(h / "tree/sub/run.sh", "#!/bin/sh\necho run\n", 0755);
  WriteFile(h / "tree/secret", "s3cret", 0600);
  fs::create_symlink("sub/run.sh", h / "tree/link");
}

// Compares the tree copied back (`got`) with the source.
void ExpectSameTree(const std::string& src, const std::string& got) {
  ASSERT_TRUE(fs::is_directory(got)) << got << " is not a directory";
  EXPECT_EQ(ReadFile(got + "/sub/run.sh"), ReadFile(src + "/sub/run.sh"));
  EXPECT_EQ(ModeOf(got + "/sub/run.sh"), 0755u);
  EXPECT_EQ(ReadFile(got + "/secret"), "s3cret");
  EXPECT_EQ(ModeOf(got + "/secret"), 0600u);
  EXPECT_TRUE(fs::is_directory(got + "/sub/empty"));
  EXPECT_EQ(ModeOf(got + "/sub/empty"), 0700u);
  ASSERT_TRUE(fs::is_symlink(got + "/link"));
  EXPECT_EQ(fs::read_symlink(got + "/link").string(), "sub/run.sh");
}

// Copies the sources into container `name` (running or not), checks what `check` (a command run
// in the container, or nothing) sees, and copies them back out.
void RoundTrip(const std::string& name, const HostDir& src, const HostDir& out) {
  auto f = D({"cp", src / "a.txt", name + ":/tmp/"});
  ASSERT_EQ(f.code, 0) << f.why();
  auto t = D({"cp", src / "tree", name + ":/tmp/tree"});
  ASSERT_EQ(t.code, 0) << t.why();

  // Out again: the file under a new name, the tree into a directory that does not exist yet and
  // its contents ("/.") into one that does.
  auto fo = D({"cp", name + ":/tmp/a.txt", out / "a-back.txt"});
  ASSERT_EQ(fo.code, 0) << fo.why();
  EXPECT_EQ(ReadFile(out / "a-back.txt"), "file a\nline two\n");
  EXPECT_EQ(ModeOf(out / "a-back.txt"), 0640u);
  auto to = D({"cp", name + ":/tmp/tree", out / "tree-back"});
  ASSERT_EQ(to.code, 0) << to.why();
  ExpectSameTree(src / "tree", out / "tree-back");
  fs::create_directories(out / "contents");
  auto co = D({"cp", name + ":/tmp/tree/.", out / "contents"});
  ASSERT_EQ(co.code, 0) << co.why();
  ExpectSameTree(src / "tree", out / "contents");
  // A directory into an existing one lands under its own name.
  auto into = D({"cp", name + ":/tmp/tree", out / "contents"});
  ASSERT_EQ(into.code, 0) << into.why();
  ExpectSameTree(src / "tree", out / "contents/tree");
}

TEST_F(EngineCpTest, CpFileAndTreeIntoARunningContainerAndBack) {
  Cleanup c;
  HostDir src, out;
  ASSERT_FALSE(src.path().empty() || out.path().empty());
  MakeSources(src);
  std::string name = c.Container("cprun");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sleep", "300"});
  ASSERT_EQ(r.code, 0) << r.why();
  RoundTrip(name, src, out);
  if (HasFailure()) return;
  // The container sees the files with their modes, owned by root (docker cp without -a).
  auto e = D({"exec", name, "sh", "-c",
              "cat /tmp/a.txt; stat -c '%a %u:%g %n' /tmp/a.txt /tmp/tree/sub/run.sh "
              "/tmp/tree/secret; /tmp/tree/sub/run.sh"});
  ASSERT_EQ(e.code, 0) << e.why();
  EXPECT_EQ(e.out,
            "file a\nline two\n640 0:0 /tmp/a.txt\n755 0:0 /tmp/tree/sub/run.sh\n"
            "600 0:0 /tmp/tree/secret\nrun\n")
      << e.why();
}

TEST_F(EngineCpTest, CpIntoAStoppedContainerItsBindAndBackOut) {
  Cleanup c;
  HostDir src, out, bind;
  ASSERT_FALSE(src.path().empty() || out.path().empty() || bind.path().empty());
  MakeSources(src);
  WriteFile(bind / "from-host", "host side\n", 0644);
  std::string name = c.Container("cpstopped");
  auto r = D({"create", "--name", name, "-v", bind.path() + ":/data", Busybox(), "sh", "-c",
              "cat /tmp/a.txt /tmp/tree/secret /data/dropped; ls /data"});
  ASSERT_EQ(r.code, 0) << r.why();
  RoundTrip(name, src, out);
  if (HasFailure()) return;
  // A path under the bind goes to the host directory, as docker mounts it for cp.
  WriteFile(src / "dropped", "into the bind\n", 0644);
  auto b = D({"cp", src / "dropped", name + ":/data/dropped"});
  ASSERT_EQ(b.code, 0) << b.why();
  EXPECT_EQ(ReadFile(bind / "dropped"), "into the bind\n");
  auto bo = D({"cp", name + ":/data/from-host", out / "from-host"});
  ASSERT_EQ(bo.code, 0) << bo.why();
  EXPECT_EQ(ReadFile(out / "from-host"), "host side\n");
  // The files copied into the stopped container are in its layer when it runs.
  auto s = D({"start", "-a", name});
  ASSERT_EQ(s.code, 0) << s.why();
  EXPECT_EQ(s.out, "file a\nline two\ns3cretinto the bind\ndropped\nfrom-host\n") << s.why();
  // And after it exited (stopped again): its own writes are read back.
  auto x = D({"cp", name + ":/tmp/tree/sub/run.sh", out / "run-exited.sh"});
  ASSERT_EQ(x.code, 0) << x.why();
  EXPECT_EQ(ReadFile(out / "run-exited.sh"), "#!/bin/sh\necho run\n");
}

TEST_F(EngineCpTest, CpOfAMissingFileFailsWithDockersMessage) {
  Cleanup c;
  HostDir out;
  std::string name = c.Container("cpmissing");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sleep", "300"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto m = D({"cp", name + ":/nonexistent", out.path()});
  EXPECT_NE(m.code, 0) << m.why();
  EXPECT_TRUE(Contains(m.err, "Could not find the file /nonexistent in container " + name))
      << m.why();
  EXPECT_TRUE(fs::is_empty(out.path()));
  // Into a directory that does not exist: docker's message too.
  HostDir src;
  WriteFile(src / "f", "x", 0644);
  auto p = D({"cp", src / "f", name + ":/no/such/dir/"});
  EXPECT_NE(p.code, 0) << p.why();
  EXPECT_TRUE(Contains(p.err, "no such directory")) << p.why();
  // Into a path that is a file: the extraction point must be a directory.
  std::string tar;
  ASSERT_EQ(RunTar({"tar", "-C", src.path(), "-cf", "-", "f"}, &tar), 0);
  std::string put = HttpUnix(EngineSocket(), "PUT /v1.41/containers/" + name +
                                                 "/archive?path=/etc/passwd HTTP/1.1\r\n"
                                                 "Host: docker\r\nConnection: close\r\n"
                                                 "Content-Type: application/x-tar\r\n"
                                                 "Content-Length: " +
                                                 std::to_string(tar.size()) + "\r\n\r\n" + tar);
  EXPECT_EQ(HttpStatus(put), 400) << put;
  EXPECT_TRUE(Contains(put, "extraction point is not a directory")) << put;
  // HEAD: the stat header only (base64 JSON), 404 for a missing path.
  std::string head = HttpUnix(EngineSocket(), "HEAD /v1.41/containers/" + name +
                                                  "/archive?path=/etc HTTP/1.1\r\n"
                                                  "Host: docker\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(HttpStatus(head), 200) << head;
  EXPECT_TRUE(Contains(head, "X-Docker-Container-Path-Stat: ")) << head;
  std::string missing = HttpUnix(EngineSocket(), "HEAD /v1.41/containers/" + name +
                                                     "/archive?path=/nope HTTP/1.1\r\n"
                                                     "Host: docker\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(HttpStatus(missing), 404) << missing;
}

TEST_F(EngineCpTest, DotDotPathsAndSymlinksResolveInsideTheContainer) {
  Cleanup c;
  HostDir out, host_target;
  ASSERT_FALSE(out.path().empty() || host_target.path().empty());
  std::string name = c.Container("cpescape");
  // /tmp/pw -> /etc/passwd, /tmp/up -> "/" and /tmp/hostdir -> the host directory's absolute
  // path (through "../.." to try to climb out).
  auto r = D({"run", "-d", "--name", name, Busybox(), "sh", "-c",
              "ln -s /etc/passwd /tmp/pw && ln -s / /tmp/up && ln -s ../../../../.." +
                  host_target.path() + " /tmp/hostdir && sleep 300"});
  ASSERT_EQ(r.code, 0) << r.why();
  ASSERT_TRUE(WaitFor(
      [&] {
        return D({"exec", name, "test", "-L", "/tmp/hostdir"}).code == 0;
      },
      10s));
  auto inside = D({"exec", name, "cat", "/etc/passwd"});
  ASSERT_EQ(inside.code, 0) << inside.why();
  ASSERT_NE(inside.out, ReadFile("/etc/passwd")) << "the container's /etc/passwd is the host's";

  auto dd = D({"cp", name + ":../../../../etc/passwd", out / "dotdot"});
  ASSERT_EQ(dd.code, 0) << dd.why();
  EXPECT_EQ(ReadFile(out / "dotdot"), inside.out);

  auto l = D({"cp", "-L", name + ":/tmp/pw", out / "followed"});
  ASSERT_EQ(l.code, 0) << l.why();
  EXPECT_EQ(ReadFile(out / "followed"), inside.out);
  auto nl = D({"cp", name + ":/tmp/pw", out / "link"});
  ASSERT_EQ(nl.code, 0) << nl.why();
  ASSERT_TRUE(fs::is_symlink(out / "link"));
  EXPECT_EQ(fs::read_symlink(out / "link").string(), "/etc/passwd");
  auto up = D({"cp", name + ":/tmp/up/../../etc/passwd", out / "via-root-link"});
  ASSERT_EQ(up.code, 0) << up.why();
  EXPECT_EQ(ReadFile(out / "via-root-link"), inside.out);

  // Writing through a link aimed at a host directory stays in the container.
  HostDir src;
  WriteFile(src / "planted", "should not reach the host\n", 0644);
  auto w = D({"cp", src / "planted", name + ":/tmp/hostdir/"});
  EXPECT_NE(w.code, 0) << w.why();
  auto w2 = D({"cp", src / "planted", name + ":/tmp/up/../../../tmp/planted"});
  EXPECT_EQ(w2.code, 0) << w2.why();
  EXPECT_TRUE(fs::is_empty(host_target.path())) << "a file reached the host's directory";
  auto seen = D({"exec", name, "cat", "/tmp/planted"});
  EXPECT_EQ(seen.out, "should not reach the host\n") << seen.why();

  // A tar entry with ".." is refused, naming it.
  HostDir t;
  fs::create_directories(t / "a");
  WriteFile(t / "evil", "evil\n", 0644);
  std::string tar;
  ASSERT_EQ(RunTar({"tar", "-P", "-C", t / "a", "-cf", "-", "../evil"}, &tar), 0);
  auto bad = Docker({"cp", "-", name + ":/tmp"}, 60s, &tar);
  EXPECT_NE(bad.code, 0) << Why({"cp", "-", name + ":/tmp"}, bad);
  EXPECT_TRUE(Contains(bad.err, "../evil")) << Why({"cp", "-", name + ":/tmp"}, bad);
  EXPECT_NE(D({"exec", name, "test", "-e", "/evil"}).code, 0) << "/evil was written";
}

TEST_F(EngineCpTest, CpOfATarOnStdin) {
  Cleanup c;
  HostDir t;
  fs::create_directories(t / "d/deeper");
  WriteFile(t / "d/deeper/x", "xx\n", 0604);
  WriteFile(t / "top", "top\n", 0751);
  std::string tar;
  ASSERT_EQ(RunTar({"tar", "-C", t.path(), "-czf", "-", "d", "top"}, &tar), 0);
  std::string name = c.Container("cpstdin");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sleep", "300"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto in = Docker({"cp", "-", name + ":/tmp"}, 60s, &tar);
  ASSERT_EQ(in.code, 0) << Why({"cp", "-", name + ":/tmp"}, in);
  auto e = D({"exec", name, "sh", "-c", "cat /tmp/d/deeper/x /tmp/top; stat -c '%a %n' /tmp/top"});
  ASSERT_EQ(e.code, 0) << e.why();
  EXPECT_EQ(e.out, "xx\ntop\n751 /tmp/top\n") << e.why();
  // Out to stdout: a tar named as docker names it.
  auto o = D({"cp", name + ":/tmp/d", "-"});
  ASSERT_EQ(o.code, 0) << o.why();
  EXPECT_TRUE(Contains(o.out, "d/deeper/x")) << "entry names of the tar";
}

}  // namespace
