// SPDX-License-Identifier: Apache-2.0
// Reload sequences: good and bad configurations applied in turn through
// build_outputs() (src/daemon/outputs.cpp), as SIGHUP applies them. After
// each refused one the outputs are exactly the previous ones (the same
// sink, command client and ptp4l feed objects); after each accepted one,
// a part whose section did not change is the same object as before.
// Each input byte is one step: which key to change, and to a good or a
// bad value (a directory that does not exist cannot hold the bound reply
// sockets).
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <string>

#include "config.h"
#include "logging.h"
#include "outputs.h"

using namespace vmc;

namespace {

struct Same {
  const void *sink, *commands, *ptp;
  size_t sinks;
  explicit Same(const Outputs& o)
      : sink(o.sinks.empty() ? nullptr : o.sinks[0].get()), commands(o.commands.get()), ptp(o.ptp.get()),
        sinks(o.sinks.size()) {}
  bool operator==(const Same&) const = default;
};

const std::string& dir() {
  // Never destroyed: the exit handler below still needs it after static
  // destructors ran.
  static const std::string* d = [] {
    // Under $TMPDIR: the smoke script points it at a scratch directory it
    // removes, in case libFuzzer leaves without running exit handlers.
    const char* tmp = std::getenv("TMPDIR");
    std::string t = std::string(tmp && *tmp ? tmp : "/tmp") + "/vmc-fuzz-reload-XXXXXX";
    if (!::mkdtemp(t.data())) __builtin_trap();
    std::filesystem::create_directory(t + "/b");
    return new std::string(t);
  }();
  return *d;
}

Config base() {
  Config c;
  c.chrony.sock = dir() + "/chrony.sock";
  c.chrony.command_socket = dir() + "/chronyd.sock";
  c.chrony.client_dir = dir();
  c.ptp4l.emplace();
  c.ptp4l->uds_address = dir() + "/ptp4l";
  c.ptp4l->client_address = dir() + "/pmc.sock";
  return c;
}

// One step's change to `c`: the low bits pick the key, the high bit a bad
// value where the key has one.
void mutate(Config& c, uint8_t op) {
  const bool bad = op & 0x80;
  const std::string bad_dir = "/nonexistent-vmc-dir";
  switch (op & 0x0f) {
    case 0: c.chrony.sock = bad ? "" : dir() + (c.chrony.sock.ends_with("a.sock") ? "/b.sock" : "/a.sock"); break;
    case 1: c.chrony.client_dir = bad ? bad_dir : (c.chrony.client_dir == dir() ? dir() + "/b" : dir()); break;
    case 2: c.chrony.reset_on_disruption = !c.chrony.reset_on_disruption; break;
    case 3: c.chrony.command_socket = bad ? "" : dir() + "/chronyd.sock"; break;
    case 4:
      if (c.ptp4l) c.ptp4l.reset();
      else c.ptp4l = base().ptp4l;
      break;
    case 5:
      if (c.ptp4l) c.ptp4l->client_address = bad ? bad_dir + "/pmc.sock" : dir() + "/pmc.sock";
      break;
    case 6:
      if (c.ptp4l) c.ptp4l->client_address = bad ? bad_dir + "/pmc2.sock" : "";
      break;
    case 7:
      if (c.ptp4l) c.ptp4l->domain_number = (c.ptp4l->domain_number + 1) % 128;
      break;
    case 8: c.chrony.burst = !c.chrony.burst; break;
    case 9: c.sampling.interval_ms = bad ? 100 : 250; break;
    default: break;  // a reload of an unchanged file
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_sink([](log::Level, std::string_view, std::string_view) {});
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(dir(), ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64) return -1;
  Config cfg = base();
  Outputs cur;
  {
    auto first = build_outputs(cfg, nullptr, cur);
    if (!first) __builtin_trap();
    cur = std::move(*first);
  }
  for (size_t i = 0; i < size; ++i) {
    Config neu = cfg;
    mutate(neu, data[i]);
    const Same before(cur);
    auto r = build_outputs(neu, &cfg, cur);
    if (!r) {
      if (r.error().message.empty()) __builtin_trap();
      // Refused: nothing half-applied.
      if (!(Same(cur) == before)) __builtin_trap();
      continue;
    }
    const Same after(*r);
    if (neu.chrony == cfg.chrony && (after.sink != before.sink || after.commands != before.commands))
      __builtin_trap();
    if (neu.ptp4l == cfg.ptp4l && neu.chrony.client_dir == cfg.chrony.client_dir && after.ptp != before.ptp)
      __builtin_trap();
    if (neu.ptp4l.has_value() != (after.ptp != nullptr)) __builtin_trap();
    cur = std::move(*r);
    cfg = std::move(neu);
  }
  return 0;
}
