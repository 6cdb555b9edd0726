// lcd-engine: a Docker Engine API server over libcontainerd, in the foreground like dockerd.
//   lcd-engine [--root DIR] [-H unix:///PATH] [--containerd ADDR] [--namespace NS]
//              [--bridge NAME] [--insecure-registry HOST:PORT]... [--cni-path DIR]...
//              [--log-level debug|info|warn|error]
// SIGTERM or SIGINT: stops serving, stops the running containers (not with --live-restore:
// they go on, and the next start of the engine adopts them), exits 0. After a SIGKILL the
// next start adopts them too.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "containers.h"
#include "engine.h"
#include "http.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"

namespace {

constexpr const char* kUsage =
    "usage: lcd-engine [--root DIR] [-H unix:///PATH] [--containerd ADDR] [--namespace NS]\n"
    "                  [--bridge NAME] [--insecure-registry HOST:PORT]... [--cni-path DIR]...\n"
    "                  [--live-restore] [--log-level debug|info|warn|error]\n"
    "Serves the Docker Engine API (version " LCD_ENGINE_VERSION
    ", API 1.41) on a unix socket (default\n"
    "/run/lcd/docker.sock); its containerd is its own (under ROOT/containerd) unless --containerd "
    "is given.\n"
    "Use it with the docker CLI: DOCKER_HOST=unix:///run/lcd/docker.sock docker run --rm IMAGE\n";

[[noreturn]] void Usage(const std::string& error) {
  std::cerr << "lcd-engine: " << error << "\n" << kUsage;
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  namespace lcd = libcontainerd;
  lcde::EngineOptions o;
  lcd::LogLevel level = lcd::LogLevel::kInfo;
  bool cni_given = false;
  bool live_restore = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    auto value = [&](const char* name) -> std::string {
      std::string n = name;
      if (a.rfind(n + "=", 0) == 0) return a.substr(n.size() + 1);
      if (i + 1 >= argc) Usage(n + " needs a value");
      return argv[++i];
    };
    auto is = [&](const char* name) {
      return a == name || a.rfind(std::string(name) + "=", 0) == 0;
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "-v" || a == "--version") {
      std::cout << "lcd-engine version " LCD_ENGINE_VERSION ", API " << lcde::kApiVersion << "\n";
      return 0;
    } else if (is("--root")) {
      o.root = value("--root");
    } else if (is("-H") || is("--host")) {
      v = value(a.rfind("-H", 0) == 0 && a.rfind("--", 0) != 0 ? "-H" : "--host");
      if (v.rfind("unix://", 0) != 0)
        Usage(
            "only unix sockets are served (-H unix:///PATH); TCP listeners are not implemented: " +
            v);
      o.socket = v.substr(7);
    } else if (is("--containerd")) {
      o.containerd = value("--containerd");
    } else if (is("--namespace")) {
      o.ns = value("--namespace");
    } else if (is("--bridge")) {
      o.default_bridge = value("--bridge");
    } else if (is("--insecure-registry")) {
      o.insecure_registries.push_back(value("--insecure-registry"));
    } else if (is("--cni-path")) {
      if (!cni_given) o.cni_path.clear();
      cni_given = true;
      o.cni_path.push_back(value("--cni-path"));
    } else if (a == "--live-restore") {
      live_restore = true;
    } else if (is("--log-level")) {
      v = value("--log-level");
      if (v == "debug")
        level = lcd::LogLevel::kDebug;
      else if (v == "info")
        level = lcd::LogLevel::kInfo;
      else if (v == "warn" || v == "warning")
        level = lcd::LogLevel::kWarning;
      else if (v == "error")
        level = lcd::LogLevel::kError;
      else
        Usage("unknown --log-level " + v + " (debug, info, warn, error)");
    } else {
      Usage("unknown option " + a);
    }
  }
  if (o.root.empty() || o.root[0] != '/') Usage("--root must be an absolute path");
  lcd::SetLogSink(lcd::StderrLogSink());
  lcd::SetLogLevel(level);

  // Signals go to one thread (sigwait); every other thread has them blocked.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(o.socket).parent_path(), ec);
    lcde::Engine engine(o);
    lcde::Router router;
    engine.RegisterRoutes(router);
    engine.containers().StartupRestarts();
    lcde::ServerOptions so;
    so.socket_path = o.socket;
    lcde::Server server(so, router);
    std::thread waiter([&] {
      int sig = 0;
      sigwait(&set, &sig);
      lcd::Log(lcd::LogLevel::kInfo, std::string("lcd-engine: ") + strsignal(sig) + ", stopping");
      server.Stop();
    });
    lcd::Log(lcd::LogLevel::kInfo, "lcd-engine: serving the Docker API on unix://" + o.socket +
                                       " (containerd namespace " + o.ns + ")");
    server.Run();
    // dockerd's rule: running containers are stopped, unless they are to outlive the engine.
    if (!live_restore) engine.containers().StopAll(std::nullopt);
    pthread_kill(waiter.native_handle(), SIGTERM);  // a second signal is harmless
    waiter.join();
  } catch (const lcd::Error& e) {
    std::cerr << "lcd-engine: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lcd-engine: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
