// SPDX-License-Identifier: Apache-2.0
#include "notified_source.h"

#include <optional>

#include "cross_timestamp.h"

namespace vmc::test {
namespace {

class NotifiedSource final : public PageSource {
 public:
  NotifiedSource(std::unique_ptr<PageSource> page, Fd fd)
      : PageSource(page->path()), page_(std::move(page)), fd_(std::move(fd)) {
    auto snap = take_snapshot(*page_);
    const bool flag = snap && snap->page.flags.has(abi::Flag::notification_present);
    notifier_.emplace(Notifier::probe(fd_.get(), flag));
  }
  Result<std::span<const volatile uint8_t>> view() override { return page_->view(); }
  Status refresh() override { return page_->refresh(); }
  Notifier* notifier() override { return &*notifier_; }
  bool counter_in_window() const override { return page_->counter_in_window(); }
  bool mapping_is_stable() const override { return page_->mapping_is_stable(); }
  std::string_view kind() const override { return page_->kind(); }

 private:
  std::unique_ptr<PageSource> page_;
  Fd fd_;
  std::optional<Notifier> notifier_;
};

}  // namespace

std::unique_ptr<PageSource> with_notifications(std::unique_ptr<PageSource> page, Fd fd) {
  return std::make_unique<NotifiedSource>(std::move(page), std::move(fd));
}

}  // namespace vmc::test
