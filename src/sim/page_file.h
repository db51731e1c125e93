// SPDX-License-Identifier: Apache-2.0
#pragma once
// The page file the simulator owns: created whole under a temporary name
// and renamed over the target, so that a reader never sees a partial page,
// then updated in place through a shared mapping.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fd.h"
#include "page.h"
#include "page_writer.h"
#include "result.h"

namespace vmc::sim {

class PageFile {
 public:
  // Writes `first` (file_bytes(first.size) on disk, the rest zero) and
  // renames it over `path`. Errc::io naming the path and the reason.
  static Result<PageFile> create(const std::string& path, const Page& first);
  // The file holds whole 4 KiB pages, as many as `size` needs (at least
  // one): the structure a host exposes lives in a page of the guest's.
  static size_t file_bytes(uint32_t size);

  void publish(const Page& p) { writer_.publish(p); }
  void publish_stuck(const Page& p) { writer_.publish_stuck(p); }
  uint32_t seq() const { return writer_.seq(); }

 private:
  PageFile(Fd fd, Mapping map, size_t writer_len)
      : fd_(std::move(fd)), map_(std::move(map)), writer_(static_cast<volatile uint8_t*>(map_.get()), writer_len) {}
  Fd fd_;
  Mapping map_;
  PageWriter writer_;
};

}  // namespace vmc::sim
