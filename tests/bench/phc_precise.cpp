// SPDX-License-Identifier: Apache-2.0
// The kernel's way for comparison: PTP_SYS_OFFSET_PRECISE on a PHC
// (/dev/ptp*, e.g. the ptp_vmclock driver's). Prints JSON with the cost of
// one ioctl against one clock_gettime, or {"skipped": "..."}.
#include <fcntl.h>
#include <glob.h>
#include <linux/ptp_clock.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <vector>

static int64_t mono() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

int main() {
  glob_t g{};
  if (glob("/dev/ptp*", 0, nullptr, &g) != 0 || g.gl_pathc == 0) {
    fmt::print("{{\"skipped\": \"no /dev/ptp*\"}}\n");
    return 0;
  }
  std::string errors;
  for (size_t i = 0; i < g.gl_pathc; ++i) {
    const char* path = g.gl_pathv[i];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { errors += fmt::format("{}: {}; ", path, strerror(errno)); continue; }
    ptp_sys_offset_precise p{};
    if (ioctl(fd, PTP_SYS_OFFSET_PRECISE, &p) != 0) {
      errors += fmt::format("{}: PTP_SYS_OFFSET_PRECISE: {}; ", path, strerror(errno));
      close(fd);
      continue;
    }
    constexpr int kN = 20000;
    std::vector<int64_t> ioc, cg;
    for (int r = 0; r < 5; ++r) {
      int64_t t0 = mono();
      for (int k = 0; k < kN; ++k) ioctl(fd, PTP_SYS_OFFSET_PRECISE, &p);
      int64_t t1 = mono();
      timespec ts;
      for (int k = 0; k < kN; ++k) clock_gettime(CLOCK_REALTIME, &ts);
      int64_t t2 = mono();
      ioc.push_back((t1 - t0) / kN);
      cg.push_back((t2 - t1) / kN);
    }
    std::sort(ioc.begin(), ioc.end());
    std::sort(cg.begin(), cg.end());
    fmt::print("{{\"device\": \"{}\", \"ioctl_ns\": {}, \"clock_gettime_ns\": {}, \"ratio\": {:.2f}}}\n", path, ioc[2],
               cg[2], static_cast<double>(ioc[2]) / static_cast<double>(std::max<int64_t>(1, cg[2])));
    close(fd);
    return 0;
  }
  fmt::print("{{\"skipped\": \"{}\"}}\n", errors);
  return 0;
}
