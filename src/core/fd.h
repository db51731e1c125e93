// SPDX-License-Identifier: Apache-2.0
#pragma once
// RAII for file descriptors and mappings; EINTR retried in one place.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <utility>

namespace vmc {

template <class F>
auto retry_eintr(F&& f) {
  for (;;) {
    auto r = f();
    if (r != -1 || errno != EINTR) return r;
  }
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) { reset(); fd_ = std::exchange(o.fd_, -1); }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

class Mapping {
 public:
  Mapping() = default;
  Mapping(void* p, size_t len) : p_(p), len_(len) {}
  Mapping(Mapping&& o) noexcept : p_(std::exchange(o.p_, nullptr)), len_(std::exchange(o.len_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) { reset(); p_ = std::exchange(o.p_, nullptr); len_ = std::exchange(o.len_, 0); }
    return *this;
  }
  ~Mapping() { reset(); }
  void reset() {
    if (p_) ::munmap(p_, len_);
    p_ = nullptr;
    len_ = 0;
  }
  void* get() const { return p_; }
  size_t size() const { return len_; }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  void* p_ = nullptr;
  size_t len_ = 0;
};

}  // namespace vmc
