// Internal: what both backends check of NewTask's and Exec's arguments before they ask the
// runtime for anything (the same errors, naming what was wrong and what to do), and the
// ForceDelete both Task classes make of their process core's Kill, Wait and Delete.
#pragma once

#include <csignal>
#include <string>

#include "libcontainerd/context.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/spec.h"

namespace libcontainerd {

// NewTask: the spec's root.path is a directory (kNotFound naming it: prepare it first). A
// relative path is checked against `bundle_dir`, only when one is given (containerd's bundle
// is not the caller's to see). A terminal needs stdio; a checkpoint directory must be
// absolute (kInvalidArgument).
void CheckNewTask(const std::string& root_path, const std::string& bundle_dir, bool terminal,
                  bool has_stdio, const std::string& checkpoint_dir, ErrorContext ectx);

// Exec: the exec id (ValidateIdentifier's error) and the process (kInvalidArgument with
// oci::ValidateProcess's reason); a terminal needs stdio (kInvalidArgument).
void CheckExec(const std::string& exec_id, const oci::Process& spec, bool has_stdio,
               const ErrorContext& ectx);

// Task::ForceDelete: SIGKILL to every process of the task (one already gone, or stopped, is no
// error), wait for the init process, delete it. When the delete finds it gone (another Client
// deleted it), the process's stdio is released all the same. `Core` has Kill(ctx, signal,
// all), Wait(ctx), Delete(ctx) and ReleaseIO(remove_fifos).
template <typename Core>
void ForceDeleteTask(Core& core, const Context& ctx) {
  try {
    core.Kill(ctx, SIGKILL, true);
  } catch (const Error& e) {
    if (!IsNotFound(e) && !IsFailedPrecondition(e)) throw;
  }
  try {
    core.Wait(ctx);
  } catch (const Error& e) {
    if (!IsNotFound(e)) throw;
  }
  try {
    core.Delete(ctx);
  } catch (const Error& e) {
    if (!IsNotFound(e)) throw;
    core.ReleaseIO(true);
  }
}

}  // namespace libcontainerd
