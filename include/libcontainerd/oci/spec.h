// libcontainerd: the OCI runtime-spec model (config.json), as runc 1.1 and containerd 1.6 use
// it: runtime-spec 1.0.2 plus the 1.1 fields they accept.
//
// Every struct is a plain value (copyable, comparable with ==); no hidden sharing, so one
// object may be read from many threads as long as nobody writes it.
//
// Naming: struct names follow the Go package specs-go; member names are the JSON names in
// snake_case (ociVersion -> oci_version, cgroupsPath -> cgroups_path).
//
// Absent vs zero: what Go models as a pointer (or an omitempty object) is std::optional here.
// A memory limit of 0 (`limit = 0`) is not the same as no limit (`limit = std::nullopt`).
// Plain members follow Go's omitempty rule: an empty string / false / 0 / empty list is not
// written unless the JSON member is required ("uid", "cwd", "path"...).
//
// Lossless: every struct keeps the members it does not model in `extra` (a JSON object), and
// also the explicit empty values ("terminal": false, "args": [], "process": null) of modelled
// omitempty members, so EncodeSpec(DecodeSpec(x)) is the same JSON value as x for any valid
// config.json. When encoding, a modelled member that is set (non-empty) wins over `extra`.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libcontainerd/export.h"

// GNU dialects (-std=gnu++20) predefine the legacy macro `linux` (= 1), which would break
// Spec::linux; __linux__ is the standard spelling and is left alone.
#ifdef linux
#undef linux
#endif

namespace libcontainerd::oci {

// The runtime-spec version written by DefaultSpec (what runc 1.1.5 and containerd 1.6 write).
inline constexpr const char* kVersion = "1.0.2-dev";

// consoleSize
struct LCD_EXPORT Box {
  uint32_t height = 0;
  uint32_t width = 0;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const Box&) const = default;
};

// process.user
struct LCD_EXPORT User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
  std::string username;  // Windows only
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const User&) const = default;
};

// process.capabilities: each set is a list of "CAP_*" names.
struct LCD_EXPORT LinuxCapabilities {
  std::vector<std::string> bounding;
  std::vector<std::string> effective;
  std::vector<std::string> inheritable;
  std::vector<std::string> permitted;
  std::vector<std::string> ambient;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxCapabilities&) const = default;
};

// process.rlimits[]: type is "RLIMIT_NOFILE" etc.
struct LCD_EXPORT POSIXRlimit {
  std::string type;
  uint64_t hard = 0;
  uint64_t soft = 0;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const POSIXRlimit&) const = default;
};

// process: the init process of a container, or an exec'd process (Tasks.Exec spec).
struct LCD_EXPORT Process {
  bool terminal = false;
  std::optional<Box> console_size;
  User user;
  std::vector<std::string> args;
  std::string command_line;      // Windows only
  std::vector<std::string> env;  // "KEY=value"
  std::string cwd;               // absolute
  std::optional<LinuxCapabilities> capabilities;
  std::vector<POSIXRlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::optional<int> oom_score_adj;
  std::string selinux_label;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const Process&) const = default;
};

// root: the container's root file system.
struct LCD_EXPORT Root {
  std::string path;
  bool readonly = false;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const Root&) const = default;
};

// linux.uidMappings[], linux.gidMappings[], mounts[].uidMappings[]
struct LCD_EXPORT LinuxIDMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxIDMapping&) const = default;
};

// mounts[]
struct LCD_EXPORT Mount {
  std::string destination;  // absolute path in the container
  std::string type;
  std::string source;
  std::vector<std::string> options;
  std::vector<LinuxIDMapping> uid_mappings;
  std::vector<LinuxIDMapping> gid_mappings;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const Mount&) const = default;
};

// hooks.*[]
struct LCD_EXPORT Hook {
  std::string path;  // absolute path on the host
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds, > 0
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const Hook&) const = default;
};

// hooks
struct LCD_EXPORT Hooks {
  std::vector<Hook> prestart;  // deprecated in the spec, still run by runc 1.1
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const Hooks&) const = default;
};

// linux.namespaces[]: type is one of pid, network, mount, ipc, uts, user, cgroup.
struct LCD_EXPORT LinuxNamespace {
  std::string type;
  std::string path;  // join this namespace (absolute path) instead of creating one
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxNamespace&) const = default;
};

