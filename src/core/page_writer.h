// SPDX-License-Identifier: Apache-2.0
#pragma once
// The host side of the seqlock, for the simulator and tests: seq_count odd,
// fields, seq_count even, with release ordering between the steps.
#include <cstddef>
#include <cstdint>

#include "page.h"

namespace vmc {

class PageWriter {
 public:
  // `base` is a writable, 8-byte aligned mapping of at least `len` bytes.
  PageWriter(volatile uint8_t* base, size_t len) : base_(base), len_(len) {}

  // Publishes `p` (its seq_count is ignored; the writer owns the sequence).
  void publish(const Page& p);
  // Leaves seq_count odd after writing `p`, as a host that died mid-update.
  void publish_stuck(const Page& p);
  // Sets the sequence to continue from (e.g. what a file already holds).
  void set_seq(uint32_t s) { seq_ = s; }
  uint32_t seq() const { return seq_; }

 private:
  void store_seq(uint32_t v, int order);
  void store_body(const Page& p);
  volatile uint8_t* base_;
  size_t len_;
  uint32_t seq_ = 0;
};

}  // namespace vmc
