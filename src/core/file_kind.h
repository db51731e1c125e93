// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a path is when it is not what a reader wants, in the words of its
// refusal ("is a FIFO: ..."): one list for every file vmclockd opens.
#include <sys/stat.h>

namespace vmc {

inline const char* file_kind(mode_t m) {
  if (S_ISREG(m)) return "a regular file";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

}  // namespace vmc
