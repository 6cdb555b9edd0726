// lcctl: what every command shares: global flags, the connection (a given address or the
// managed containerd), error and exit-code conventions, small parsers and output helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "args.h"
#include "libcontainerd/client.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/containerd_inspect.h"
#include "libcontainerd/direct.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/images.h"
#include "libcontainerd/net.h"
#include "libcontainerd/supervisor.h"

namespace lcctl {

// Exit codes (docker's convention for run/exec; 125 for every failure of lcctl itself).
inline constexpr int kExitFailure = 125;
inline constexpr int kExitCannotRun = 126;
inline constexpr int kExitNotFound = 127;

// Ends a command with an exit code and (when non-empty) a one-line message on stderr.
class ExitError : public std::runtime_error {
 public:
  ExitError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

inline constexpr const char* kDefaultRoot = "/run/lcd";
inline constexpr const char* kDefaultNetConfigDir = "/etc/libcontainerd/net";

struct Globals {
  std::string address;  // empty: the managed containerd under root
  bool direct = false;  // --backend direct: no containerd (state under ROOT/direct)
  std::string runtime;  // --runtime: the direct backend's OCI runtime (default runc)
  std::string ns = "default";
  std::string root = kDefaultRoot;
  std::optional<std::chrono::milliseconds> timeout;
  bool json = false;
  bool debug = false;
  std::string net_config_dir = kDefaultNetConfigDir;  // --net-config-dir
  std::vector<std::string> cni_path;                  // --cni-path; empty: the Manager's
};

// The connection of one lcctl invocation; made on first use.
class Session {
 public:
  explicit Session(Globals globals) : g_(std::move(globals)) {}
  ~Session();

  const Globals& globals() const { return g_; }
  // Must be called before the first client() to receive events.
  void SetBackend(std::shared_ptr<libcontainerd::Backend> backend) {
    backend_ = std::move(backend);
  }
  libcontainerd::Client& client();
  // The network manager (state ROOT/net, networks in --net-config-dir, plugins on
  // --cni-path); made on first use without talking to containerd. client() gives it to the
  // Client (ClientOptions::network).
  std::shared_ptr<libcontainerd::net::Manager> net();
  // Records and exec handles (a second connection to the same daemon).
  libcontainerd::ContainerdInspector& inspector();
  // The options of a direct Client (--backend direct).
  libcontainerd::DirectClientOptions DirectOptions();
  // A context for one call: --timeout, else the library's default.
  libcontainerd::Context Ctx() const;
  // Loads a container; a missing one is "container ID not found in namespace NS".
  std::shared_ptr<libcontainerd::Container> LoadContainer(const std::string& id);
  // The container's task; a missing one is "container ID has no task".
  std::shared_ptr<libcontainerd::Task> LoadTask(const std::string& id);
  // The socket this session talks to.
  std::string Address() const;
  // True when no address was given and the backend is containerd (the managed one is used).
  bool Managed() const { return g_.address.empty() && !g_.direct; }
  // True with --backend direct (no containerd at all).
  bool Direct() const { return g_.direct; }

