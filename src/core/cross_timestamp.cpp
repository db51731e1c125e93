// SPDX-License-Identifier: Apache-2.0
// Cross-timestamps read from a page source: the snapshot, the sample from
// it and the best of several (the contracts are in cross_timestamp.h).
#include "cross_timestamp.h"

#include <fmt/format.h>

#include "bus_guard.h"
#include "counter.h"
#include "time_math.h"

namespace vmc {

Leap leap_of(abi::LeapIndicator li) {
  switch (li) {
    case abi::LeapIndicator::pre_pos: return Leap::insert;
    case abi::LeapIndicator::pre_neg: return Leap::remove;
    // Nothing left to announce: the second is in progress or over.
    case abi::LeapIndicator::none:
    case abi::LeapIndicator::pos:
    case abi::LeapIndicator::post_pos:
    case abi::LeapIndicator::post_neg: return Leap::none;
  }
  // A value the ABI does not define announces nothing we could pass on:
  // chrony's samples carry only none, insert or delete (its 3 would drop
  // the sample, and an undefined indicator must not gate samples). So no
  // leap flag; dump and status show the raw value as undefined.
  return Leap::none;
}

Result<Snapshot, PageError> take_snapshot(PageSource& src, SeqlockLimits lim) {
  auto view = src.view();
  if (!view) return PageError{view.error()};
  Snapshot s;
  auto bracket = [&] {
    s.before = realtime_now();
    s.counter = read_counter();
    s.after = realtime_now();
  };
  std::optional<Result<RawCopy, PageError>> raw_or;
  const bool in_window = src.counter_in_window();
  bool read = guarded_read([&] {
    raw_or.emplace(in_window ? seqlock_read(view->data(), view->size(), bracket, lim)
                             : seqlock_read(view->data(), view->size(), [] {}, lim));
  });
  if (!read)
    return PageError{make_error(
        Errc::data, fmt::format("{}: the page vanished while being read (SIGBUS: file truncated?)", src.path()))};
  Result<RawCopy, PageError>& raw = *raw_or;
  if (!raw)
    return PageError{make_error(raw.error().code, fmt::format("{}: {}", src.path(), raw.error().message)),
                     raw.error().seqlock};
  if (!src.counter_in_window()) bracket();
  // size may legitimately exceed the 112 bytes we copy (Firecracker: 4096).
  auto page = decode(std::span<const uint8_t>(raw->bytes.data(), raw->len), view->size());
  if (!page) return PageError{make_error(page.error().code, fmt::format("{}: {}", src.path(), page.error().message))};
  s.page = *page;
  s.retries = raw->retries;
  return s;
}

std::optional<Sample> sample_at(const Page& page, const Validity& v, uint64_t counter, SysTime before,
                                SysTime after, std::string& why_not) {
  auto t = time_at(page, counter);
  if (!t) {
    why_not = t.error().message;
    return std::nullopt;
  }
  if (!t->maxerror_ns) {
    why_not = "no valid maxerror at this counter (time_maxerror_valid/period_maxerror_valid clear)";
    return std::nullopt;
  }
  Sample smp;
  smp.counter = counter;
  smp.reference = t->time;
  smp.reference.sec.count += v.utc_minus_page_sec;
  int64_t bracket = after.ns - before.ns;
  if (bracket < 0) {
    why_not = fmt::format("CLOCK_REALTIME went back {} ns during the sample (stepped)", -bracket);
    return std::nullopt;
  }
  smp.bracket_ns = bracket;
  smp.system = SysTime{before.ns + bracket / 2};
  auto offset = diff_ns(smp.reference, smp.system);
  if (!offset) {
    why_not = fmt::format("the page's time ({} s) is too far from the system time for an offset",
                          smp.reference.sec.count);
    return std::nullopt;
  }
  smp.offset = *offset;
  uint64_t half = static_cast<uint64_t>((bracket + 1) / 2);
  smp.maxerror_ns = *t->maxerror_ns + half;
  if (t->esterror_ns) smp.esterror_ns = *t->esterror_ns + half;
  smp.leap = leap_of(page.leap_indicator);
  smp.disruption_marker = page.disruption_marker;
  smp.vm_generation_counter = page.vm_generation_counter;
  smp.seq = page.seq_count;
  return smp;
}

SampleOutcome sample_from(const Snapshot& s, abi::CounterId native) {
  SampleOutcome out{s, assess(s.page, native), std::nullopt, {}};
  if (!out.validity.ok()) {
    out.why_not = describe(out.validity.reason, s.page);
    return out;
  }
  out.sample = sample_at(s.page, out.validity, s.counter, s.before, s.after, out.why_not);
  return out;
}

Result<uint32_t> peek_seq(PageSource& src) {
  auto view = src.view();
  if (!view) return view.error();
  if (view->size() < abi::kMinSize) return make_error(Errc::data, fmt::format("{}: page too short", src.path()));
  uint32_t seq = 0;
  if (!guarded_read([&] { seq = seqlock_begin(view->data()); }))
    return make_error(Errc::data, fmt::format("{}: the page vanished while being read (SIGBUS: file truncated?)",
                                              src.path()));
  return seq;
}

Result<SampleOutcome, PageError> best_sample(PageSource& src, unsigned attempts, SeqlockLimits lim) {
  std::optional<Snapshot> best;
  for (unsigned i = 0; i < std::max(1u, attempts); ++i) {
    auto s = take_snapshot(src, lim);
    if (!s) return s.error();
    // A disruption between attempts: the newest calibration wins.
    if (best && s->page.disruption_marker != best->page.disruption_marker) best.reset();
    // A negative bracket (clock stepped) never wins: sample_from refuses it.
    if (!best || (s->bracket_ns() >= 0 && (best->bracket_ns() < 0 || s->bracket_ns() < best->bracket_ns())))
      best = *s;
  }
  return sample_from(*best);
}

}  // namespace vmc
