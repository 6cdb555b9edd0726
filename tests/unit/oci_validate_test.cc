// Validation: each rule rejects a bad value with "<json.path>: <rule>" and accepts a good one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "libcontainerd/errors.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/spec.h"

using namespace libcontainerd;
using namespace libcontainerd::oci;

namespace {

Spec Base() {
  SpecOptions o;
  o.args = {"sh"};
  o.rootfs = "/nonexistent-rootfs";  // not read: no user names involved
  o.hostname = "h";
  o.id = "c1";
  Spec s = DefaultSpec(o);
  s.linux->resources->memory = LinuxMemory{.limit = 1 << 26};
  s.linux->resources->cpu = LinuxCPU{.shares = 1024, .quota = 50000, .period = 100000};
  s.linux->resources->pids = LinuxPids{.limit = 100};
  return s;
}

struct Rule {
  const char* name;
  std::function<void(Spec&)> bad;
  std::function<void(Spec&)> good;
  std::string message;  // exact message of the violation
};

std::vector<Rule> Rules() {
  return {
      {"oci version required", [](Spec& s) { s.oci_version = ""; },
       [](Spec& s) { s.oci_version = "1.0.2"; }, "ociVersion: is required"},
      {"oci version 1.x", [](Spec& s) { s.oci_version = "2.0"; },
       [](Spec& s) { s.oci_version = "1.1.0"; }, "ociVersion: must be a 1.x version, got \"2.0\""},
      {"root required", [](Spec& s) { s.root.reset(); },
       [](Spec& s) { s.root = Root{.path = "r"}; }, "root: is required"},
      {"root path required", [](Spec& s) { s.root->path = ""; },
       [](Spec& s) { s.root->path = "rootfs"; }, "root.path: is required"},
      {"process required", [](Spec& s) { s.process.reset(); }, [](Spec&) {},
       "process: is required to run a container"},
      {"args required", [](Spec& s) { s.process->args.clear(); },
       [](Spec& s) { s.process->args = {"/bin/true"}; },
       "process.args: must not be empty (the command to run)"},
      {"cwd absolute", [](Spec& s) { s.process->cwd = "tmp"; },
       [](Spec& s) { s.process->cwd = "/tmp"; }, "process.cwd: must be an absolute path"},
      {"env KEY=value", [](Spec& s) { s.process->env.push_back("NOVALUE"); },
       [](Spec& s) { s.process->env.push_back("EMPTY="); }, "process.env[1]: must be KEY=value"},
      {"umask range", [](Spec& s) { s.process->user.umask = 01000; },
       [](Spec& s) { s.process->user.umask = 0777; }, "process.user.umask: must be <= 0777"},
      {"capability names", [](Spec& s) { s.process->capabilities->effective.push_back("CAP_FLY"); },
       [](Spec& s) { s.process->capabilities->effective.push_back("CAP_SYS_ADMIN"); },
       "process.capabilities.effective[14]: unknown capability \"CAP_FLY\" (names are like "
       "CAP_NET_ADMIN)"},
      {"rlimit names", [](Spec& s) { s.process->rlimits[0].type = "NOFILE"; },
       [](Spec& s) { s.process->rlimits[0].type = "RLIMIT_NPROC"; },
       "process.rlimits[0].type: unknown rlimit \"NOFILE\" (names are like RLIMIT_NOFILE)"},
      {"rlimit duplicates", [](Spec& s) { s.process->rlimits.push_back(s.process->rlimits[0]); },
       [](Spec& s) { s.process->rlimits.push_back({.type = "RLIMIT_CORE"}); },
       "process.rlimits[1].type: duplicate rlimit RLIMIT_NOFILE"},
      {"rlimit soft <= hard", [](Spec& s) { s.process->rlimits[0].soft = 2048; },
       [](Spec& s) { s.process->rlimits[0].soft = 1024; },
       "process.rlimits[0].soft: must be <= hard"},
      {"oom score range", [](Spec& s) { s.process->oom_score_adj = 1001; },
       [](Spec& s) { s.process->oom_score_adj = -1000; },
       "process.oomScoreAdj: must be in -1000..1000"},
      {"console size needs terminal",
       [](Spec& s) {
         s.process->console_size = Box{24, 80};
       },
       [](Spec& s) {
         s.process->console_size = Box{24, 80};
         s.process->terminal = true;
       },
       "process.consoleSize: needs terminal: true"},
      {"mount destination absolute",
       [](Spec& s) { s.mounts.push_back({.destination = "data", .type = "tmpfs"}); },
       [](Spec& s) { s.mounts.push_back({.destination = "/data", .type = "tmpfs"}); },
       "mounts[8].destination: must be an absolute path"},
      {"bind mount source",
       [](Spec& s) { s.mounts.push_back({.destination = "/d", .options = {"rbind"}}); },
       [](Spec& s) {
         s.mounts.push_back({.destination = "/d", .source = "/tmp", .options = {"rbind"}});
       },
       "mounts[8].source: is required for a bind mount"},
      {"hook path absolute", [](Spec& s) { s.hooks = Hooks{.poststop = {{.path = "hook"}}}; },
       [](Spec& s) { s.hooks = Hooks{.poststop = {{.path = "/bin/hook"}}}; },
       "hooks.poststop[0].path: must be an absolute path"},
      {"hook timeout", [](Spec& s) { s.hooks = Hooks{.prestart = {{.path = "/h", .timeout = 0}}}; },
       [](Spec& s) { s.hooks = Hooks{.prestart = {{.path = "/h", .timeout = 5}}}; },
       "hooks.prestart[0].timeout: must be > 0 seconds"},
      {"linux required", [](Spec& s) { s.linux.reset(); }, [](Spec&) {},
       "linux: is required for a Linux container"},
      {"namespace types", [](Spec& s) { s.linux->namespaces.push_back({.type = "time"}); },
       [](Spec& s) { s.linux->namespaces.push_back({.type = "cgroup"}); },
       "linux.namespaces[5].type: unknown namespace type \"time\" (pid, network, mount, ipc, uts, "
       "user, cgroup)"},
      {"duplicate namespaces", [](Spec& s) { s.linux->namespaces.push_back({.type = "pid"}); },
       [](Spec& s) { s.linux->namespaces.push_back({.type = "user"}); },
       "linux.namespaces[5].type: duplicate namespace pid"},
      {"namespace path absolute", [](Spec& s) { s.linux->namespaces[4].path = "proc/1/ns/net"; },
       [](Spec& s) { s.linux->namespaces[4].path = "/proc/1/ns/net"; },
       "linux.namespaces[4].path: must be an absolute path"},
      {"mappings need userns",
       [](Spec& s) {
         s.linux->uid_mappings = {{0, 1000, 1}};
       },
       [](Spec& s) {
         s.linux->uid_mappings = {{0, 1000, 1}};
         s.linux->namespaces.push_back({.type = "user"});
       },
       "linux.uidMappings: needs a user namespace in linux.namespaces"},
      {"mapping container ranges overlap",
       [](Spec& s) {
         s.linux->namespaces.push_back({.type = "user"});
         s.linux->uid_mappings = {{0, 1000, 10}, {5, 5000, 10}};
       },
       [](Spec& s) {
         s.linux->namespaces.push_back({.type = "user"});
         s.linux->uid_mappings = {{0, 1000, 10}, {10, 5000, 10}};
       },
       "linux.uidMappings[1]: container ids overlap mapping 0"},
      {"mapping host ranges overlap",
       [](Spec& s) {
         s.linux->namespaces.push_back({.type = "user"});
         s.linux->gid_mappings = {{0, 1000, 10}, {100, 1009, 1}};
       },
       [](Spec& s) {
         s.linux->namespaces.push_back({.type = "user"});
         s.linux->gid_mappings = {{0, 1000, 10}, {100, 1010, 1}};
       },
       "linux.gidMappings[1]: host ids overlap mapping 0"},
      {"mapping size",
       [](Spec& s) {
         s.linux->namespaces.push_back({.type = "user"});
         s.linux->uid_mappings = {{0, 1000, 0}};
       },
       [](Spec& s) {
         s.linux->namespaces.push_back({.type = "user"});
         s.linux->uid_mappings = {{0, 1000, 65536}};
       },
       "linux.uidMappings[0].size: must be > 0"},
      {"hostname needs uts",
       [](Spec& s) { std::erase_if(s.linux->namespaces, [](auto& n) { return n.type == "uts"; }); },
       [](Spec& s) {
         std::erase_if(s.linux->namespaces, [](auto& n) { return n.type == "uts"; });
         s.hostname.clear();
       },
       "hostname: needs a uts namespace in linux.namespaces"},
      {"cgroups path form", [](Spec& s) { s.linux->cgroups_path = "a:b"; },
       [](Spec& s) { s.linux->cgroups_path = "system.slice:lcd:c1"; },
       "linux.cgroupsPath: must be a path or slice:prefix:name"},
      {"cgroups path no dotdot", [](Spec& s) { s.linux->cgroups_path = "/default/../../etc"; },
       [](Spec& s) { s.linux->cgroups_path = "/default/..c1"; },
       "linux.cgroupsPath: must not contain \"..\""},
      {"memory limit", [](Spec& s) { s.linux->resources->memory->limit = 0; },
       [](Spec& s) { s.linux->resources->memory->limit = -1; },
       "linux.resources.memory.limit: must be > 0 or -1"},
      {"memory swap >= limit", [](Spec& s) { s.linux->resources->memory->swap = 1 << 20; },
       [](Spec& s) { s.linux->resources->memory->swap = 1 << 27; },
       "linux.resources.memory.swap: must be >= limit (it is memory + swap) or -1"},
      {"swappiness", [](Spec& s) { s.linux->resources->memory->swappiness = 101; },
       [](Spec& s) { s.linux->resources->memory->swappiness = 0; },
       "linux.resources.memory.swappiness: must be 0..100"},
      {"cpu quota", [](Spec& s) { s.linux->resources->cpu->quota = 10; },
       [](Spec& s) { s.linux->resources->cpu->quota = -1; },
       "linux.resources.cpu.quota: must be >= 1000 (microseconds) or -1"},
      {"cpu period", [](Spec& s) { s.linux->resources->cpu->period = 2000000; },
       [](Spec& s) { s.linux->resources->cpu->period = 1000000; },
       "linux.resources.cpu.period: must be 1000..1000000 (microseconds)"},
      {"cpu shares", [](Spec& s) { s.linux->resources->cpu->shares = 1; },
       [](Spec& s) { s.linux->resources->cpu->shares = 2; },
       "linux.resources.cpu.shares: must be 2..262144"},
      {"cpuset", [](Spec& s) { s.linux->resources->cpu->cpus = "all"; },
       [](Spec& s) { s.linux->resources->cpu->cpus = "0-1,3"; },
       "linux.resources.cpu.cpus: must be a CPU list like 0-3,5"},
      {"pids limit", [](Spec& s) { s.linux->resources->pids->limit = 0; },
       [](Spec& s) { s.linux->resources->pids->limit = -1; },
       "linux.resources.pids.limit: must be > 0 or -1"},
      {"device rule type", [](Spec& s) { s.linux->resources->devices[1].type = "x"; },
       [](Spec& s) { s.linux->resources->devices[1].type = "b"; },
       "linux.resources.devices[1].type: must be a, c or b"},
      {"device rule access", [](Spec& s) { s.linux->resources->devices[1].access = "rwx"; },
       [](Spec& s) { s.linux->resources->devices[1].access = "r"; },
       "linux.resources.devices[1].access: must be a combination of r, w and m"},
      {"blkio weight", [](Spec& s) { s.linux->resources->block_io = LinuxBlockIO{.weight = 5}; },
       [](Spec& s) { s.linux->resources->block_io = LinuxBlockIO{.weight = 10}; },
       "linux.resources.blockIO.weight: must be 10..1000"},
      {"hugepage size", [](Spec& s) { s.linux->resources->hugepage_limits = {{.limit = 1}}; },
       [](Spec& s) { s.linux->resources->hugepage_limits = {{.page_size = "2MB", .limit = 1}}; },
       "linux.resources.hugepageLimits[0].pageSize: must not be empty (e.g. 2MB)"},
      {"unified names", [](Spec& s) { s.linux->resources->unified["../x"] = "1"; },
       [](Spec& s) { s.linux->resources->unified["memory.high"] = "max"; },
       "linux.resources.unified[\"../x\"]: must be a cgroup v2 file name like memory.max"},
      {"device node path", [](Spec& s) { s.linux->devices = {{.path = "dev/fuse", .type = "c"}}; },
       [](Spec& s) {
         s.linux->devices = {{.path = "/dev/fuse", .type = "c", .major = 10, .minor = 229}};
       },
       "linux.devices[0].path: must be an absolute path"},
      {"device node type", [](Spec& s) { s.linux->devices = {{.path = "/dev/x", .type = "a"}}; },
       [](Spec& s) { s.linux->devices = {{.path = "/dev/x", .type = "p"}}; },
       "linux.devices[0].type: must be c, b, u or p"},
      {"rootfs propagation", [](Spec& s) { s.linux->rootfs_propagation = "everywhere"; },
       [](Spec& s) { s.linux->rootfs_propagation = "rslave"; },
       "linux.rootfsPropagation: must be private, rprivate, slave, rslave, shared, rshared, "
       "unbindable or runbindable"},
      {"masked paths absolute", [](Spec& s) { s.linux->masked_paths.push_back("proc/kmsg"); },
       [](Spec& s) { s.linux->masked_paths.push_back("/proc/kmsg"); },
       "linux.maskedPaths[10]: must be an absolute path"},
      {"readonly paths absolute", [](Spec& s) { s.linux->readonly_paths[0] = "x"; },
       [](Spec& s) { s.linux->readonly_paths[0] = "/x"; },
       "linux.readonlyPaths[0]: must be an absolute path"},
      {"seccomp default action",
       [](Spec& s) { s.linux->seccomp = LinuxSeccomp{.default_action = "ALLOW"}; },
       [](Spec& s) { s.linux->seccomp = LinuxSeccomp{.default_action = "SCMP_ACT_ALLOW"}; },
       "linux.seccomp.defaultAction: unknown action \"ALLOW\" (SCMP_ACT_*)"},
      {"seccomp syscall action",
       [](Spec& s) {
         s.linux->seccomp = LinuxSeccomp{.default_action = "SCMP_ACT_ERRNO",
                                         .syscalls = {{.names = {"read"}, .action = "allow"}}};
       },
       [](Spec& s) {
         s.linux->seccomp =
             LinuxSeccomp{.default_action = "SCMP_ACT_ERRNO",
                          .syscalls = {{.names = {"read"}, .action = "SCMP_ACT_ALLOW"}}};
       },
       "linux.seccomp.syscalls[0].action: unknown action \"allow\" (SCMP_ACT_*)"},
      {"seccomp arg operator",
       [](Spec& s) {
         s.linux->seccomp = LinuxSeccomp{
             .default_action = "SCMP_ACT_ERRNO",
             .syscalls = {
                 {.names = {"personality"}, .action = "SCMP_ACT_ALLOW", .args = {{.op = "=="}}}}};
       },
       [](Spec& s) {
         s.linux->seccomp =
             LinuxSeccomp{.default_action = "SCMP_ACT_ERRNO",
                          .syscalls = {{.names = {"personality"},
                                        .action = "SCMP_ACT_ALLOW",
                                        .args = {{.index = 0, .value = 8, .op = "SCMP_CMP_EQ"}}}}};
       },
       "linux.seccomp.syscalls[0].args[0].op: unknown operator (SCMP_CMP_*)"},
      {"seccomp architectures",
       [](Spec& s) {
         s.linux->seccomp =
             LinuxSeccomp{.default_action = "SCMP_ACT_ALLOW", .architectures = {"x86_64"}};
       },
       [](Spec& s) {
         s.linux->seccomp = LinuxSeccomp{.default_action = "SCMP_ACT_ALLOW",
                                         .architectures = {"SCMP_ARCH_X86_64"}};
       },
       "linux.seccomp.architectures[0]: must be a SCMP_ARCH_* name"},
      {"personality domain",
       [](Spec& s) { s.linux->personality = LinuxPersonality{.domain = "BSD"}; },
       [](Spec& s) { s.linux->personality = LinuxPersonality{.domain = "LINUX32"}; },
       "linux.personality.domain: must be LINUX or LINUX32"},
  };
}

}  // namespace

