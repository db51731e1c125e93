#include "page_reader.h"

#include <fmt/format.h>

#include "logging.h"

namespace vmc {

Status PageReader::open() {
  if (source_) return Ok{};
  auto src = open_page_source(path_);
  if (!src) {
    missing_ = Missing{src.error(), explain_missing_device(path_)};
    return src.error();
  }
  missing_.reset();
  source_ = std::move(*src);
  sampler_ = std::make_unique<Sampler>(*source_);
  last_seq_.reset();
  const std::string note = source_->note();
  log::info("page", fmt::format("reading {} ({}{}{})", source_->path(), source_->kind(),
                                source_->notify_fd() >= 0 ? ", with notifications" : "",
                                note.empty() ? "" : ": " + note));
  return Ok{};
}

bool PageReader::moved() {
  if (!source_) return false;
  auto seq = peek_seq(*source_);
  if (!seq) return false;  // the sample tick reports page errors, once
  // Odd: the host is mid-update (or stuck); a later tick sees the result.
  return !(*seq & 1u) && (!last_seq_ || *seq != *last_seq_);
}

Result<Snapshot, PageError> PageReader::snapshot() {
  auto snap = take_snapshot(*source_);
  if (snap) seen(snap->page.seq_count);
  return snap;
}

Result<SampleOutcome, PageError> PageReader::sample(unsigned attempts) {
  if (auto r = sampler_->refresh(); !r) return PageError{r.error()};
  // A page stuck mid-update is retried briefly, not for the kernel's full
  // 100 ms every time: that would keep a core busy for nothing.
  SeqlockLimits lim;
  if (stuck_) lim.time_limit_ns = 1'000'000;
  sampler_->set_limits(lim);
  auto out = sampler_->best(attempts);
  stuck_ = !out && out.error().seqlock == SeqlockFailure::stuck_odd;
  if (out) seen(out->snapshot.page.seq_count);
  return out;
}

}  // namespace vmc
