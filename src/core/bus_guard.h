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
#include <atomic>
#include <csetjmp>
#include <csignal>

namespace vmc {

namespace detail {
// constinit: no TLS wrapper call per access; initial-exec: no
// __tls_get_addr() call from libvmclock.so either (8 bytes of the static
// TLS glibc reserves for libraries). Both are on vmclock_now()'s path.
extern constinit thread_local sigjmp_buf* t_bus_jmp __attribute__((tls_model("initial-exec")));
extern std::atomic<bool> g_bus_handler_installed;
void install_bus_handler_once();
// Once per process; after that one load, not a call into pthread_once.
inline void install_bus_handler() {
  if (!g_bus_handler_installed.load(std::memory_order_acquire)) [[unlikely]]
    install_bus_handler_once();
}
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
  // The handler reads t_bus_jmp: the fences keep the compiler from
  // dropping or moving its stores across f()'s reads (no call hides them
  // any more: see t_bus_jmp).
  detail::t_bus_jmp = &jb;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  f();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  detail::t_bus_jmp = nullptr;
  return true;
}

}  // namespace vmc
