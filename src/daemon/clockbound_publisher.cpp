// SPDX-License-Identifier: Apache-2.0
#include "clockbound_publisher.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "clock.h"
#include "logging.h"

namespace vmc {

namespace {

namespace cb = clockbound;
static_assert(static_cast<int32_t>(bound::Status::disrupted) == static_cast<int32_t>(cb::Status::disrupted) &&
              static_cast<int32_t>(bound::Status::freerunning) == static_cast<int32_t>(cb::Status::freerunning) &&
              static_cast<int32_t>(bound::Status::synchronized) == static_cast<int32_t>(cb::Status::synchronized) &&
              static_cast<int32_t>(bound::Status::unknown) == static_cast<int32_t>(cb::Status::unknown));

Error io_error(const std::string& path, std::string_view what, int e) {
  return make_error(Errc::io, fmt::format("{}: {}: {}", path, what, std::strerror(e)));
}

int64_t coarse_now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
  return t.tv_sec * kNsPerSec + t.tv_nsec;
}

cb::timespec64 split(int64_t ns) {
  int64_t s = ns / kNsPerSec, r = ns % kNsPerSec;
  if (r < 0) { r += kNsPerSec; --s; }
  return {s, r};
}

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? std::string("/") : path.substr(0, slash);
}

// The segment's directory, made 0755 when it is not there (a run by hand;
// the packages make it at boot). Returns the directory it made, if any.
Result<std::string> ensure_directory(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return make_error(Errc::io, fmt::format("{}: not a directory", dir));
    return std::string();
  }
  if (errno != ENOENT) return io_error(dir, "stat", errno);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return io_error(dir, "cannot create the directory", errno);
  // Clients of any user must reach the segment whatever our umask is.
  if (::chmod(dir.c_str(), 0755) != 0) return io_error(dir, "chmod 0755", errno);
  return dir;
}

}  // namespace

Result<std::unique_ptr<ClockBoundPublisher>> ClockBoundPublisher::open(const std::string& path, int64_t mono_ns) {
  auto made = ensure_directory(parent_of(path));
  if (!made) return made.error();
  Fd fd(retry_eintr([&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644); }));
  if (!fd && errno == EACCES) {
    struct stat st{};
    const bool seen = ::stat(path.c_str(), &st) == 0;
    return make_error(Errc::unavailable,
                      fmt::format("{}: not writable by uid {}{}: another writer's segment (a ClockBound daemon's?); "
                                  "ClockBound clients get no bound from vmclockd",
                                  path, ::geteuid(), seen ? fmt::format(" (owner uid {})", st.st_uid) : ""));
  }
  if (!fd) return io_error(path, "cannot open the ClockBound segment", errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return io_error(path, "fstat", errno);
  if (!S_ISREG(st.st_mode))
    return make_error(Errc::io, fmt::format("{}: not a regular file: refusing to publish the bound there", path));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return make_error(Errc::unavailable,
                        fmt::format("{}: another vmclockd publishes there (it holds the segment's lock)", path));
    return io_error(path, "flock", errno);
  }
  if ((st.st_mode & 07777) != 0644 && ::fchmod(fd.get(), 0644) != 0) return io_error(path, "fchmod 0644", errno);

  cb::segment found{};
  const bool valid = st.st_size >= static_cast<off_t>(cb::kSegmentBytes) &&
                     ::pread(fd.get(), &found, sizeof found, 0) == static_cast<ssize_t>(sizeof found) &&
                     cb::header_usable(found);
  if (!valid) {
    // Nobody can have mapped it (clients map a valid header only): start
    // again from version 0, generation 0, every block allocated (a sparse
    // file on a full tmpfs would SIGBUS at the first store).
    if (::ftruncate(fd.get(), 0) != 0) return io_error(path, "ftruncate", errno);
    if (int e = ::posix_fallocate(fd.get(), 0, cb::kSegmentBytes); e != 0)
      return io_error(path, fmt::format("cannot allocate {} bytes", cb::kSegmentBytes), e);
  }
  void* p = ::mmap(nullptr, cb::kSegmentBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return io_error(path, "mmap", errno);
  auto pub = std::unique_ptr<ClockBoundPublisher>(
      new ClockBoundPublisher(path, std::move(fd), Mapping(p, cb::kSegmentBytes),
                              valid ? State::probation : State::publishing, mono_ns));
  pub->made_dir_ = std::move(*made);
  if (!valid) {
    auto* s = pub->seg_;
    s->magic[0] = cb::kMagic0;
    s->magic[1] = cb::kMagic1;
    s->segsize = cb::kSegmentBytes;
    // Usable once the first write makes the generation non-zero.
    __atomic_store_n(const_cast<uint16_t*>(&s->version), cb::kVersion, __ATOMIC_RELEASE);
  }
  log::info("clockbound", valid ? fmt::format("{}: reusing the segment (generation {}); checking for {} ms that no "
                                              "other process writes it",
                                              path, found.generation, kProbationNs / 1'000'000)
                                : fmt::format("{}: publishing the bound for ClockBound's clients", path));
  return pub;
}

