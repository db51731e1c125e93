// SPDX-License-Identifier: Apache-2.0
// The simulator's page file (page_file.h): created whole, then renamed.
#include "page_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <vector>

namespace vmc::sim {

size_t PageFile::file_bytes(uint32_t size) {
  return std::max<size_t>(abi::kPageBytes, (size_t{size} + abi::kPageBytes - 1) / abi::kPageBytes * abi::kPageBytes);
}

Result<PageFile> PageFile::create(const std::string& path, const Page& first) {
  std::string tmpl = path + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  Fd fd(::mkstemp(name.data()));
  if (!fd) return make_error(Errc::io, fmt::format("page {}: cannot create {}: {}", path, name.data(), std::strerror(errno)));
  const std::string tmp(name.data());
  auto fail = [&](std::string_view what) {
    int e = errno;
    ::unlink(tmp.c_str());
    return make_error(Errc::io, fmt::format("page {}: {} {}: {}", path, what, tmp, std::strerror(e)));
  };
  // Readers are usually other users (chronyd, the daemon after dropping root).
  if (::fchmod(fd.get(), 0644) != 0) return fail("cannot chmod");
  const size_t len = file_bytes(first.size);
  // Every block allocated before the first store through the mapping: a
  // sparse file on a full tmpfs raises SIGBUS there (it killed the sim).
  if (int e = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(len)); e != 0) {
    errno = e;
    return fail(fmt::format("cannot allocate {} bytes for", len));
  }
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return fail("cannot map");
  Mapping map(p, len);
  // A host whose structure is shorter than 112 bytes writes nothing past
  // it; the writer is limited so that bytes beyond `size` stay zero.
  size_t writer_len = first.size < abi::kSizeWithGeneration ? (first.size & ~size_t{7}) : len;
  PageFile f(std::move(fd), std::move(map), writer_len);
  f.publish(first);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename over the page from");
  return f;
}

}  // namespace vmc::sim
