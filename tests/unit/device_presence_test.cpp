// SPDX-License-Identifier: Apache-2.0
// device_presence: fake /sys trees as the kernels lay them out (a guest
// with the ACPI device and no driver, as on the build machine; the driver
// bound without a misc device; no vmclock device at all) and the answer
// for each.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "device_presence.h"
#include "temp_dir.h"

using namespace vmc;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

struct FakeSys {
  TempDir tmp{"fakesys"};
  const fs::path root = tmp.path;
  FakeSys() {
    dir("bus/platform/devices");
    dir("bus/platform/drivers/vmgenid");
    dir("bus/acpi/devices");
    dir("class/misc/hw_random");
  }
  void dir(const std::string& p) { fs::create_directories(root / p); }
  void link(const std::string& target, const std::string& at) { fs::create_directory_symlink(target, root / at); }
  // The ACPI device and its platform device, no driver: a 6.1 or a
  // CONFIG_PTP_1588_CLOCK_VMCLOCK=n guest on QEMU, Firecracker or EC2.
  void acpi_vmclock() {
    dir("bus/acpi/devices/AMZNC10C:00");
    dir("bus/platform/devices/AMZNC10C:00");
  }
  void driver_registered() { dir("bus/platform/drivers/vmclock"); }
  void bind() {
    driver_registered();
    link("../../bus/platform/drivers/vmclock", "bus/platform/devices/AMZNC10C:00/driver");
    link("../../../../devices/platform/AMZNC10C:00", "bus/platform/drivers/vmclock/AMZNC10C:00");
  }
  std::optional<MissingDevice> ask(std::string_view path = "/dev/vmclock0") const {
    return explain_missing_device(path, root.string());
  }
};

}  // namespace

TEST_CASE("(a) an ACPI vmclock device and no driver: the kernel lacks ptp_vmclock") {
  FakeSys s;
  s.acpi_vmclock();
  auto m = s.ask();
  REQUIRE(m);
  CHECK(m->kind == DeviceAbsence::no_driver);
  CHECK(m->why == "the kernel has no ptp_vmclock driver (needs Linux 6.13+ with CONFIG_PTP_1588_CLOCK_VMCLOCK)");
  CHECK(m->sysfs.find("AMZNC10C:00 has no driver") != std::string::npos);
}

TEST_CASE("an ACPI device seen on one bus only is still a device") {
  FakeSys s;
  s.dir("bus/platform/devices/AMZNC10C:01");
  auto m = s.ask();
  REQUIRE(m);
  CHECK(m->kind == DeviceAbsence::no_driver);
  CHECK(m->sysfs.find("AMZNC10C:01") != std::string::npos);
}

TEST_CASE("the driver is in the kernel but did not take the device: its probe failed") {
  for (const char* evidence : {"bus/platform/drivers/vmclock", "module/ptp_vmclock"}) {
    CAPTURE(evidence);
    FakeSys s;
    s.acpi_vmclock();
    s.dir(evidence);
    auto m = s.ask();
    REQUIRE(m);
    CHECK(m->kind == DeviceAbsence::driver_not_bound);
    CHECK(m->why.find("probe failed") != std::string::npos);
    CHECK(m->sysfs.find(evidence) != std::string::npos);
  }
}

TEST_CASE("(c) the driver bound the device but made no misc device: only a PTP clock") {
  FakeSys s;
  s.acpi_vmclock();
  s.bind();
  auto m = s.ask();
  REQUIRE(m);
  CHECK(m->kind == DeviceAbsence::no_misc_device);
  CHECK(m->why.find("smaller than the kernel's page size") != std::string::npos);
  CHECK(m->sysfs.find("AMZNC10C:00 bound to the driver") != std::string::npos);
}

TEST_CASE("(c) a device-tree device the driver holds counts as bound") {
  FakeSys s;
  s.driver_registered();
  s.dir("devices/platform/fed00000.vmclock");
  s.link("../../../../devices/platform/fed00000.vmclock", "bus/platform/drivers/vmclock/fed00000.vmclock");
  auto m = s.ask();
  REQUIRE(m);
  CHECK(m->kind == DeviceAbsence::no_misc_device);
  CHECK(m->sysfs.find("fed00000.vmclock") != std::string::npos);
}

TEST_CASE("(b) no vmclock device from the hypervisor: no time and no restore signal, VMGenID gives none") {
  FakeSys s;
  s.dir("bus/acpi/devices/VMGENCTR:00");
  s.dir("bus/platform/devices/VMGENCTR:00");
  auto m = s.ask();
  REQUIRE(m);
  CHECK(m->kind == DeviceAbsence::no_device);
  CHECK(m->why.starts_with("the hypervisor offers no vmclock device: this guest gets no time and no "
                           "migration/restore signal from it"));
  CHECK(m->why.find("VM Generation ID") != std::string::npos);
  CHECK(m->sysfs.find("VM Generation ID device VMGENCTR:00 present") != std::string::npos);

  FakeSys bare;  // Hyper-V or VMware without a VMGENCTR name: the same answer
  auto b = bare.ask();
  REQUIRE(b);
  CHECK(b->kind == DeviceAbsence::no_device);
  CHECK(b->sysfs.find("VM Generation ID") == std::string::npos);
}

TEST_CASE("no explanation when the misc device exists, the path is a page file, or there is no /sys") {
  FakeSys s;
  s.acpi_vmclock();
  s.bind();
  s.dir("class/misc/vmclock0");
  CHECK_FALSE(s.ask());  // the open error (a permission, a missing node) says it

  FakeSys f;  // (d): a page file for the simulator, whatever /sys shows
  CHECK(f.ask("/dev/vmclock0"));
  CHECK_FALSE(f.ask("/run/vmclock-sim/page"));
  CHECK_FALSE(f.ask("/dev/ptp0"));

  CHECK_FALSE(explain_missing_device("/dev/vmclock0", (f.root / "absent").string()));
}

TEST_CASE("the open error comes first, the explanation after it, on one line") {
  const Error e{Errc::no_input, "/dev/vmclock0: cannot open: No such file or directory"};
  CHECK(explain_open_error(e, std::nullopt) == e.message);
  const MissingDevice m{DeviceAbsence::no_device, "why", "what /sys shows"};
  const std::string line = explain_open_error(e, m);
  CHECK(line.starts_with(e.message + ": why"));
  CHECK(line.find("what /sys shows") != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("each kind has its own status name") {
  std::set<std::string_view> names;
  for (auto k : {DeviceAbsence::no_driver, DeviceAbsence::driver_not_bound, DeviceAbsence::no_misc_device,
                 DeviceAbsence::no_device})
    names.insert(name(k));
  CHECK(names.size() == 4);
  CHECK(names.count("cannot-open") == 0);  // the status's own reason for a page file
}