ClockBoundPublisher::ClockBoundPublisher(std::string path, Fd fd, Mapping map, State st, int64_t mono_ns)
    : path_(std::move(path)), fd_(std::move(fd)), map_(std::move(map)),
      seg_(static_cast<volatile clockbound::segment*>(map_.get())), state_(st),
      probation_end_ns_(mono_ns + kProbationNs) {
  ours_ = generation();
  timespec res{};
  clock_getres(CLOCK_MONOTONIC_COARSE, &res);
  coarse_tick_ns_ = res.tv_sec * kNsPerSec + res.tv_nsec;
}

uint16_t ClockBoundPublisher::generation() const {
  return __atomic_load_n(const_cast<const uint16_t*>(&seg_->generation), __ATOMIC_ACQUIRE);
}

void ClockBoundPublisher::refuse(uint16_t found) {
  state_ = State::refused;
  log::warning("clockbound", fmt::format("{}: another process writes it (generation {}, vmclockd left {}): a "
                                         "ClockBound daemon? vmclockd leaves the segment to it and writes it no more",
                                         path_, found, ours_));
}

bool ClockBoundPublisher::still_ours() {
  const uint16_t g = generation();
  if (g == ours_) return true;
  refuse(g);
  return false;
}

void ClockBoundPublisher::publish(const bound::Record& r) {
  if (state_ == State::refused || state_ == State::stopped) return;
  if (r.stopped) {
    // Left for clients to age: FreeRunning and growing, then Unknown at
    // void_after; never a Synchronized nobody stands behind.
    if (!have_record_) return;
    if (last_.status == bound::Status::synchronized) last_.status = bound::Status::freerunning;
    if (state_ == State::publishing) write(mono_now_ns());
    state_ = State::stopped;
    return;
  }
  last_ = r;
  have_record_ = true;
  if (state_ == State::publishing) write(mono_now_ns());
}

void ClockBoundPublisher::tick(int64_t mono_ns) {
  if (state_ == State::probation) {
    if (!still_ours()) return;
    if (mono_ns < probation_end_ns_) return;
    state_ = State::publishing;
    log::info("clockbound", fmt::format("{}: no other writer: publishing the bound for ClockBound's clients", path_));
    if (have_record_) write(mono_ns);
    return;
  }
  if (state_ == State::publishing && have_record_ && mono_ns >= next_write_ns_) write(mono_ns);
}

int64_t ClockBoundPublisher::next_due() const {
  if (state_ == State::probation) return probation_end_ns_;
  if (state_ == State::publishing && have_record_) return next_write_ns_;
  return PublishedSegment::next_due();
}

std::string ClockBoundPublisher::state() const {
  switch (state_) {
    case State::probation: return "checking that no other process writes it";
    case State::publishing: return "publishing";
    case State::refused: return "refused: another process writes it";
    case State::stopped: return "stopped";
  }
  return "unknown";
}

void ClockBoundPublisher::write(int64_t mono_ns) {
  if (!still_ours()) return;
  next_write_ns_ = mono_ns + kRewriteNs;
  const int64_t real = realtime_now().ns;
  const int64_t coarse = coarse_now_ns();
  // Dated a coarse tick early: a client's coarse clock lags the instant it
  // is read by up to a tick, so it never counts less growth than elapsed;
  // and kBackdateNs more for a client preempted inside its call.
  const int64_t as_of = coarse - coarse_tick_ns_ - kBackdateNs;
  bound::Grown g = bound::grow(last_, real);
  if (last_.max_drift_ppb >= clockbound::kMaxDriftPpb) g = bound::Grown{};  // clients would call it malformed
  const bool bounded = g.status == bound::Status::synchronized || g.status == bound::Status::freerunning;
  // +1 ns: clients truncate the growth they add.
  const int64_t bound_nsec = bounded ? static_cast<int64_t>(g.bound_ns) + 1 : 0;
  const int64_t void_after = bounded ? coarse + (last_.as_of_ns + last_.void_after_ns - real) : as_of;

  auto* gp = const_cast<uint16_t*>(&seg_->generation);
  uint16_t gen = __atomic_load_n(gp, __ATOMIC_RELAXED);
  if ((gen & 1u) == 0) gen = static_cast<uint16_t>(gen + 1);  // odd already: a writer died mid-write
  __atomic_store_n(gp, gen, __ATOMIC_RELAXED);
  std::atomic_thread_fence(std::memory_order_release);
  const auto a = split(as_of), v = split(void_after);
  seg_->as_of.sec = a.sec;
  seg_->as_of.nsec = a.nsec;
  seg_->void_after.sec = v.sec;
  seg_->void_after.nsec = v.nsec;
  seg_->bound_nsec = bound_nsec;
  seg_->disruption_marker = last_.disruption_marker;
  seg_->max_drift_ppb = bounded ? last_.max_drift_ppb : 0;
  seg_->clock_status = static_cast<int32_t>(g.status);
  seg_->clock_disruption_support_enabled = last_.page_watched ? 1 : 0;
  for (auto& b : seg_->padding) b = 0;
  ours_ = clockbound::next_even(gen);
  __atomic_store_n(gp, ours_, __ATOMIC_RELEASE);
}

}  // namespace vmc
