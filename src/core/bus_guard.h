// SPDX-License-Identifier: Apache-2.0
#pragma once
// A page file truncated under its mapping raises SIGBUS on the next read.
// guarded_read() turns that into an error for the one read that hit it,
// so that a truncated file never takes the daemon, or an application
// linking libvmclock, down. The handler is installed once, on the first
// guarded read, and hands every SIGBUS that is not a guarded read's to
// the handler installed before it (or to the default action): a library
// must not take an application's signal handling from it. An application
// that installs its own SIGBUS handler later replaces the guard; reads of
// the vmclock device need none (it cannot be truncated).
#include <csetjmp>
#include <csignal>

namespace vmc {

namespace detail {
extern thread_local sigjmp_buf* t_bus_jmp;
void install_bus_handler();
}  // namespace detail

// Runs `f` (which must only copy from the mapping: no objects with
// destructors may be alive inside it when the fault hits). Returns false
// if it faulted.
template <class F>
bool guarded_read(F&& f) {
  detail::install_bus_handler();
  sigjmp_buf jb;
  // No mask to save: the handler runs with SA_NODEFER, so the jump leaves
  // the mask as it was, and saving it would cost a syscall per read.
  if (sigsetjmp(jb, 0) != 0) {
    detail::t_bus_jmp = nullptr;
    return false;
  }
  detail::t_bus_jmp = &jb;
  f();
  detail::t_bus_jmp = nullptr;
  return true;
}

}  // namespace vmc