TEST(OciValidate, BaseSpecIsValid) { EXPECT_NO_THROW(Validate(Base())); }

TEST(OciValidate, EachRuleRejectsBadAndAcceptsGoodInput) {
  for (const Rule& r : Rules()) {
    SCOPED_TRACE(r.name);
    Spec bad = Base();
    r.bad(bad);
    try {
      Validate(bad);
      ADD_FAILURE() << "accepted a spec breaking rule: " << r.name;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_EQ(e.message(), r.message);
    }
    Spec good = Base();
    r.good(good);
    EXPECT_NO_THROW(Validate(good)) << r.name;
  }
}

TEST(OciValidate, ProcessRulesHaveProcessRelativePaths) {
  Process p;
  p.args = {"sh"};
  p.cwd = "/";
  EXPECT_NO_THROW(ValidateProcess(p));
  p.cwd = "";
  try {
    ValidateProcess(p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.message(), "cwd: must be an absolute path");
  }
}

TEST(OciValidate, ResourceRulesHaveResourceRelativePaths) {
  LinuxResources r;
  r.memory = LinuxMemory{.limit = 1 << 20};
  EXPECT_NO_THROW(ValidateResources(r));
  r.memory->limit = -5;
  try {
    ValidateResources(r);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.message(), "memory.limit: must be > 0 or -1");
  }
}

TEST(OciValidate, RuncAndContainerdSpecsAreValid) {
  // Our rules must not be stricter than runc: its own example specs pass.
  for (const char* flags : {"", "--rootless"}) {
    SCOPED_TRACE(flags);
    std::string dir = "/tmp/lcd-oci-validate-" + std::to_string(::getpid());
    std::string cmd =
        "rm -rf " + dir + " && mkdir -p " + dir + " && runc spec --bundle " + dir + " " + flags;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream f(dir + "/config.json");
    std::stringstream text;
    text << f.rdbuf();
    std::filesystem::remove_all(dir);
    EXPECT_NO_THROW(Validate(DecodeSpec(text.str())));
  }
  EXPECT_NO_THROW(Validate(DefaultSpec({.args = {"sh"}})));
}
