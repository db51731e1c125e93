// SPDX-License-Identifier: Apache-2.0
#include "daemon_ptp4l.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>

#include "gm_updater.h"
#include "logging.h"

namespace vmc {

namespace {

class UpdaterFeed final : public Ptp4lFeed {
 public:
  explicit UpdaterFeed(ptp::GrandmasterUpdater u) : updater_(std::move(u)) {}
  ~UpdaterFeed() override {
    // Never leave ptp4l announcing class 6 for a feed that is gone.
    if (!updater_.status().applied) return;  // ptp4l never had our settings
    if (auto s = updater_.withdraw(); !s) log::warning("ptp4l", fmt::format("withdraw at exit: {}", s.error().message));
  }

  void on_disruption() override { disrupted_ = true; }

  void tick(bool disrupted, const std::optional<Page>& page, const std::optional<Sample>& sample,
            int64_t mono_ns) override {
    const bool samples_ok = sample.has_value() && !disrupted;
    ptp::ClockView v;
    v.have_page = page.has_value();
    v.samples_ok = samples_ok;
    v.disrupted = disrupted || disrupted_;
    if (page) {
      v.status = page->clock_status;
      v.leap = page->leap_indicator;
      // TAI - UTC is positive whichever sign convention the host uses, and
      // a UTC page may carry it too.
      if (page->flags.has(abi::Flag::tai_offset_valid) && page->tai_offset_sec != 0)
        v.tai_minus_utc = std::abs(static_cast<int>(page->tai_offset_sec));
    }
    if (samples_ok) {
      // ptp4l serves the system clock, not the page: its error is the
      // page's bound plus how far chrony still has the clock from it (large
      // right after a migration, until chrony has caught up).
      const uint64_t off = static_cast<uint64_t>(std::llabs(sample->offset.count));
      v.maxerror_ns = sample->maxerror_ns + off;
      if (sample->esterror_ns) v.esterror_ns = *sample->esterror_ns + off;
    }
    updater_.tick(v, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(mono_ns)));
    // A disruption is announced for at least one update, so the downgrade
    // reaches ptp4l; the hysteresis then holds back the recovery.
    if (samples_ok) disrupted_ = false;
  }

  nlohmann::json status_json() const override { return ptp::to_json(updater_.status()); }

 private:
  ptp::GrandmasterUpdater updater_;
  bool disrupted_ = false;
};

}  // namespace

Result<std::unique_ptr<Ptp4lFeed>> Ptp4lFeed::create(const Config& cfg) {
  auto o = ptp4l_options(cfg);
  if (!o) return make_error(Errc::software, "the ptp4l feed needs a [ptp4l] section");
  auto u = ptp::GrandmasterUpdater::create(*o, [](std::string_view line) { log::prefixed(line); });
  if (!u) return u.error();
  return std::unique_ptr<Ptp4lFeed>(std::make_unique<UpdaterFeed>(std::move(*u)));
}

}  // namespace vmc
