// SPDX-License-Identifier: Apache-2.0
// vmclockd.toml: the option table against the Config sections, the man
// page and the packaged file; load_config() on paths that are not a file.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config.h"
#include "config_ptp4l.h"
#include "fd.h"
#include "shm_sample.h"
#include "temp_dir.h"

using namespace vmc;
using test::TempDir;

namespace {

// One key as --print-options lists it: "# help (type)" then "#key = default".
struct Listed {
  std::string section, key, type, value;  // type: "integer A..B", "string" or "boolean"
};

std::vector<Listed> listed_options() {
  std::vector<Listed> out;
  std::istringstream in(describe_options());
  std::string line, section, type;
  const std::regex header(R"(^\[(\w+)\]$)"), help(R"(^# .* \(([^()]+)\)$)"), key(R"(^#(\w+) = (.*)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, header)) section = m[1];
    else if (std::regex_match(line, m, help)) type = m[1];
    else if (std::regex_match(line, m, key)) out.push_back({section, m[1], type, m[2]});
  }
  return out;
}

// The sections two configs differ in: the test's own account of which
// member is which section, against the table's.
std::set<std::string> differing(const Config& a, const Config& b) {
  std::set<std::string> s;
  if (a.source != b.source) s.insert("source");
  if (a.sampling != b.sampling) s.insert("sampling");
  if (a.chrony != b.chrony) s.insert("chrony");
  if (a.daemon != b.daemon) s.insert("daemon");
  if (a.bound != b.bound) s.insert("bound");
  if (a.clockbound != b.clockbound) s.insert("clockbound");
  if (a.ptp4l != b.ptp4l) s.insert("ptp4l");
  return s;
}

std::string file_of(const std::vector<Listed>& keys, const std::map<std::string, std::string>& values,
                    const std::string& skip = "") {
  std::string text, section;
  for (const auto& k : keys) {
    if (k.section != section) text += "[" + (section = k.section) + "]\n";
    if (k.section + "." + k.key != skip) text += k.key + " = " + values.at(k.section + "." + k.key) + "\n";
  }
  return text;
}

std::string read_source(const std::string& rel) {
  std::ifstream in(std::string(VMC_SOURCE_DIR) + "/" + rel);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Error refusal(const std::string& path) {
  auto r = load_config(path);
  REQUIRE_FALSE(r.ok());
  INFO(r.error().message);
  CHECK(r.error().message.rfind(path + ": ", 0) == 0);
  return r.error();
}

}  // namespace

TEST_CASE("the listing, uncommented, is a file of exactly the defaults") {
  std::string text;
  std::istringstream in(describe_options());
  for (std::string line; std::getline(in, line);)
    text += (line.size() > 1 && line[0] == '#' && line[1] != ' ' ? line.substr(1) : line) + "\n";
  auto r = parse_config(text, "listing");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  Config want;
  want.ptp4l.emplace();
  want.origin = "listing";
  CHECK(*r == want);
  CHECK(listed_options().size() >= 30);
}

TEST_CASE("every listed key parses and lands in its own section's member") {
  const auto keys = listed_options();
  REQUIRE(!keys.empty());
  std::map<std::string, std::string> values;  // a valid value that is not the default
  for (const auto& k : keys) {
    const std::string name = k.section + "." + k.key;
    CAPTURE(name);
    std::vector<std::string> candidates;
    if (k.type == "boolean") {
      candidates = {k.value == "true" ? "false" : "true"};
    } else if (k.type == "string") {
      const std::string d = k.value.substr(1, k.value.size() - 2);
      candidates = {"\"" + d + "x\"", "\"/x\"", "\"page\"", "\"ntp\"", "\"\""};
    } else {
      REQUIRE(k.type.rfind("integer ", 0) == 0);
      const long long d = std::stoll(k.value);
      candidates = {std::to_string(d + 1), std::to_string(d - 1)};
    }
    Config defaults;
    if (k.section == "ptp4l") defaults.ptp4l.emplace();
    for (const auto& c : candidates) {
      auto r = parse_config("[" + k.section + "]\n" + k.key + " = " + c + "\n", "one");
      if (!r) continue;
      defaults.origin = "one";
      if (*r == defaults) continue;
      CHECK(differing(*r, defaults) == std::set<std::string>{k.section});
      values[name] = c;
      break;
    }
    REQUIRE_MESSAGE(values.count(name), "no value other than the default is accepted");
  }
  // Every key set at once, then each left out: leaving a key out changes
  // its section and only it, so no two keys share a member.
  auto all = parse_config(file_of(keys, values), "all");
  REQUIRE_MESSAGE(all.ok(), all.error().message);
  for (const auto& k : keys) {
    const std::string name = k.section + "." + k.key;
    CAPTURE(name);
    auto less = parse_config(file_of(keys, values, name), "all");
    REQUIRE_MESSAGE(less.ok(), less.error().message);
    CHECK(differing(*less, *all) == std::set<std::string>{k.section});
  }
}

TEST_CASE("sections compare as wholes, and only [ptp4l] is optional") {
  Config a, b;
  CHECK_FALSE(a.ptp4l.has_value());
  b.chrony.burst = !b.chrony.burst;
  CHECK(a.chrony != b.chrony);
  CHECK(differing(a, b) == std::set<std::string>{"chrony"});
  b = a;
  b.ptp4l.emplace();
  CHECK(differing(a, b) == std::set<std::string>{"ptp4l"});
}

TEST_CASE("ptp4l_options: the section's defaults are the plugin's, and the reply socket follows client_dir") {
  Config c;
  CHECK_FALSE(ptp4l_options(c).has_value());
  c.ptp4l.emplace();
  ptp::Ptp4lOptions want;
  want.enabled = true;
  want.client_address = "/run/vmclockd/sockets/vmclockd-pmc.sock";
  REQUIRE(ptp4l_options(c).has_value());
  CHECK(*ptp4l_options(c) == want);
  CHECK(ptp::validate(want).ok());

  // Same section, other client_dir: the updater's options change.
  Config d = c;
  d.chrony.client_dir = "/run/other";
  CHECK(d.ptp4l == c.ptp4l);
  CHECK(ptp4l_options(d)->client_address == "/run/other/vmclockd-pmc.sock");
  CHECK(ptp4l_options(d) != ptp4l_options(c));
  d.ptp4l->client_address = "/run/mine.sock";
  CHECK(ptp4l_options(d)->client_address == "/run/mine.sock");
}

TEST_CASE("ptp4l keys are bounded by the plugin's bounds, and checked across keys") {
  auto err = [](const std::string& body) {
    auto r = parse_config("[ptp4l]\n" + body + "\n", "f.toml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::config);
    return r.error().message;
  };
  const auto rt = ptp::bounds::reply_timeout_ms;
  CHECK(err("reply_timeout_ms = " + std::to_string(rt.max + 1)) ==
        "f.toml:2: ptp4l.reply_timeout_ms = 201: must be between 1 and 200");
  CHECK(err("domain_number = 256") == "f.toml:2: ptp4l.domain_number = 256: must be between 0 and 255");
  CHECK(err("upgrade_hold_updates = 4294967297") ==
        "f.toml:2: ptp4l.upgrade_hold_updates = 4294967297: must be between 1 and 1000");
  CHECK(err("locked_maxerror_ns = 0") == "f.toml:2: ptp4l.locked_maxerror_ns = 0: must be between 1 and 10000000000");
  CHECK(err("holdover_maxerror_ns = 5") ==
        "f.toml:1: ptp4l.holdover_maxerror_ns = 5: must be locked_maxerror_ns (1000000) .. 1000000000000 (1000 s)");
  const auto ts = err("time_source = \"gps\"");
  CHECK(ts.rfind("f.toml:2: ptp4l.time_source = 'gps': not a time source; ", 0) == 0);
  // The key and value are said once.
  CHECK(ts.find("time_source", 20) == std::string::npos);
  // The derived reply socket is held to the plugin's socket path limit.
  auto r = parse_config("[chrony]\nclient_dir = \"/" + std::string(100, 'd') + "\"\n[ptp4l]\n", "f.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.rfind("f.toml:3: ptp4l.client_address = \"/ddd", 0) == 0);
  CHECK(r.error().message.find("at most 107 bytes") != std::string::npos);
  CHECK(parse_config("[ptp4l]\nreply_timeout_ms = 200\nholdover_maxerror_ns = 1000000\n", "f.toml").ok());
}

TEST_CASE("strings: no NUL inside; --page gets the file's checks; stale before void") {
  auto nul = parse_config("[source]\npage = \"/x\\u0000y\"\n", "f.toml");
  REQUIRE_FALSE(nul.ok());
  CHECK(nul.error().code == Errc::config);
  CHECK(nul.error().message.rfind("f.toml:2: source.page = ", 0) == 0);
  CHECK(nul.error().message.find("must not contain a NUL character") != std::string::npos);

  CHECK(check_option("source.page", "/dev/vmclock0", "--page").ok());
  auto empty = check_option("source.page", "", "--page");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::usage);
  CHECK(empty.error().message == "--page \"\": must not be empty");
  auto rel = check_option("source.page", "page.bin", "--page");
  REQUIRE_FALSE(rel.ok());
  CHECK(rel.error().message == "--page \"page.bin\": must be an absolute path");
  auto with_nul = check_option("source.page", std::string("/x\0y", 4), "--page");
  REQUIRE_FALSE(with_nul.ok());
  CHECK(with_nul.error().message.find("NUL") != std::string::npos);

