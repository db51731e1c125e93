// SPDX-License-Identifier: Apache-2.0
// guarded_read() and guarded_load() (src/core/bus_guard.cpp): a read of a file truncated
// under its mapping is an error for that read, and a SIGBUS that is not a
// guarded read's reaches the handler the application installed before
// (libvmclock must not take an application's signal handling from it).
// Its own binary: the guard is installed once per process.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csetjmp>
#include <csignal>
#include <string>

#include "bus_guard.h"
#include "temp_dir.h"

using namespace vmc;

namespace {
volatile sig_atomic_t g_app_faults = 0;
sigjmp_buf g_app_jump;

void app_handler(int, siginfo_t*, void*) {
  ++g_app_faults;
  siglongjmp(g_app_jump, 1);
}
}  // namespace

TEST_CASE("a guarded read of a truncated mapping fails; any other SIGBUS goes to the application's handler") {
  struct sigaction sa{};
  sa.sa_sigaction = app_handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  REQUIRE(sigaction(SIGBUS, &sa, nullptr) == 0);

  test::TempDir d("bus-guard");
  const std::string f = d.join("page");
  int fd = ::open(f.c_str(), O_RDWR | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, 4096) == 0);
  void* p = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  REQUIRE(p != MAP_FAILED);
  const volatile uint8_t* m = static_cast<const volatile uint8_t*>(p);
  uint8_t x = 0;
  CHECK(guarded_read([&] { x = m[0]; }));  // installs the guard over the application's handler
  REQUIRE(::ftruncate(fd, 0) == 0);

  CHECK_FALSE(guarded_read([&] { x = m[100]; }));
  CHECK(g_app_faults == 0);  // the guard's own fault is not the application's

  if (sigsetjmp(g_app_jump, 0) == 0) {
    x = m[200];  // not guarded: the application's fault
    FAIL("the read of a truncated mapping did not fault");
  }
  CHECK(g_app_faults == 1);

  // The file back at its length: guarded reads work again.
  REQUIRE(::ftruncate(fd, 4096) == 0);
  CHECK(guarded_read([&] { x = m[300]; }));
  CHECK(x == 0);

  // guarded_load(): one word, resumed at its fixup rather than jumped to.
  const auto* w = reinterpret_cast<const volatile uint32_t*>(m);
  uint32_t v = 1;
  CHECK(guarded_load(&w[10], v));
  CHECK(v == 0);
  REQUIRE(::ftruncate(fd, 0) == 0);
  v = 1;
  CHECK_FALSE(guarded_load(&w[20], v));
  CHECK(v == 0);
  CHECK_FALSE(guarded_load(&w[30], v));  // and again: the fixup left the guard as it was
  CHECK(g_app_faults == 1);
  if (sigsetjmp(g_app_jump, 0) == 0) {
    x = m[500];  // still the application's
    FAIL("the read of a truncated mapping did not fault");
  }
  CHECK(g_app_faults == 2);
  REQUIRE(::ftruncate(fd, 4096) == 0);
  CHECK(guarded_load(&w[40], v));
  ::munmap(p, 4096);
  ::close(fd);
}
