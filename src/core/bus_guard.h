// SPDX-License-Identifier: Apache-2.0
#pragma once
// A page file truncated under its mapping raises SIGBUS on the next read.
// guarded_read() (and guarded_load(), for one word) turns that into an
// error for the one read that hit it,
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
#include <cstdint>

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

// Installs the handler now: guarded_read() does so itself, guarded_load()
// does not (it is one load), so its callers call this once before.
inline void install_bus_guard() { detail::install_bus_handler(); }

// One 32-bit load with acquire order (no later load is performed before
// it) from a mapping that may fault, into `v`; false if it faulted. No
// sigsetjmp: the load's address and a fixup are listed in the section
// vmc_bus_fixup, and the handler resumes a fault there at the fixup, which
// says so (the kernel's exception tables, in user space). For paths that
// read a word or two per call (libvmclock's now()).
[[gnu::always_inline]] inline bool guarded_load(const volatile uint32_t* p, uint32_t& v) {
  uint32_t failed;
  // "?": the table entry and the fixup go in the function's own section
  // group, so that an inline copy the linker discards takes them along.
#if defined(__x86_64__)
  asm volatile(
      "xorl %k[f], %k[f]\n"
      "1: movl (%[p]), %k[v]\n"
      "2:\n"
      ".pushsection .text.unlikely.vmc_bus_fixup, \"ax?\"\n"
      "3: movl $1, %k[f]\n"
      "xorl %k[v], %k[v]\n"
      "jmp 2b\n"
      ".popsection\n"
      ".pushsection vmc_bus_fixup, \"a?\"\n"
      ".balign 4\n"
      ".long 1b - ., 3b - .\n"
      ".popsection\n"
      : [v] "=r"(v), [f] "=&r"(failed)
      : [p] "r"(p)
      : "memory");
#elif defined(__aarch64__)
  asm volatile(
      "mov %w[f], #0\n"
      "1: ldar %w[v], [%[p]]\n"
      "2:\n"
      ".pushsection .text.unlikely.vmc_bus_fixup, \"ax?\"\n"
      "3: mov %w[f], #1\n"
      "mov %w[v], #0\n"
      "b 2b\n"
      ".popsection\n"
      ".pushsection vmc_bus_fixup, \"a?\"\n"
      ".balign 4\n"
      ".long 1b - ., 3b - .\n"
      ".popsection\n"
      : [v] "=r"(v), [f] "=&r"(failed)
      : [p] "r"(p)
      : "memory");
#else
#error "guarded_load needs its table entry written for this architecture"
#endif
  return failed == 0;
}

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