// Namespace type names.
inline constexpr const char* kPidNamespace = "pid";
inline constexpr const char* kNetworkNamespace = "network";
inline constexpr const char* kMountNamespace = "mount";
inline constexpr const char* kIpcNamespace = "ipc";
inline constexpr const char* kUtsNamespace = "uts";
inline constexpr const char* kUserNamespace = "user";
inline constexpr const char* kCgroupNamespace = "cgroup";

// linux.devices[]: a device node created in the container.
struct LCD_EXPORT LinuxDevice {
  std::string path;
  std::string type;  // c, b, u or p
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxDevice&) const = default;
};

// linux.resources.devices[]: a device cgroup rule.
struct LCD_EXPORT LinuxDeviceCgroup {
  bool allow = false;
  std::string type;              // a, c or b; empty means a
  std::optional<int64_t> major;  // nullopt: any
  std::optional<int64_t> minor;  // nullopt: any
  std::string access;            // subset of "rwm"
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxDeviceCgroup&) const = default;
};

// linux.resources.memory (bytes; -1 means unlimited where the kernel allows it)
struct LCD_EXPORT LinuxMemory {
  std::optional<int64_t> limit;
  std::optional<int64_t> reservation;
  std::optional<int64_t> swap;  // memory + swap
  std::optional<int64_t> kernel;
  std::optional<int64_t> kernel_tcp;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;
  std::optional<bool> use_hierarchy;
  std::optional<bool> check_before_update;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxMemory&) const = default;
};

// linux.resources.cpu
struct LCD_EXPORT LinuxCPU {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;  // microseconds per period; -1 no limit
  std::optional<uint64_t> burst;
  std::optional<uint64_t> period;  // microseconds
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus;  // cpuset, e.g. "0-2,4"
  std::string mems;
  std::optional<int64_t> idle;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxCPU&) const = default;
};

// linux.resources.pids
struct LCD_EXPORT LinuxPids {
  int64_t limit = 0;  // > 0, or -1 for no limit
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxPids&) const = default;
};

// linux.resources.blockIO.weightDevice[]
struct LCD_EXPORT LinuxWeightDevice {
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint16_t> weight;
  std::optional<uint16_t> leaf_weight;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxWeightDevice&) const = default;
};

// linux.resources.blockIO.throttle*Device[]
struct LCD_EXPORT LinuxThrottleDevice {
  int64_t major = 0;
  int64_t minor = 0;
  uint64_t rate = 0;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxThrottleDevice&) const = default;
};

// linux.resources.blockIO
struct LCD_EXPORT LinuxBlockIO {
  std::optional<uint16_t> weight;
  std::optional<uint16_t> leaf_weight;
  std::vector<LinuxWeightDevice> weight_device;
  std::vector<LinuxThrottleDevice> throttle_read_bps_device;
  std::vector<LinuxThrottleDevice> throttle_write_bps_device;
  std::vector<LinuxThrottleDevice> throttle_read_iops_device;
  std::vector<LinuxThrottleDevice> throttle_write_iops_device;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxBlockIO&) const = default;
};

// linux.resources.hugepageLimits[]
struct LCD_EXPORT LinuxHugepageLimit {
  std::string page_size;  // "2MB"
  uint64_t limit = 0;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxHugepageLimit&) const = default;
};

// linux.resources.network.priorities[]
struct LCD_EXPORT LinuxInterfacePriority {
  std::string name;
  uint32_t priority = 0;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxInterfacePriority&) const = default;
};

// linux.resources.network
struct LCD_EXPORT LinuxNetwork {
  std::optional<uint32_t> class_id;
  std::vector<LinuxInterfacePriority> priorities;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxNetwork&) const = default;
};

// linux.resources.rdma.<device>
struct LCD_EXPORT LinuxRdma {
  std::optional<uint32_t> hca_handles;
  std::optional<uint32_t> hca_objects;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxRdma&) const = default;
};

// linux.resources; also what Task::UpdateResources takes (DecodeResources/EncodeResources).
struct LCD_EXPORT LinuxResources {
  std::vector<LinuxDeviceCgroup> devices;
  std::optional<LinuxMemory> memory;
  std::optional<LinuxCPU> cpu;
  std::optional<LinuxPids> pids;
  std::optional<LinuxBlockIO> block_io;
  std::vector<LinuxHugepageLimit> hugepage_limits;
  std::optional<LinuxNetwork> network;
  std::map<std::string, LinuxRdma> rdma;
  std::map<std::string, std::string> unified;  // cgroup v2 files
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxResources&) const = default;
};

