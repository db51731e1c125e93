// SPDX-License-Identifier: Apache-2.0
// vmclockd: the vmclock page as time for chrony (and ptp4l).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include "config.h"
#include "daemon.h"
#include "logging.h"
#include "privdrop.h"
#include "runtime_dirs.h"
#include "version.h"

int main(int argc, char** argv) {
  using namespace vmc;
  CLI::App app{"vmclockd: feed chrony (and ptp4l) from the vmclock page, and reset chrony on every disruption",
               "vmclockd"};
  app.set_version_flag("--version", std::string(kVersion));
  std::string config_path;
  std::optional<std::string> page;
  bool check = false, debug = false, print_options = false;
  app.add_option("--config", config_path, fmt::format("configuration file (default {}, if it exists)", kDefaultConfigPath));
  app.add_option("--page", page, "vmclock device or page file; overrides [source] page");
  app.add_flag("--check-config", check, "validate the configuration and exit");
  app.add_flag("--debug", debug, "log debug lines");
  app.add_flag("--print-options", print_options, "print every configuration option with its default");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(Errc::usage);
  }
  log::set_debug(debug);
  if (page)
    if (auto s = check_option("source.page", *page, "--page"); !s) {
      fmt::print(stderr, "vmclockd: {}\n", s.error().message);
      return static_cast<int>(s.error().code);
    }
  if (print_options) {
    fmt::print("{}", describe_options());
    return 0;
  }
  Result<Config> cfg = default_config();
  if (!config_path.empty()) {
    cfg = load_config(config_path);
  } else {
    struct stat st{};
    if (::stat(kDefaultConfigPath, &st) == 0) {
      config_path = kDefaultConfigPath;
      cfg = load_config(config_path);
    }
  }
  if (!cfg) {
    fmt::print(stderr, "vmclockd: {}\n", cfg.error().message);
    return static_cast<int>(cfg.error().code);
  }
  if (page) cfg->source.page = *page;
  if (check) {
    fmt::print("vmclockd: {}: configuration OK\n", cfg->origin);
    return 0;
  }
  // A run by hand on a host without the package: its directories too. One
  // that cannot be made is said here, and is fatal only where it was
  // before (a socket that cannot be bound; a status file is an incident).
  std::vector<std::string> made;
  for (const auto& dir : runtime_dirs(*cfg, chrony_group())) {
    auto m = make_missing_dirs({dir});
    if (!m) log::warning("runtime", m.error().message);
    else made.insert(made.end(), m->begin(), m->end());
  }
  Daemon d(*cfg, config_path, page);
  if (auto s = d.setup(); !s) {
    log::err("daemon", s.error().message);
    // 66 says the configuration file cannot be opened (vmclockd(8)); a
    // socket or file that setup cannot open is the system's failure.
    return static_cast<int>(s.error().code == Errc::no_input ? Errc::os : s.error().code);
  }
  // Everything that needs root (the device, chrony's SHM segment) is open.
  if (cfg->daemon.user.empty()) {
    if (::geteuid() == 0) log::warning("privdrop", "daemon.user is empty: running as root with every capability");
    return d.run();
  }
  // What is opened again later (the page when it is replaced or comes
  // back, the file on a reload) must stay readable after the drop.
  std::vector<std::string> reopened{cfg->source.page};
  if (!config_path.empty()) reopened.push_back(config_path);
  auto unreadable = unreadable_by(cfg->daemon.user, reopened);
  if (!unreadable) {
    log::err("privdrop", unreadable.error().message);
    return static_cast<int>(unreadable.error().code);
  }
  if (!unreadable->empty()) {
    log::warning("privdrop", fmt::format("not switching to user '{}': it could not open {} again (make it readable "
                                         "by that user, or set [daemon] user = \"\"): running as root",
                                         cfg->daemon.user, fmt::join(*unreadable, " and ")));
    return d.run();
  }
  if (auto s = hand_over(cfg->daemon.user, d.files_made()); !s) {
    log::err("privdrop", s.error().message);
    return static_cast<int>(s.error().code);
  }
  if (auto s = give_dirs_to(cfg->daemon.user, made); !s) {
    log::err("privdrop", s.error().message);
    return static_cast<int>(s.error().code);
  }
  std::string note;
  if (auto s = drop_privileges(cfg->daemon.user, &note); !s) {
    log::err("privdrop", s.error().message);
    return static_cast<int>(s.error().code);
  }
  if (!note.empty()) log::info("privdrop", note);
  return d.run();
}
