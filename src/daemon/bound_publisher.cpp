// SPDX-License-Identifier: Apache-2.0
#include "bound_publisher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fmt/format.h>

#include "logging.h"

namespace vmc {

namespace {

Error io_error(const std::string& path, std::string_view what, int e) {
  return make_error(Errc::io, fmt::format("{}: {}: {}", path, what, std::strerror(e)));
}

// A new segment, written beside the old one and renamed over it: for a
// file this user cannot write (left by a run as root). Readers of the old
// one keep their mapping of it, whose last record (a clean stop) says
// UNKNOWN.
Result<Fd> replace(const std::string& path) {
  const std::string tmp = path + ".new";
  ::unlink(tmp.c_str());
  Fd fd(retry_eintr([&] { return ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644); }));
  if (!fd) return io_error(tmp, "cannot create the bound segment", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return io_error(path, "cannot replace the bound segment", e);
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<BoundPublisher>> BoundPublisher::open(const std::string& path) {
  Fd fd(retry_eintr([&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644); }));
  if (!fd && errno == EACCES) {
    auto r = replace(path);
    if (!r) return r.error();
    log::notice("bound", fmt::format("{}: replaced: the old segment was not writable by uid {}", path, ::geteuid()));
    fd = std::move(*r);
  }
  if (!fd) return io_error(path, "cannot open the bound segment", errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return io_error(path, "fstat", errno);
  if (!S_ISREG(st.st_mode))
    return make_error(Errc::io, fmt::format("{}: not a regular file: refusing to publish the bound there", path));
  // Readers need to map it whatever the daemon's umask was.
  if ((st.st_mode & 07777) != 0644 && fchmod(fd.get(), 0644) != 0) return io_error(path, "fchmod 0644", errno);
  // Every block allocated before anything is written through the mapping:
  // a sparse file on a full tmpfs raises SIGBUS at the first store (it
  // killed the daemon). Never shrinks: a reader's mapping past the end
  // would fault.
  if (int e = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(bound::kFileBytes)); e != 0)
    return io_error(path, fmt::format("cannot allocate {} bytes", bound::kFileBytes), e);
  void* p = ::mmap(nullptr, bound::kFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return io_error(path, "mmap", errno);
  return std::unique_ptr<BoundPublisher>(new BoundPublisher(path, std::move(fd), Mapping(p, bound::kFileBytes)));
}

BoundPublisher::BoundPublisher(std::string path, Fd fd, Mapping map)
    : path_(std::move(path)), fd_(std::move(fd)), map_(std::move(map)),
      seg_(static_cast<volatile bound::segment*>(map_.get())) {
  // Whatever an earlier daemon left: nothing is vouched for until the
  // first publish, and the seq_count carries on so readers see a change.
  publish(bound::Record{});
}

void BoundPublisher::publish(const bound::Record& r) {
  auto* seqp = const_cast<uint32_t*>(&seg_->seq);
  uint32_t s = __atomic_load_n(seqp, __ATOMIC_RELAXED);
  s += (s & 1u) ? 1u : 2u;  // the next even value after an odd one left by a crash, too
  __atomic_store_n(seqp, s - 1, __ATOMIC_RELAXED);
  std::atomic_thread_fence(std::memory_order_release);
  seg_->magic = bound::kMagic;
  seg_->version = bound::kVersion;
  seg_->size = sizeof(bound::segment);
  seg_->status = static_cast<uint32_t>(r.status);
  seg_->disruption_marker = r.disruption_marker;
  seg_->vm_generation = r.vm_generation.value_or(0);
  seg_->as_of_ns = r.as_of_ns;
  seg_->bound_ns = r.bound_ns;
  seg_->max_drift_ppb = r.max_drift_ppb;
  seg_->flags = (r.vm_generation ? bound::kFlagGeneration : 0) | (r.from_chrony ? bound::kFlagFromChrony : 0) |
                (r.stopped ? bound::kFlagStopped : 0) | (r.page_watched ? bound::kFlagPageWatched : 0);
  seg_->stale_after_ns = r.stale_after_ns;
  seg_->void_after_ns = r.void_after_ns;
  __atomic_store_n(seqp, s, __ATOMIC_RELEASE);
  last_ = r;
}

}  // namespace vmc
