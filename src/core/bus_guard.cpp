// SPDX-License-Identifier: Apache-2.0
#include "bus_guard.h"

#include <mutex>

namespace vmc::detail {

constinit thread_local sigjmp_buf* t_bus_jmp __attribute__((tls_model("initial-exec"))) = nullptr;
std::atomic<bool> g_bus_handler_installed{false};

namespace {
// What was installed before us: a fault that is not ours goes there, so
// that libvmclock never takes an application's SIGBUS handling from it.
struct sigaction g_previous{};

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
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