  auto sv = parse_config("[bound]\nvoid_after_s = 1\nstale_after_ms = 1001\n", "f.toml");
  REQUIRE_FALSE(sv.ok());
  CHECK(sv.error().code == Errc::config);
  CHECK(sv.error().message ==
        "f.toml:3: bound.stale_after_ms = 1001 is longer than bound.void_after_s = 1 s: a bound would be void before "
        "it is stale");
  CHECK(parse_config("[bound]\nvoid_after_s = 1\nstale_after_ms = 1000\n", "f.toml").ok());
}

TEST_CASE("chrony.shm_unit: every unit whose key 0x4e545030 + unit is an int") {
  const int64_t top = std::numeric_limits<int32_t>::max() - chrony::kShmKeyBase;
  CHECK(top == 833335247);
  CHECK(parse_config("[chrony]\nshm_unit = " + std::to_string(top) + "\n", "f").ok());
  CHECK(parse_config("[chrony]\nshm_unit = 0\n", "f").ok());
  auto high = parse_config("[chrony]\nshm_unit = " + std::to_string(top + 1) + "\n", "f");
  REQUIRE_FALSE(high.ok());
  CHECK(high.error().message == "f:2: chrony.shm_unit = 833335248: must be between -1 and 833335247");
  CHECK_FALSE(parse_config("[chrony]\nshm_unit = -2\n", "f").ok());
}

