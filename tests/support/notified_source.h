// SPDX-License-Identifier: Apache-2.0
#pragma once
// A page source that watches like the vmclock device over any fd: the
// seam through which tests give the watch loop fds that behave like each
// kernel (a regular file for a driver without .poll, an eventfd for the
// 7.0 driver, a pipe whose writer is gone for a hung-up device).
#include <memory>

#include "fd.h"
#include "page_source.h"

namespace vmc::test {

// The notifier is probed at once, from `page`'s NOTIFICATION_PRESENT flag
// and one poll() of `fd`, as the device source does at open.
std::unique_ptr<PageSource> with_notifications(std::unique_ptr<PageSource> page, Fd fd);

}  // namespace vmc::test
