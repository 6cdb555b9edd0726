// JSON encoding and decoding of the OCI runtime-spec model. The member lists mirror specs-go's
// struct tags (name, omitempty) so that what we write is what runc and containerd write.
#include <array>
#include <cstdio>
#include <cstring>

#include "libcontainerd/oci/spec.h"
#include "oci/json_codec.h"

namespace libcontainerd::oci {
namespace detail {

namespace {
bool IsPlainKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

std::string ChildPath(const std::string& path, std::string_view key) {
  constexpr size_t kMaxKeyInPath = 64;  // keep messages readable for absurd keys
  std::string k(key.substr(0, kMaxKeyInPath));
  if (key.size() > kMaxKeyInPath) k += "...";
  if (IsPlainKey(key)) return path.empty() ? k : path + "." + k;
  return path + "[\"" + k + "\"]";
}

std::string IndexPath(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string JsonPath::str() const {
  if (!parent_) return "";
  std::string parent = parent_->str();
  return is_index_ ? IndexPath(parent, index_) : ChildPath(parent, key_);
}

void Fail(const std::string& path, const std::string& rule) {
  throw Error(ErrorKind::kInvalidArgument, DisplayPath(path) + ": " + rule);
}

const char* TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a non-integer number";
    case json::value_t::binary:
      return "binary data";
    case json::value_t::discarded:
      return "nothing";
  }
  return "an unknown value";
}

json ParseJson(std::string_view text) {
  // Bound the nesting first: copying or comparing a parsed value recurses per level.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        Fail("", "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels (at byte " +
                     std::to_string(i) + ")");
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  try {
    // Numbers beyond float64 (1e999) are refused by the parser itself (out_of_range.406), as
    // Go refuses them.
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 5: ...".
    std::string what = e.what();
    auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    constexpr size_t kMaxMessage = 200;  // the parser quotes the offending token, maybe 1 MB
    if (what.size() > kMaxMessage) what = what.substr(0, kMaxMessage) + "...";
    Fail("", "malformed JSON: " + what);
  }
}

void AppendJsonString(std::string& out, std::string_view s) {
  // Printable ASCII other than '"' and '\\' is written as it is.
  static constexpr auto kPlain = [] {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x7f; ++c) t[c] = c != '"' && c != '\\';
    return t;
  }();
  size_t i = 0;
  while (i < s.size() && kPlain[static_cast<unsigned char>(s[i])]) ++i;
  if (i == s.size()) {
    const size_t at = out.size();
    out.resize(at + s.size() + 2);
    char* p = out.data() + at;
    *p++ = '"';
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p[s.size()] = '"';
  } else {
    out += json(std::string(s)).dump();  // escapes, UTF-8 checks and errors as the tree's dump
  }
}

void AppendJson(std::string& out, const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      out += "null";
      return;
    case json::value_t::boolean:
      out += j.get<bool>() ? "true" : "false";
      return;
    case json::value_t::number_integer:
      WriteValue(out, j.get<int64_t>());
      return;
    case json::value_t::number_unsigned:
      WriteValue(out, j.get<uint64_t>());
      return;
    case json::value_t::string:
      AppendJsonString(out, j.get_ref<const std::string&>());
      return;
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : j) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(out, e);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, it.key());
        out.push_back(':');
        AppendJson(out, it.value());
      }
      out.push_back('}');
      return;
    }
    default:  // floats (Go's shortest form) and the rest: nlohmann's own text
      out += j.dump();
      return;
  }
}