 private:
  Globals g_;
  std::shared_ptr<libcontainerd::Backend> backend_;
  std::unique_ptr<libcontainerd::Supervisor> supervisor_;
  std::shared_ptr<libcontainerd::Client> client_;
  std::shared_ptr<libcontainerd::net::Manager> net_;
  libcontainerd::ClientOptions options_;
  std::unique_ptr<libcontainerd::ContainerdInspector> inspector_;
};

// One command ("run", "container ls", ...).
struct Command {
  std::string name;
  std::string usage;    // after "lcctl "
  std::string summary;  // one line
  std::string example;  // one or more lines
  std::vector<FlagSpec> flags;
  std::size_t flag_positionals = static_cast<std::size_t>(-1);
  std::function<int(Session&, const ParsedArgs&)> run;
};

// Commands of each file.
std::vector<Command> VersionCommands();
std::vector<Command> DaemonCommands();
std::vector<Command> RunCommands();
std::vector<Command> ContainerCommands();
std::vector<Command> TaskCommands();
std::vector<Command> EventsCommands();
std::vector<Command> StatsCommands();
std::vector<Command> ImageCommands();
std::vector<Command> NetworkCommands();

// The flags shared by run and container create.
std::vector<FlagSpec> ContainerSpecFlags();
// What the positionals of run and container create name: `IMAGE ID [CMD...]` (ctr's order),
// `--rootfs DIR ID [CMD...]`, or `ID [CMD...]` (the built-in busybox image). The first
// positional is an IMAGE when it cannot be a container id (it has '/', ':' or '@') or when an
// image of that name exists in the namespace.
struct ContainerTarget {
  std::string image;  // empty with --rootfs (or a backend without images)
  std::string id;
  std::vector<std::string> cmd;
};
ContainerTarget ResolveContainerTarget(Session& s, const ParsedArgs& a);
// Creates the container those flags describe (the image's spec with the flags over it, or the
// --rootfs directory's; labels, runtime); throws UsageError / ExitError / Error.
std::shared_ptr<libcontainerd::Container> CreateContainerFromFlags(Session& s,
                                                                   const ContainerTarget& t,
                                                                   const ParsedArgs& a);

// Networking (network.cc). The flags --net/--network, -p/--publish, --dns, --dns-search,
// --dns-option, --add-host of run and container create.
std::vector<FlagSpec> NetworkSpecFlags();
// The request those flags (and --hostname) make; nullopt without any of them (the runtime's
// own network namespace, lo only). A malformed value is a UsageError.
std::optional<libcontainerd::net::NetworkRequest> NetworkFromFlags(const ParsedArgs& a);
// An attachment as `container info` and `network inspect` show it.
nlohmann::json AttachmentJson(const libcontainerd::net::Attachment& at);

// Positional helpers: exactly / at least n, else UsageError naming what is missing.
void NeedArgs(const ParsedArgs& a, std::size_t min, std::size_t max, const std::string& what);
// Validates a container id (UsageError on a bad one).
void CheckId(const std::string& id, const char* what = "container id");

// "1048576", "64m", "1g", "512k" -> bytes; UsageError naming `flag` otherwise.
int64_t ParseBytes(const std::string& flag, const std::string& v);
// A positive (or -1 when allow_minus_one) integer.
int64_t ParseInt(const std::string& flag, const std::string& v, bool allow_minus_one = false);
double ParsePositiveDouble(const std::string& flag, const std::string& v);
// "10s", "500ms", "2m", "3" (seconds).
std::chrono::milliseconds ParseDuration(const std::string& flag, const std::string& v);

// One line of text from an error (newlines folded).
std::string OneLine(const std::string& s);
std::string FormatTime(libcontainerd::SystemTime t);
// Prints a table with columns padded like tabwriter.
void PrintTable(const std::vector<std::vector<std::string>>& rows);
void PrintJson(const nlohmann::json& j);
// docker's human sizes, decimal units: "512B", "1.23MB".
std::string HumanSize(int64_t bytes);

// Images (image.cc).
// A parsed reference; a malformed one is a UsageError naming the part that is wrong.
libcontainerd::images::Reference ParseImageRef(const std::string& ref);
// "image REF not found in namespace NS: pull it with 'lcctl image pull REF' (...)".
std::string ImageNotFound(Session& s, const std::string& ref);
// Inspects an image; a missing one is ExitError(125, ImageNotFound).
libcontainerd::images::Image InspectImage(Session& s, const std::string& ref);
// Runs fn; when it fails with kNotFound because image `ref` does not exist, ExitError(125,
// ImageNotFound) instead.
void WithImageHint(Session& s, const std::string& ref, const std::function<void()>& fn);

// Blocks SIGINT/TERM/HUP/QUIT/USR1/USR2/WINCH in this thread and every thread it starts from
// now on. Call first in main, before any other thread exists.
void BlockStopSignals();
// Starts the thread that handles them (once BlockStopSignals ran). Until then they stay
// pending: call it before any work that must be interruptible (lcctl --version does without).
void StartSignalThread();
// Without a foreground process, a stop signal ends lcctl with `code` (default 128+signal).
void SetInterruptExit(int code);

// A process in the foreground (run, exec, attach, task start): while this lives, the stop
// signals go to the process given to Forward and SIGWINCH resizes it (when tty); with tty the
// local terminal is in raw mode.
class ForegroundSession {
 public:
  explicit ForegroundSession(bool tty);
  ~ForegroundSession();
  // Starts forwarding to proc (called once proc exists).
  void Forward(std::shared_ptr<libcontainerd::Process> proc, Session* s);
  // The local terminal's size (0,0 when not a terminal).
  static bool TerminalSize(uint32_t& w, uint32_t& h);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lcctl
