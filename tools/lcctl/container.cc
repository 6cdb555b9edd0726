// lcctl container create|ls|info|rm.
#include <map>

#include "common.h"
#include "libcontainerd/errors.h"

namespace lcctl {

namespace lcd = libcontainerd;

namespace {

int Create(Session& s, const ParsedArgs& a) {
  const ContainerTarget t = ResolveContainerTarget(s, a);
  CreateContainerFromFlags(s, t, a);
  if (s.globals().json) PrintJson({{"id", t.id}});
  return 0;
}

std::map<std::string, lcd::ProcessRecord> TasksById(Session& s) {
  std::map<std::string, lcd::ProcessRecord> m;
  for (auto& t : s.inspector().ListTasks(s.Ctx())) m[t.container_id] = t;
  return m;
}

int Ls(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 0, 0, "no arguments");
  auto records = s.inspector().ListContainers(s.Ctx());
  auto tasks = TasksById(s);
  if (a.Has("quiet")) {
    for (const auto& r : records) std::printf("%s\n", r.id.c_str());
    return 0;
  }
  if (s.globals().json) {
    std::map<std::string, lcd::net::Attachment> nets;  // local files: no RPC
    for (auto& at : s.net()->List(s.globals().ns)) nets[at.container_id] = at;
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : records) {
      auto it = tasks.find(r.id);
      nlohmann::json j = {{"id", r.id},
                          {"image", r.image},
                          {"runtime", r.runtime},
                          {"labels", r.labels},
                          {"created_at", FormatTime(r.created_at)}};
      if (it != tasks.end()) {
        j["status"] = std::string(lcd::ToString(it->second.status));
        j["pid"] = it->second.pid;
      } else {
        j["status"] = "no task";
        j["pid"] = nullptr;
      }
      auto n = nets.find(r.id);
      j["network"] = n == nets.end() ? nlohmann::json(nullptr) : AttachmentJson(n->second);
      arr.push_back(j);
    }
    PrintJson(arr);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"CONTAINER", "IMAGE", "RUNTIME", "STATUS"}};
  for (const auto& r : records) {
    auto it = tasks.find(r.id);
    rows.push_back({r.id, r.image.empty() ? "-" : r.image, r.runtime,
                    it == tasks.end() ? "no task" : std::string(lcd::ToString(it->second.status))});
  }
  PrintTable(rows);
  return 0;
}

int Info(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "container ID");
  const std::string id = a.positionals[0];
  CheckId(id);
  lcd::ContainerRecord r;
  try {
    r = s.inspector().GetContainer(s.Ctx(), id);
  } catch (const lcd::Error& e) {
    if (lcd::IsNotFound(e))
      throw ExitError(kExitFailure,
                      "container " + id + " not found in namespace " + s.globals().ns);
    throw;
  }
  nlohmann::json j = {{"id", r.id},
                      {"labels", r.labels},
                      {"image", r.image},
                      {"runtime", {{"name", r.runtime}}},
                      {"snapshotter", r.snapshotter},
                      {"created_at", FormatTime(r.created_at)},
                      {"updated_at", FormatTime(r.updated_at)}};
  j["spec"] = nlohmann::json::parse(r.spec_json.empty() ? "null" : r.spec_json, nullptr, false);
  // Its network, when the library attached one (--net); null for the runtime's own namespace.
  auto at = s.net()->Inspect(s.globals().ns, id);
  j["network"] = at ? AttachmentJson(*at) : nlohmann::json(nullptr);
  try {
    auto t = s.inspector().GetProcess(s.Ctx(), id, "");
    j["task"] = {
        {"status", std::string(lcd::ToString(t.status))}, {"pid", t.pid}, {"terminal", t.terminal}};
  } catch (const lcd::Error& e) {
    if (!lcd::IsNotFound(e)) throw;
    j["task"] = nullptr;
  }
  PrintJson(j);
  return 0;
}

int Rm(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, SIZE_MAX, "container ID");
  for (const auto& id : a.positionals) CheckId(id);
  int rc = 0;
  for (const auto& id : a.positionals) {
    try {
      auto c = s.LoadContainer(id);
      std::shared_ptr<lcd::Task> task;
      try {
        task = c->GetTask(s.Ctx());
      } catch (const lcd::Error& e) {
        if (!lcd::IsNotFound(e)) throw;
      }
      if (task) {
        if (!a.Has("force")) {
          auto st = task->GetStatus(s.Ctx());
          throw ExitError(kExitFailure, "container " + id + " has a " +
                                            std::string(lcd::ToString(st)) +
                                            " task: delete it first ('lcctl task delete -f " + id +
                                            "') or use 'lcctl container rm -f'");
        }
        task->ForceDelete(s.Ctx());
      }
      c->Delete(s.Ctx());
    } catch (const ExitError& e) {
      std::fprintf(stderr, "lcctl: %s\n", OneLine(e.what()).c_str());
      rc = kExitFailure;
    } catch (const lcd::Error& e) {
      std::fprintf(stderr, "lcctl: %s\n", OneLine(e.what()).c_str());
      rc = kExitFailure;
    }
  }
  return rc;
}

}  // namespace

std::vector<Command> ContainerCommands() {
  auto create_flags = ContainerSpecFlags();
  return {
      {"container create", "container create [flags] [IMAGE] ID [CMD [ARG...]]",
       "create a container from IMAGE (default: the built-in busybox image) or --rootfs DIR "
       "(no task; start it with 'lcctl task start')",
       "  lcctl container create --memory-limit 64m web1 httpd -f -p 8080\n"
       "  lcctl container create 127.0.0.1:5000/app:1 app1\n  lcctl task start -d web1",
       create_flags, 1, Create},
      {"container ls",
       "container ls [-q]",
       "list containers: CONTAINER IMAGE RUNTIME STATUS",
       "  lcctl container ls\n  lcctl -n test container ls --json",
       {{"quiet", 'q', false, "", "print only the ids"}},
       SIZE_MAX,
       Ls},
      {"container info",
       "container info ID",
       "print the container record with its spec (and network) as JSON",
       "  lcctl container info web1 | jq .spec.process.args",
       {},
       SIZE_MAX,
       Info},
      {"container rm",
       "container rm [-f] ID...",
       "delete containers; one with a task is refused unless -f (which kills the task)",
       "  lcctl container rm web1\n  lcctl container rm -f web1 web2",
       {{"force", 'f', false, "", "kill and delete the task first"}},
       SIZE_MAX,
       Rm},
  };
}

}  // namespace lcctl