std::string DumpJson(const json& j) {
  try {
    return j.dump();
  } catch (const json::exception& e) {
    std::string what = e.what();
    auto pos = what.find("] ");
    throw Error(ErrorKind::kInvalidArgument,
                "cannot encode: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
}

// ---- member lists (JSON name, C++ member, Go's omitempty) ----

LCD_OCI_FIELDS(Box) {
  v("height", s.height, kAlways);
  v("width", s.width, kAlways);
}

LCD_OCI_FIELDS(User) {
  v("uid", s.uid, kAlways);
  v("gid", s.gid, kAlways);
  v("umask", s.umask, kOmitEmpty);
  v("additionalGids", s.additional_gids, kOmitEmpty);
  v("username", s.username, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxCapabilities) {
  v("bounding", s.bounding, kOmitEmpty);
  v("effective", s.effective, kOmitEmpty);
  v("inheritable", s.inheritable, kOmitEmpty);
  v("permitted", s.permitted, kOmitEmpty);
  v("ambient", s.ambient, kOmitEmpty);
}

LCD_OCI_FIELDS(POSIXRlimit) {
  v("type", s.type, kAlways);
  v("hard", s.hard, kAlways);
  v("soft", s.soft, kAlways);
}

LCD_OCI_FIELDS(Process) {
  v("terminal", s.terminal, kOmitEmpty);
  v("consoleSize", s.console_size, kOmitEmpty);
  v("user", s.user, kAlways);
  v("args", s.args, kOmitEmpty);
  v("commandLine", s.command_line, kOmitEmpty);
  v("env", s.env, kOmitEmpty);
  v("cwd", s.cwd, kAlways);
  v("capabilities", s.capabilities, kOmitEmpty);
  v("rlimits", s.rlimits, kOmitEmpty);
  v("noNewPrivileges", s.no_new_privileges, kOmitEmpty);
  v("apparmorProfile", s.apparmor_profile, kOmitEmpty);
  v("oomScoreAdj", s.oom_score_adj, kOmitEmpty);
  v("selinuxLabel", s.selinux_label, kOmitEmpty);
}

LCD_OCI_FIELDS(Root) {
  v("path", s.path, kAlways);
  v("readonly", s.readonly, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxIDMapping) {
  v("containerID", s.container_id, kAlways);
  v("hostID", s.host_id, kAlways);
  v("size", s.size, kAlways);
}

LCD_OCI_FIELDS(Mount) {
  v("destination", s.destination, kAlways);
  v("type", s.type, kOmitEmpty);
  v("source", s.source, kOmitEmpty);
  v("options", s.options, kOmitEmpty);
  v("uidMappings", s.uid_mappings, kOmitEmpty);
  v("gidMappings", s.gid_mappings, kOmitEmpty);
}

LCD_OCI_FIELDS(Hook) {
  v("path", s.path, kAlways);
  v("args", s.args, kOmitEmpty);
  v("env", s.env, kOmitEmpty);
  v("timeout", s.timeout, kOmitEmpty);
}

LCD_OCI_FIELDS(Hooks) {
  v("prestart", s.prestart, kOmitEmpty);
  v("createRuntime", s.create_runtime, kOmitEmpty);
  v("createContainer", s.create_container, kOmitEmpty);
  v("startContainer", s.start_container, kOmitEmpty);
  v("poststart", s.poststart, kOmitEmpty);
  v("poststop", s.poststop, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxNamespace) {
  v("type", s.type, kAlways);
  v("path", s.path, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxDevice) {
  v("path", s.path, kAlways);
  v("type", s.type, kAlways);
  v("major", s.major, kAlways);
  v("minor", s.minor, kAlways);
  v("fileMode", s.file_mode, kOmitEmpty);
  v("uid", s.uid, kOmitEmpty);
  v("gid", s.gid, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxDeviceCgroup) {
  v("allow", s.allow, kAlways);
  v("type", s.type, kOmitEmpty);
  v("major", s.major, kOmitEmpty);
  v("minor", s.minor, kOmitEmpty);
  v("access", s.access, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxMemory) {
  v("limit", s.limit, kOmitEmpty);
  v("reservation", s.reservation, kOmitEmpty);
  v("swap", s.swap, kOmitEmpty);
  v("kernel", s.kernel, kOmitEmpty);
  v("kernelTCP", s.kernel_tcp, kOmitEmpty);
  v("swappiness", s.swappiness, kOmitEmpty);
  v("disableOOMKiller", s.disable_oom_killer, kOmitEmpty);
  v("useHierarchy", s.use_hierarchy, kOmitEmpty);
  v("checkBeforeUpdate", s.check_before_update, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxCPU) {
  v("shares", s.shares, kOmitEmpty);
  v("quota", s.quota, kOmitEmpty);
  v("burst", s.burst, kOmitEmpty);
  v("period", s.period, kOmitEmpty);
  v("realtimeRuntime", s.realtime_runtime, kOmitEmpty);
  v("realtimePeriod", s.realtime_period, kOmitEmpty);
  v("cpus", s.cpus, kOmitEmpty);
  v("mems", s.mems, kOmitEmpty);
  v("idle", s.idle, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxPids) { v("limit", s.limit, kAlways); }

LCD_OCI_FIELDS(LinuxWeightDevice) {
  v("major", s.major, kAlways);
  v("minor", s.minor, kAlways);
  v("weight", s.weight, kOmitEmpty);
  v("leafWeight", s.leaf_weight, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxThrottleDevice) {
  v("major", s.major, kAlways);
  v("minor", s.minor, kAlways);
  v("rate", s.rate, kAlways);
}

LCD_OCI_FIELDS(LinuxBlockIO) {
  v("weight", s.weight, kOmitEmpty);
  v("leafWeight", s.leaf_weight, kOmitEmpty);
  v("weightDevice", s.weight_device, kOmitEmpty);
  v("throttleReadBpsDevice", s.throttle_read_bps_device, kOmitEmpty);
  v("throttleWriteBpsDevice", s.throttle_write_bps_device, kOmitEmpty);
  v("throttleReadIOPSDevice", s.throttle_read_iops_device, kOmitEmpty);
  v("throttleWriteIOPSDevice", s.throttle_write_iops_device, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxHugepageLimit) {
  v("pageSize", s.page_size, kAlways);
  v("limit", s.limit, kAlways);
}

LCD_OCI_FIELDS(LinuxInterfacePriority) {
  v("name", s.name, kAlways);
  v("priority", s.priority, kAlways);
}

LCD_OCI_FIELDS(LinuxNetwork) {
  v("classID", s.class_id, kOmitEmpty);
  v("priorities", s.priorities, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxRdma) {
  v("hcaHandles", s.hca_handles, kOmitEmpty);
  v("hcaObjects", s.hca_objects, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxResources) {
  v("devices", s.devices, kOmitEmpty);
  v("memory", s.memory, kOmitEmpty);
  v("cpu", s.cpu, kOmitEmpty);
  v("pids", s.pids, kOmitEmpty);
  v("blockIO", s.block_io, kOmitEmpty);
  v("hugepageLimits", s.hugepage_limits, kOmitEmpty);
  v("network", s.network, kOmitEmpty);
  v("rdma", s.rdma, kOmitEmpty);
  v("unified", s.unified, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxSeccompArg) {
  v("index", s.index, kAlways);
  v("value", s.value, kAlways);
  v("valueTwo", s.value_two, kOmitEmpty);
  v("op", s.op, kAlways);
}

LCD_OCI_FIELDS(LinuxSyscall) {
  v("names", s.names, kAlways);
  v("action", s.action, kAlways);
  v("errnoRet", s.errno_ret, kOmitEmpty);
  v("args", s.args, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxSeccomp) {
  v("defaultAction", s.default_action, kAlways);
  v("defaultErrnoRet", s.default_errno_ret, kOmitEmpty);
  v("architectures", s.architectures, kOmitEmpty);
  v("flags", s.flags, kOmitEmpty);
  v("listenerPath", s.listener_path, kOmitEmpty);
  v("listenerMetadata", s.listener_metadata, kOmitEmpty);
  v("syscalls", s.syscalls, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxIntelRdt) {
  v("closID", s.clos_id, kOmitEmpty);
  v("l3CacheSchema", s.l3_cache_schema, kOmitEmpty);
  v("memBwSchema", s.mem_bw_schema, kOmitEmpty);
  v("enableCMT", s.enable_cmt, kOmitEmpty);
  v("enableMBM", s.enable_mbm, kOmitEmpty);
}

LCD_OCI_FIELDS(LinuxPersonality) {
  v("domain", s.domain, kAlways);
  v("flags", s.flags, kOmitEmpty);
}

LCD_OCI_FIELDS(Linux) {
  v("uidMappings", s.uid_mappings, kOmitEmpty);
  v("gidMappings", s.gid_mappings, kOmitEmpty);
  v("sysctl", s.sysctl, kOmitEmpty);
  v("resources", s.resources, kOmitEmpty);
  v("cgroupsPath", s.cgroups_path, kOmitEmpty);
  v("namespaces", s.namespaces, kOmitEmpty);
  v("devices", s.devices, kOmitEmpty);
  v("seccomp", s.seccomp, kOmitEmpty);
  v("rootfsPropagation", s.rootfs_propagation, kOmitEmpty);
  v("maskedPaths", s.masked_paths, kOmitEmpty);
  v("readonlyPaths", s.readonly_paths, kOmitEmpty);
  v("mountLabel", s.mount_label, kOmitEmpty);
  v("intelRdt", s.intel_rdt, kOmitEmpty);
  v("personality", s.personality, kOmitEmpty);
}

LCD_OCI_FIELDS(Spec) {
  v("ociVersion", s.oci_version, kAlways);
  v("process", s.process, kOmitEmpty);
  v("root", s.root, kOmitEmpty);
  v("hostname", s.hostname, kOmitEmpty);
  v("domainname", s.domainname, kOmitEmpty);
  v("mounts", s.mounts, kOmitEmpty);
  v("hooks", s.hooks, kOmitEmpty);
  v("annotations", s.annotations, kOmitEmpty);
  v("linux", s.linux, kOmitEmpty);
}

namespace {
template <class T>
T DecodeText(std::string_view text, const char* op) {
  try {
    json j = ParseJson(text);
    T out;
    DecodeObject(j, JsonPath(), out);
    return out;
  } catch (const Error& e) {
    throw Error(e.kind(), e.message(), ErrorContext{.op = op});
  }
}

template <class T>
json EncodeTree(const T& v, const char* op) {
  try {
    return EncodeObject(v);
  } catch (const Error& e) {
    throw Error(e.kind(), e.message(), ErrorContext{.op = op});
  }
}

// The text of EncodeTree(v).dump() (see WriteObject), errors included: a json::exception
// (invalid UTF-8) becomes DumpJson's "cannot encode: ..." error.
template <class T>
std::string EncodeText(const T& v, const char* op) {
  std::string out;
  out.reserve(4096);
  try {
    WriteObject(out, v);
  } catch (const Error& e) {
    throw Error(e.kind(), e.message(), ErrorContext{.op = op});
  } catch (const json::exception& e) {
    std::string what = e.what();
    auto pos = what.find("] ");
    throw Error(ErrorKind::kInvalidArgument,
                "cannot encode: " + (pos == std::string::npos ? what : what.substr(pos + 2)),
                ErrorContext{.op = op});
  }
  return out;
}
}  // namespace

}  // namespace detail

Spec DecodeSpec(std::string_view json) { return detail::DecodeText<Spec>(json, "DecodeSpec"); }
std::string EncodeSpec(const Spec& spec) { return detail::EncodeText(spec, "EncodeSpec"); }

Process DecodeProcess(std::string_view json) {
  return detail::DecodeText<Process>(json, "DecodeProcess");
}
std::string EncodeProcess(const Process& process) {
  return detail::EncodeText(process, "EncodeProcess");
}

LinuxResources DecodeResources(std::string_view json) {
  return detail::DecodeText<LinuxResources>(json, "DecodeResources");
}
std::string EncodeResources(const LinuxResources& resources) {
  return detail::EncodeText(resources, "EncodeResources");
}

Spec SpecFromJson(const nlohmann::json& j) {
  Spec out;
  try {
    detail::DecodeObject(j, detail::JsonPath(), out);
  } catch (const Error& e) {
    throw Error(e.kind(), e.message(), ErrorContext{.op = "SpecFromJson"});
  }
  return out;
}

nlohmann::json ToJson(const Spec& spec) { return detail::EncodeTree(spec, "ToJson"); }
nlohmann::json ToJson(const Process& process) { return detail::EncodeTree(process, "ToJson"); }
nlohmann::json ToJson(const LinuxResources& resources) {
  return detail::EncodeTree(resources, "ToJson");
}

}  // namespace libcontainerd::oci
