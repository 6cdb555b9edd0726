// Internal: a container of the direct backend (its record and bundle on disk), and its tasks.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "direct/process.h"
#include "direct/records.h"
#include "direct/runtime.h"
#include "libcontainerd/client.h"

namespace libcontainerd::direct {

class DirectContainer final : public Container {
 public:
  DirectContainer(std::shared_ptr<State> state, ContainerRecord rec,
                  std::optional<SpecFacts> facts = std::nullopt);

  const std::string& ID() const override { return rec_.id; }
  oci::Spec Spec(const Context& ctx) override;
  std::map<std::string, std::string> Labels(const Context& ctx) override;
  std::string Image(const Context& ctx) override;
  RuntimeInfo Runtime(const Context& ctx) override;
  std::shared_ptr<Task> NewTask(const Context& ctx, const std::string& checkpoint_dir,
                                bool with_stdin, StdioCallback attach_stdio) override;
  std::shared_ptr<Task> GetTask(const Context& ctx) override;
  std::shared_ptr<Task> AttachTask(const Context& ctx, StdioCallback attach_stdio) override;
  void Delete(const Context& ctx) override;

 private:
  ContainerRecord Fetch(const char* op) const;  // kNotFound once deleted
  const SpecFacts& Facts();
  // The existing task's core (pid and state from its monitor, or its exit record).
  std::shared_ptr<class ProcessCore> Existing(const Context& ctx, const char* op, Status* status);

  std::shared_ptr<State> state_;
  ContainerRecord rec_;
  std::once_flag facts_once_;
  std::optional<SpecFacts> facts_;
};

}  // namespace libcontainerd::direct
