// SPDX-License-Identifier: Apache-2.0
#include "page_source.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "file_kind.h"

namespace vmc {

Result<std::unique_ptr<PageSource>> open_page_source(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(Errc::no_input, fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  if (S_ISCHR(st.st_mode)) return open_device_source(path);
  // Opening a FIFO would wait for a writer (the daemon hung there, deaf to
  // SIGTERM); a directory or socket is no page either.
  if (!S_ISREG(st.st_mode))
    return make_error(Errc::no_input, fmt::format("{}: is {}: the page must be the vmclock device or a regular file",
                                                  path, file_kind(st.st_mode)));
  return open_file_source(path);
}

}  // namespace vmc
