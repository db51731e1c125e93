// SPDX-License-Identifier: Apache-2.0
#include "report_file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "fd.h"

namespace vmc {

namespace {
// A new file only: never a file or symlink someone put at that name (a
// status directory another user can write must not make us overwrite the
// target of their link).
int create_new(const std::string& tmp, unsigned mode) {
  return retry_eintr([&] { return ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode); });
}
}  // namespace

Status write_file_atomically(const std::string& path, std::string_view content, unsigned mode) {
  std::string tmp = path + ".tmp";
  Fd fd(create_new(tmp, mode));
  if (!fd && errno == EEXIST) {
    // Left by a crash, or planted: unlink() removes a symlink itself, not
    // its target. One more try; a name that is back at once is refused.
    if (::unlink(tmp.c_str()) == 0 || errno == ENOENT) fd = Fd(create_new(tmp, mode));
  }
  if (!fd) return make_error(Errc::io, fmt::format("{}: cannot create: {}", tmp, std::strerror(errno)));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = retry_eintr([&] { return ::write(fd.get(), content.data() + done, content.size() - done); });
    if (n <= 0) {
      int e = n < 0 ? errno : ENOSPC;
      ::unlink(tmp.c_str());
      return make_error(Errc::io, fmt::format("{}: cannot write: {}", tmp, std::strerror(e)));
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0 || ::close(fd.release()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return make_error(Errc::io, fmt::format("{}: cannot close: {}", tmp, std::strerror(e)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return make_error(Errc::io, fmt::format("{}: cannot rename into place: {}", path, std::strerror(e)));
  }
  return Ok{};
}

}  // namespace vmc