// linux.seccomp.syscalls[].args[]
struct LCD_EXPORT LinuxSeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_*
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxSeccompArg&) const = default;
};

// linux.seccomp.syscalls[]
struct LCD_EXPORT LinuxSyscall {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_*
  std::optional<uint32_t> errno_ret;
  std::vector<LinuxSeccompArg> args;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxSyscall&) const = default;
};

// linux.seccomp
struct LCD_EXPORT LinuxSeccomp {
  std::string default_action;  // SCMP_ACT_*
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_*
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_*
  std::string listener_path;
  std::string listener_metadata;
  std::vector<LinuxSyscall> syscalls;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxSeccomp&) const = default;
};

// linux.intelRdt
struct LCD_EXPORT LinuxIntelRdt {
  std::string clos_id;
  std::string l3_cache_schema;
  std::string mem_bw_schema;
  bool enable_cmt = false;
  bool enable_mbm = false;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxIntelRdt&) const = default;
};

// linux.personality
struct LCD_EXPORT LinuxPersonality {
  std::string domain;  // LINUX or LINUX32
  std::vector<std::string> flags;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const LinuxPersonality&) const = default;
};

// linux
struct LCD_EXPORT Linux {
  std::vector<LinuxIDMapping> uid_mappings;
  std::vector<LinuxIDMapping> gid_mappings;
  std::map<std::string, std::string> sysctl;
  std::optional<LinuxResources> resources;
  std::string cgroups_path;
  std::vector<LinuxNamespace> namespaces;
  std::vector<LinuxDevice> devices;
  std::optional<LinuxSeccomp> seccomp;
  std::string rootfs_propagation;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string mount_label;
  std::optional<LinuxIntelRdt> intel_rdt;
  std::optional<LinuxPersonality> personality;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const Linux&) const = default;
};

// The whole config.json. solaris, windows, vm and zos are not modelled: they stay in `extra`.
struct LCD_EXPORT Spec {
  std::string oci_version;
  std::optional<Process> process;
  std::optional<Root> root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  std::optional<Hooks> hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const Spec&) const = default;
};

// JSON codec. Decoders throw Error{kInvalidArgument} on malformed JSON, a wrong type, an
// integer out of range or nesting deeper than 256 levels; the message starts with the JSON path
// ("process.user.uid: expected an unsigned 32-bit integer, got -1"). They never crash on any
// input. Encoders return compact JSON; they throw Error{kInvalidArgument} only when a string
// is not valid UTF-8 or an `extra` is not a JSON object. All functions are thread-safe.
LCD_EXPORT Spec DecodeSpec(std::string_view json);
LCD_EXPORT std::string EncodeSpec(const Spec& spec);
LCD_EXPORT Process DecodeProcess(std::string_view json);
LCD_EXPORT std::string EncodeProcess(const Process& process);
LCD_EXPORT LinuxResources DecodeResources(std::string_view json);
LCD_EXPORT std::string EncodeResources(const LinuxResources& resources);

// The same as JSON values (for callers that already hold parsed JSON).
LCD_EXPORT Spec SpecFromJson(const nlohmann::json& j);
LCD_EXPORT nlohmann::json ToJson(const Spec& spec);
LCD_EXPORT nlohmann::json ToJson(const Process& process);
LCD_EXPORT nlohmann::json ToJson(const LinuxResources& resources);

// Checks the rules runc 1.1 enforces (and a few it should): required fields, absolute paths,
// namespace types and duplicates, id-mapping overlaps, rlimit and capability names, resource
// ranges, cgroups path form, seccomp actions, ... (the list is in docs/oci.md). Throws
// Error{kInvalidArgument} for the first violation, message "<json.path>: <rule>", e.g.
// "linux.resources.memory.limit: must be > 0 or -1". Does no I/O; thread-safe.
LCD_EXPORT void Validate(const Spec& spec);
// The process rules alone (for Exec specs): paths are relative to the process ("cwd: ...").
LCD_EXPORT void ValidateProcess(const Process& process);
// The resource rules alone (for UpdateResources): paths like "memory.limit: ...".
LCD_EXPORT void ValidateResources(const LinuxResources& resources);

}  // namespace libcontainerd::oci