TEST_CASE("the man page gives every key with the table's type, bounds and default") {
  std::map<std::string, std::string> man;  // "section.key" -> "key (type, default X)"
  std::istringstream in(read_source("packaging/man/vmclockd.toml.5"));
  std::string line, section;
  bool term = false;  // the line after .TP/.TQ is a term
  while (std::getline(in, line)) {
    if (line.rfind(".SH ", 0) == 0) {
      std::smatch m;
      section = std::regex_match(line, m, std::regex(R"(\.SH \[(\w+)\])")) ? std::string(m[1]) : "";
    } else if (line == ".TP" || line == ".TQ") {
      term = true;
      continue;
    } else if (term && !section.empty() && line.rfind(".BR ", 0) == 0) {
      // .BR alternates fonts with no space between its arguments.
      std::string joined;
      static const std::regex arg(R"re("([^"]*)"|(\S+))re");
      for (std::sregex_iterator it(line.begin() + 4, line.end(), arg), end; it != end; ++it)
        joined += (*it)[1].matched ? (*it)[1].str() : (*it)[2].str();
      joined = std::regex_replace(joined, std::regex(R"(\\\(dq)"), "\"");
      joined = std::regex_replace(joined, std::regex(R"(\\-)"), "-");
      man[section + "." + joined.substr(0, joined.find(' '))] = joined;
    }
    term = false;
  }
  const auto keys = listed_options();
  std::set<std::string> table;
  for (const auto& k : keys) {
    const std::string name = k.section + "." + k.key;
    table.insert(name);
    const std::string def = k.value == "\"\"" ? "empty" : k.value;
    CHECK_MESSAGE(man[name] == k.key + " (" + k.type + ", default " + def + ")", name);
  }
  for (const auto& [name, text] : man)
    CHECK_MESSAGE(table.count(name), "the man page has a key the table has not: ", name);
}

TEST_CASE("the packaged vmclockd.toml lists every key with its default and the table's bounds") {
  std::istringstream in(read_source("packaging/vmclockd.toml"));
  std::map<std::string, std::vector<std::string>> lines;     // "section.key" -> the #key = value lines
  std::map<std::string, std::vector<std::string>> comments;  // the comment lines just before them
  std::string line, section;
  std::vector<std::string> pending;
  const std::regex header(R"(^#?\[(\w+)\]$)"), key(R"(^#(\w+) = .*$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, header)) {
      section = m[1];
      pending.clear();
    } else if (std::regex_match(line, m, key)) {
      const std::string name = section + "." + std::string(m[1]);
      lines[name].push_back(line);
      comments[name].insert(comments[name].end(), pending.begin(), pending.end());
      pending.clear();
    } else {
      pending.push_back(line);
    }
  }
  const std::regex range(R"((-?\d+)\.\.(-?\d+))");
  for (const auto& k : listed_options()) {
    const std::string name = k.section + "." + k.key;
    CAPTURE(name);
    const auto& l = lines[name];
    CHECK(std::find(l.begin(), l.end(), "#" + k.key + " = " + k.value) != l.end());
    for (const auto& c : comments[name])
      for (std::sregex_iterator it(c.begin(), c.end(), range), end; it != end; ++it)
        CHECK_MESSAGE("integer " + it->str() == k.type, c);
  }
}

TEST_CASE("load_config: a regular file, symlinks followed") {
  TempDir d;
  auto f = d.write("good.toml", "[sampling]\ninterval_ms = 100\n");
  auto r = load_config(f);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(r->sampling.interval_ms == 100);
  CHECK(r->origin == f);
  REQUIRE(::symlink(f.c_str(), d.join("link.toml").c_str()) == 0);
  CHECK(load_config(d.join("link.toml")).ok());
  auto e = d.write("empty.toml", "");
  CHECK(*load_config(e) == [&] { Config c; c.origin = e; return c; }());
}

TEST_CASE("load_config: cannot open is no_input, naming the path") {
  TempDir d;
  auto e = refusal(d.join("absent.toml"));
  CHECK(e.code == Errc::no_input);
  CHECK(e.message.find("cannot open the configuration: No such file or directory") != std::string::npos);
}

TEST_CASE("load_config: a directory, a device, a FIFO or a socket is refused as what it is") {
  TempDir d;
  auto dir = refusal(d.path);
  CHECK(dir.code == Errc::config);
  CHECK(dir.message == d.path + ": is a directory: the configuration must be a regular file");

  for (const char* dev : {"/dev/zero", "/dev/urandom", "/dev/null"}) {
    CAPTURE(dev);
    auto e = refusal(dev);
    CHECK(e.code == Errc::config);
    CHECK(e.message == std::string(dev) + ": is a character device: the configuration must be a regular file");
  }
  REQUIRE(::symlink("/dev/zero", d.join("zero.toml").c_str()) == 0);
  CHECK(refusal(d.join("zero.toml")).message.find("is a character device") != std::string::npos);

  // Without a writer, a blocking open would wait forever: the alarm's
  // default action ends the test binary instead.
  const auto fifo = d.join("fifo.toml");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  ::alarm(10);
  auto f = refusal(fifo);
  ::alarm(0);
  CHECK(f.code == Errc::config);
  CHECK(f.message == fifo + ": is a FIFO: the configuration must be a regular file");

  const auto sock = d.join("sock.toml");
  Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(s);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  REQUIRE(sock.size() < sizeof a.sun_path);
  std::copy(sock.begin(), sock.end(), a.sun_path);
  REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  auto so = refusal(sock);
  CHECK(so.code == Errc::config);
  CHECK(so.message == sock + ": is a socket: the configuration must be a regular file");
}

TEST_CASE("load_config: at most kMaxConfigBytes, refused by size without reading") {
  TempDir d;
  CHECK(kMaxConfigBytes == 1024 * 1024);
  const std::string head = "[sampling]\ninterval_ms = 100\n";
  // Exactly the cap: taken.
  std::string text = head + "#" + std::string(kMaxConfigBytes - head.size() - 2, 'x') + "\n";
  REQUIRE(text.size() == kMaxConfigBytes);
  auto at = load_config(d.write("at.toml", text));
  REQUIRE_MESSAGE(at.ok(), at.error().message);
  CHECK(at->sampling.interval_ms == 100);
  // One byte more: refused.
  auto over = refusal(d.write("over.toml", text + "\n"));
  CHECK(over.code == Errc::config);
  CHECK(over.message == d.join("over.toml") + ": 1048577 bytes is over the limit of 1048576 bytes for a configuration");

  // 100 MB (sparse): refused at once.
  const auto big = d.join("big.toml");
  {
    Fd fd(::open(big.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    REQUIRE(fd);
    REQUIRE(::ftruncate(fd.get(), 100'000'000) == 0);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto b = refusal(big);
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(b.code == Errc::config);
  CHECK(b.message == big + ": 100000000 bytes is over the limit of 1048576 bytes for a configuration");
  CHECK(took < std::chrono::seconds(1));
}
