// SPDX-License-Identifier: Apache-2.0
#pragma once
// Why /dev/vmclock* cannot be opened, as /sys tells it: the hypervisor
// offers no vmclock device, the kernel has no driver for the one it offers,
// the driver is there but did not take it, or took it without a misc
// device. Read only after an open failed; the sysfs root is a parameter so
// tests can give a fake tree.
#include <optional>
#include <string>
#include <string_view>

#include "result.h"

namespace vmc {

enum class DeviceAbsence {
  no_driver,         // a vmclock device, no ptp_vmclock in the kernel
  driver_not_bound,  // a vmclock device and the driver, which did not take it
  no_misc_device,    // the driver took it but made no /dev/vmclockN
  no_device,         // the hypervisor offers no vmclock device
};

// Stable names for the status file ("no-driver", ...).
std::string_view name(DeviceAbsence a);

struct MissingDevice {
  DeviceAbsence kind;
  std::string why;    // the sentence for people, fixed per kind
  std::string sysfs;  // what /sys showed, with the names found
};

// nullopt when `page_path` is not a /dev/vmclock* path (a page file: its
// open error says everything), when /sys shows the misc device exists (the
// open error, e.g. a permission, says it), or when /sys has no platform bus
// to tell from.
std::optional<MissingDevice> explain_missing_device(std::string_view page_path,
                                                    const std::string& sysfs_root = "/sys");

// The one line for an open error: its message, then the explanation if any.
std::string explain_open_error(const Error& open_error, const std::optional<MissingDevice>& m);

}  // namespace vmc
