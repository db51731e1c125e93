#include "bus_guard.h"

#include <mutex>

namespace vmc::detail {

thread_local sigjmp_buf* t_bus_jmp = nullptr;

namespace {
void on_sigbus(int sig, siginfo_t*, void*) {
  if (t_bus_jmp) siglongjmp(*t_bus_jmp, 1);
  // Not ours: die as SIGBUS would have made us.
  signal(sig, SIG_DFL);
  raise(sig);
}
}  // namespace

void install_bus_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa{};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, nullptr);
  });
}

}  // namespace vmc::detail
