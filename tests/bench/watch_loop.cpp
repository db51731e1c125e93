// SPDX-License-Identifier: Apache-2.0
// What watching the marker costs on each kernel, in wake-ups per second
// and CPU of the loop's thread: vmclockd's loop (Daemon::step()) over fds
// that answer poll() like each driver (tests/support/notified_source.h),
// under a Firecracker page that sets NOTIFICATION_PRESENT. The baseline,
// measured in the same run, is the decision vmclockd made before: poll the
// fd because the page sets the flag, on a driver without .poll. Prints one
// JSON object.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <string>

#include "clock.h"
#include "daemon.h"
#include "notified_source.h"
#include "page.h"
#include "page_source.h"
#include "signal_wait.h"

using namespace vmc;

namespace {

double thread_cpu_s() {
  rusage r{};
  getrusage(RUSAGE_THREAD, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

struct Figure {
  double wakeups_per_s;
  double cpu_percent;
};

template <class F> Figure measure(double seconds, F&& one_wait) {
  const double c0 = thread_cpu_s();
  const int64_t t0 = mono_now_ns(), end = t0 + static_cast<int64_t>(seconds * 1e9);
  uint64_t n = 0;
  // Bounded in count as well as time: the baseline spins.
  while (mono_now_ns() < end && n < 50'000'000) n += one_wait();
  const double wall = static_cast<double>(mono_now_ns() - t0) / 1e9;
  return {static_cast<double>(n) / wall, 100.0 * (thread_cpu_s() - c0) / wall};
}

std::string write_page(const std::string& dir) {
  Page p;
  p.size = 4096;
  p.counter_id = abi::CounterId::invalid;
  p.flags = abi::Flags{}.with(abi::Flag::vm_gen_counter_present).with(abi::Flag::notification_present);
  p.seq_count = 2;
  p.disruption_marker = 1;
  p.vm_generation_counter = 1;
  uint8_t buf[4096] = {};
  encode(p, buf);
  const std::string path = dir + "/page";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(buf, 1, sizeof buf, f) != sizeof buf) std::exit(70);
  std::fclose(f);
  return path;
}

Figure daemon_loop(const std::string& page, Fd notify, double seconds) {
  Config c;
  c.chrony.sock.clear();
  c.chrony.reset_on_disruption = false;
  c.daemon.status_file.clear();
  c.bound.segment.clear();
  auto holder = std::make_shared<Fd>(std::move(notify));
  Daemon d(c, "", page, [holder](const std::string& p) -> Result<std::unique_ptr<PageSource>> {
    auto src = open_file_source(p);
    if (!src) return src.error();
    return test::with_notifications(std::move(*src), std::move(*holder));
  });
  if (!d.setup()) std::exit(70);
  d.begin();
  return measure(seconds, [&] {
    const uint64_t before = d.counters().wakeups;
    d.step();
    return d.counters().wakeups - before;
  });
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  char tmpl[] = "/tmp/vmc-bench-watch-XXXXXX";
  if (!::mkdtemp(tmpl)) return 70;
  const std::string dir = tmpl;
  const std::string page = write_page(dir);
  auto regular = [&] { return Fd(::open(page.c_str(), O_RDONLY | O_CLOEXEC)); };

  // Before: the fd polled because the page says NOTIFICATION_PRESENT.
  SignalWait w;
  if (!w.setup()) return 70;
  Fd fd = regular();
  int64_t next = mono_now_ns();
  const Figure before = measure(seconds, [&] {
    const int64_t t = mono_now_ns();
    if (t >= next) next = t + 5'000'000;
    (void)w.wait(next, fd.get());
    return 1;
  });
  const Figure no_poll = daemon_loop(page, regular(), seconds);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return 70;
  Fd keep_writer(p[1]);
  const Figure device = daemon_loop(page, Fd(p[0]), seconds);
  std::filesystem::remove_all(dir);
  fmt::print("{{\"seconds\": {}, \"watch_interval_ms\": {}, \"before_no_poll\": {{\"wakeups_per_s\": {:.0f}, \"cpu_percent\": {:.2f}}}, "
             "\"after_no_poll\": {{\"wakeups_per_s\": {:.0f}, \"cpu_percent\": {:.3f}}}, "
             "\"device_quiet\": {{\"wakeups_per_s\": {:.1f}, \"cpu_percent\": {:.3f}}}}}\n",
             seconds, Config{}.source.watch_interval_ms, before.wakeups_per_s, before.cpu_percent, no_poll.wakeups_per_s, no_poll.cpu_percent,
             device.wakeups_per_s, device.cpu_percent);
  return 0;
}
