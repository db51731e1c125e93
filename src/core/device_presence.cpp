// SPDX-License-Identifier: Apache-2.0
// Reads the few /sys entries that tell why there is no /dev/vmclock*: the
// ACPI device (HID AMZNC10C, as QEMU, Firecracker and EC2 name it), the
// platform driver ptp_vmclock registers ("vmclock"), its module, and the
// misc devices it made. Facts: shared/reference/real-guests.md.
#include "device_presence.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <vector>

namespace vmc {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDevicePrefix = "/dev/vmclock";
constexpr std::string_view kAcpiHid = "AMZNC10C:";
constexpr std::string_view kVmgenidHid = "VMGENCTR:";

bool is_there(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// Entry names in `dir` starting with `prefix`, sorted; none when `dir` is absent.
std::vector<std::string> entries(const fs::path& dir, std::string_view prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (n.starts_with(prefix)) out.push_back(std::move(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The devices a platform driver holds: its directory's symlinks but "module".
std::vector<std::string> bound_to(const fs::path& driver_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(driver_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code lc;
    std::string n = it->path().filename().string();
    if (n != "module" && it->is_symlink(lc)) out.push_back(std::move(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string driver_of(const fs::path& dev) {
  std::error_code ec;
  const fs::path target = fs::read_symlink(dev / "driver", ec);
  return ec ? std::string() : target.filename().string();
}

template <class Names> std::string joined(const Names& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::string_view name(DeviceAbsence a) {
  switch (a) {
    case DeviceAbsence::no_driver: return "no-driver";
    case DeviceAbsence::driver_not_bound: return "driver-not-bound";
    case DeviceAbsence::no_misc_device: return "no-misc-device";
    case DeviceAbsence::no_device: return "no-device";
  }
  return "unknown";
}

std::optional<MissingDevice> explain_missing_device(std::string_view page_path, const std::string& sysfs_root) {
  if (!page_path.starts_with(kDevicePrefix)) return std::nullopt;
  const fs::path sys(sysfs_root);
  const fs::path platform = sys / "bus/platform/devices";
  if (!is_there(platform)) return std::nullopt;  // no /sys to tell from (a container, a chroot)
  if (!entries(sys / "class/misc", "vmclock").empty()) return std::nullopt;

  const fs::path driver_dir = sys / "bus/platform/drivers/vmclock";
  std::set<std::string> devices;
  for (auto& n : entries(sys / "bus/acpi/devices", kAcpiHid)) devices.insert(n);
  for (auto& n : entries(platform, kAcpiHid)) devices.insert(n);
  std::set<std::string> bound;
  for (auto& n : bound_to(driver_dir)) bound.insert(n);  // device-tree devices too
  for (const auto& n : devices)
    if (!driver_of(platform / n).empty()) bound.insert(n);
  devices.insert(bound.begin(), bound.end());

  if (devices.empty()) {
    const auto vmgenid = entries(sys / "bus/acpi/devices", kVmgenidHid);
    return MissingDevice{
        DeviceAbsence::no_device,
        "the hypervisor offers no vmclock device: this guest gets no time and no migration/restore signal from it "
        "(a VM Generation ID device gives user space no signal on Linux)",
        fmt::format("no {}* device in {}/bus/acpi/devices or {}/bus/platform/devices{}", kAcpiHid, sysfs_root,
                    sysfs_root,
                    vmgenid.empty() ? "" : fmt::format("; VM Generation ID device {} present", joined(vmgenid)))};
  }
  if (!bound.empty()) {
    return MissingDevice{DeviceAbsence::no_misc_device,
                         "the ptp_vmclock driver took the vmclock device but made no /dev/vmclock: the page's size "
                         "is smaller than the kernel's page size, so it registered only a PTP clock",
                         fmt::format("{} bound to the driver; no vmclock* in {}/class/misc", joined(bound), sysfs_root)};
  }
  const bool driver_dir_exists = is_there(driver_dir);
  const bool module_exists = is_there(sys / "module/ptp_vmclock");
  if (driver_dir_exists || module_exists) {
    return MissingDevice{DeviceAbsence::driver_not_bound,
                         "the ptp_vmclock driver is in the kernel but did not take the vmclock device (its probe "
                         "failed: see the kernel log)",
                         fmt::format("{} has no driver; {} exists", joined(devices),
                                     driver_dir_exists ? driver_dir.string() : (sys / "module/ptp_vmclock").string())};
  }
  return MissingDevice{DeviceAbsence::no_driver,
                       "the kernel has no ptp_vmclock driver (needs Linux 6.13+ with CONFIG_PTP_1588_CLOCK_VMCLOCK)",
                       fmt::format("{} has no driver; no {} and no {}/module/ptp_vmclock", joined(devices),
                                   driver_dir.string(), sysfs_root)};
}

std::string explain_open_error(const Error& open_error, const std::optional<MissingDevice>& m) {
  if (!m) return open_error.message;
  return fmt::format("{}: {} [{}]", open_error.message, m->why, m->sysfs);
}

}  // namespace vmc
