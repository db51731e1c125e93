// SPDX-License-Identifier: Apache-2.0
#include "bus_guard.h"

#include <ucontext.h>

#include <cstdint>
#include <mutex>

namespace vmc::detail {

constinit thread_local sigjmp_buf* t_bus_jmp __attribute__((tls_model("initial-exec"))) = nullptr;
std::atomic<bool> g_bus_handler_installed{false};

namespace {
// What was installed before us: a fault that is not ours goes there, so
// that libvmclock never takes an application's SIGBUS handling from it.
struct sigaction g_previous{};

// guarded_load()'s table: the linker collects every entry between these
// (weak: a program with no guarded_load has no such section).
struct Fixup {
  int32_t load;   // the load's address, relative to this field
  int32_t fixup;  // where to resume, relative to this field
};
extern "C" const Fixup __start_vmc_bus_fixup[] __attribute__((weak, visibility("hidden")));
extern "C" const Fixup __stop_vmc_bus_fixup[] __attribute__((weak, visibility("hidden")));

#if defined(__x86_64__)
uintptr_t get_pc(const ucontext_t* uc) { return static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]); }
void set_pc(ucontext_t* uc, uintptr_t pc) { uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(pc); }
#elif defined(__aarch64__)
uintptr_t get_pc(const ucontext_t* uc) { return static_cast<uintptr_t>(uc->uc_mcontext.pc); }
void set_pc(ucontext_t* uc, uintptr_t pc) { uc->uc_mcontext.pc = pc; }
#endif

// True when the fault was a guarded_load()'s: it then resumes at its fixup.
bool fixed_up(void* ctx) {
  auto* uc = static_cast<ucontext_t*>(ctx);
  const uintptr_t pc = get_pc(uc);
  for (const Fixup* f = __start_vmc_bus_fixup; f && f < __stop_vmc_bus_fixup; ++f) {
    if (reinterpret_cast<uintptr_t>(&f->load) + static_cast<uintptr_t>(static_cast<intptr_t>(f->load)) == pc) {
      set_pc(uc, reinterpret_cast<uintptr_t>(&f->fixup) + static_cast<uintptr_t>(static_cast<intptr_t>(f->fixup)));
      return true;
    }
  }
  return false;
}

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
  if (fixed_up(ctx)) return;
  if (t_bus_jmp) siglongjmp(*t_bus_jmp, 1);
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) return g_previous.sa_sigaction(sig, info, ctx);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    return g_previous.sa_handler(sig);
  }
  // Default (an ignored SIGBUS from a fault kills as well): die as the
  // fault would have made us.
  signal(sig, SIG_DFL);
  raise(sig);
}
}  // namespace

void install_bus_handler_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa{};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous);
    g_bus_handler_installed.store(true, std::memory_order_release);
  });
}

}  // namespace vmc::detail
