// SPDX-License-Identifier: Apache-2.0
// Page sources (src/page_source*.cpp): the page file (open errors that name
// the path, header errors through take_snapshot, rename-replacement,
// truncation, removal and re-creation), the memory source, and a character
// device that is not a vmclock (/dev/null read with pread, /dev/zero mapped).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "page_source.h"
#include "page_writer.h"
#include "cross_timestamp.h"

using namespace vmc;
using abi::Flag;

namespace {

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

// A fresh directory per test case, removed afterwards.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/vmc-page-source-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::string cmd = "rm -rf '" + path + "'";
    if (std::system(cmd.c_str()) != 0) MESSAGE("could not remove " << path);
  }
  std::string file(const char* name) const { return path + "/" + name; }
};

Page page_n(uint64_t n) {
  Page p;
  p.counter_id = abi::CounterId::x86_tsc;
  p.clock_status = abi::ClockStatus::synchronized;
  p.seq_count = 2;
  p.time_sec = 1'700'000'000 + n;
  p.counter_value = n;
  p.disruption_marker = n;
  p.counter_period_frac_sec = 18446744074ULL;
  return p;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, b.data(), b.size()) == static_cast<ssize_t>(b.size()));
  ::close(fd);
}

std::vector<uint8_t> page_bytes(const Page& p, size_t file_len = 4096) {
  std::vector<uint8_t> b(file_len, 0);
  encode(p, std::span<uint8_t>(b.data(), b.size()));
  return b;
}

void write_page(const std::string& path, const Page& p, size_t file_len = 4096) {
  write_bytes(path, page_bytes(p, file_len));
}

// Runs body in a forked child that is not root (root drops to nobody
// there; the test runner keeps its ids); body's return value is the
// child's exit code, 90 when the drop itself failed.
int in_child_not_root(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::geteuid() == 0) {
      const passwd* nb = ::getpwnam("nobody");
      if (!nb || ::setgroups(0, nullptr) != 0 || ::setresgid(nb->pw_gid, nb->pw_gid, nb->pw_gid) != 0 ||
          ::setresuid(nb->pw_uid, nb->pw_uid, nb->pw_uid) != 0)
        ::_exit(90);
    }
    ::_exit(body());
  }
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  REQUIRE(WIFEXITED(st));
  return WEXITSTATUS(st);
}

// Rewrites the file's content in place (same inode).
void overwrite_in_place(const std::string& path, const Page& p, size_t file_len = 4096) {
  int fd = ::open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  auto b = page_bytes(p, file_len);
  REQUIRE(::pwrite(fd, b.data(), b.size(), 0) == static_cast<ssize_t>(b.size()));
  ::close(fd);
}

std::unique_ptr<PageSource> open_ok(const std::string& path) {
  auto s = open_page_source(path);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
  return std::move(*s);
}

uint64_t marker_of(PageSource& src) {
  auto s = take_snapshot(src);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
  return s->page.disruption_marker;
}

}  // namespace

TEST_CASE("file source: opens a page file") {
  TempDir d;
  const std::string path = d.file("page");
  write_page(path, page_n(1));
  auto src = open_ok(path);
  CHECK(src->kind() == "file");
  CHECK(src->note().empty());
  CHECK(src->path() == path);
  CHECK(src->counter_in_window());
  // A writer may replace or truncate the file: never read unguarded.
  CHECK_FALSE(src->mapping_is_stable());
  CHECK(src->notifier() == nullptr);
  auto v = src->view();
  REQUIRE(v.ok());
  CHECK(v->size() == 4096);
  CHECK(reinterpret_cast<uintptr_t>(v->data()) % 8 == 0);
  auto s = take_snapshot(*src);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
  CHECK(s->page == page_n(1));
  CHECK(src->refresh().ok());  // nothing changed
  CHECK(marker_of(*src) == 1);
}

TEST_CASE("file source: a file of exactly 104 or 112 bytes") {
  TempDir d;
  const std::string path = d.file("page");
  Page p = page_n(3);
  p.size = 104;
  write_page(path, p, 104);
  auto src = open_ok(path);
  REQUIRE(src->view().ok());
  CHECK(src->view()->size() == 104);
  auto s = take_snapshot(*src);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
  CHECK(s->page.time_sec == p.time_sec);
  CHECK_FALSE(s->page.vm_generation_counter.has_value());

  p.size = 112;
  p.flags = p.flags.with(Flag::vm_gen_counter_present);
  p.vm_generation_counter = 4;
  write_page(d.file("p112"), p, 112);
  auto src2 = open_ok(d.file("p112"));
  auto s2 = take_snapshot(*src2);
  REQUIRE_MESSAGE(s2.ok(), (s2.ok() ? std::string() : s2.error().message));
  CHECK(s2->page.vm_generation_counter == 4u);
}

TEST_CASE("file source: the real Firecracker page") {
  auto src = open_ok(VMC_FIXTURES_DIR "/vmclock-firecracker-page.bin");
  CHECK(src->kind() == "file");
  auto s = take_snapshot(*src);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
  CHECK(s->page.size == 4096);
  CHECK(s->page.counter_id == abi::CounterId::invalid);
  CHECK(s->page.disruption_marker == 1);
  CHECK(s->page.flags.raw == 0x300);
  CHECK(s->page.seq_count == 2);
  CHECK(s->page.vm_generation_counter == 1u);
  CHECK(sample_from(*s).validity.reason == Unusable::no_counter);
}

TEST_CASE("file source: a 64 KiB page (arm64 with 64 KiB pages) decodes with size 65536") {
  TempDir d;
  Page p = page_n(7);
  p.size = 65536;
  p.flags = p.flags.with(Flag::vm_gen_counter_present);
  p.vm_generation_counter = 3;
  const std::string path = d.file("p64k");
  write_page(path, p, abi::kMaxPageBytes);
  auto src = open_ok(path);
  auto v = src->view();
  REQUIRE(v.ok());
  CHECK(v->size() == 65536);
  auto s = take_snapshot(*src);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
  CHECK(s->page.size == 65536);
  CHECK(s->page.disruption_marker == 7);
  CHECK(s->page.vm_generation_counter == 3u);
  CHECK(s->page.time_sec == 1'700'000'007u);
  CHECK(src->refresh().ok());
  CHECK(take_snapshot(*src).ok());

  SUBCASE("a size beyond the file names the bytes really there") {
    p.size = 65536;
    write_page(path + ".new", p, 8192);
    REQUIRE(::rename((path + ".new").c_str(), path.c_str()) == 0);  // replaced: refresh() maps the new file
    REQUIRE(src->refresh().ok());
    auto e = take_snapshot(*src);
    REQUIRE_FALSE(e.ok());
    CHECK(contains(e.error().message, "field size is 65536, larger than the 8192 bytes available"));
  }
  SUBCASE("a file longer than the largest page is read up to it") {
    p.size = 65536 + 4096;
    write_page(path + ".new", p, 65536 + 4096);
    REQUIRE(::rename((path + ".new").c_str(), path.c_str()) == 0);
    REQUIRE(src->refresh().ok());
    CHECK(src->view()->size() == abi::kMaxPageBytes);
    auto e = take_snapshot(*src);
    REQUIRE_FALSE(e.ok());
    CHECK(contains(e.error().message, "field size is 69632, larger than the 65536 bytes available"));
  }
}

TEST_CASE("file source: open errors name the path") {
  TempDir d;
  SUBCASE("missing file") {
    const std::string path = d.file("no-such-page");
    for (int which = 0; which < 2; ++which) {
      auto r = which == 0 ? open_page_source(path) : open_file_source(path);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::no_input);
      CHECK(contains(r.error().message, path));
      CHECK(contains(r.error().message, "No such file"));
    }
  }
  SUBCASE("a 50-byte file") {
    const std::string path = d.file("short");
    write_bytes(path, std::vector<uint8_t>(50, 0));
    auto r = open_page_source(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::data);
    CHECK(contains(r.error().message, path));
    CHECK(contains(r.error().message, "50 bytes"));
    CHECK(contains(r.error().message, "shorter than the 104-byte"));
  }
  SUBCASE("an empty file") {
    const std::string path = d.file("empty");
    write_bytes(path, {});
    auto r = open_page_source(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::data);
    CHECK(contains(r.error().message, "0 bytes"));
  }
  SUBCASE("a directory") {
    auto r = open_file_source(d.path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::no_input);
    CHECK(contains(r.error().message, d.path));
  }
  SUBCASE("a FIFO or a directory as the page: refused at once as what it is") {
    // A FIFO without a writer would block open() for ever.
    const std::string fifo = d.file("fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
    for (const auto& [path, kind] : {std::pair{fifo, "is a FIFO"}, std::pair{d.path, "is a directory"}}) {
      auto r = open_page_source(path);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::no_input);
      CHECK(r.error().message == path + ": " + kind + ": the page must be the vmclock device or a regular file");
    }
  }
  SUBCASE("unreadable") {
    // Mode 0 stops anyone but root: as root the open is tried by a child
    // that has become nobody, with the directory (not the file) open to it.
    const std::string path = d.file("secret");
    write_page(path, page_n(1));
    REQUIRE(::chmod(path.c_str(), 0) == 0);
    REQUIRE(::chmod(d.path.c_str(), 0755) == 0);
    int code = in_child_not_root([&] {
      auto r = open_page_source(path);
      if (r.ok()) return 1;
      std::fprintf(stderr, "child: %s\n", r.error().message.c_str());
      if (r.error().code != Errc::no_input) return 2;
      if (!contains(r.error().message, path)) return 3;
      return 0;
    });
    CHECK(code == 0);
  }
}

TEST_CASE("file source: header errors through take_snapshot name the field and the value") {
  TempDir d;
  const std::string path = d.file("page");
  Page p = page_n(1);
  auto snapshot_error = [&](const Page& pg, size_t file_len = 4096) {
    write_page(path, pg, file_len);
    auto src = open_page_source(path);
    REQUIRE_MESSAGE(src.ok(), (src.ok() ? std::string() : src.error().message));  // the header is checked per snapshot
    auto s = take_snapshot(**src);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Errc::data);
    CHECK(contains(s.error().message, path));
    return s.error().message;
  };
  SUBCASE("wrong magic") {
    p.magic = 0xdeadbeef;
    auto m = snapshot_error(p);
    CHECK(contains(m, "magic"));
    CHECK(contains(m, "0xdeadbeef"));
  }
  SUBCASE("wrong magic in a whole-page size") {
    p.magic = 0xdeadbeef;
    p.size = 4096;
    auto m = snapshot_error(p);
    CHECK(contains(m, "magic"));
    CHECK(contains(m, "0xdeadbeef"));
  }
  SUBCASE("version 2") {
    p.version = 2;
    auto m = snapshot_error(p);
    CHECK(contains(m, "version"));
    CHECK(contains(m, "version is 2"));
  }
  SUBCASE("size below 104") {
    p.size = 64;
    auto m = snapshot_error(p);
    CHECK(contains(m, "size"));
    CHECK(contains(m, "64"));
  }
  SUBCASE("size larger than the file") {
    p.size = 4096;
    auto m = snapshot_error(p, 200);
    CHECK(contains(m, "size"));
    CHECK(contains(m, "4096"));
  }
  SUBCASE("size larger than the file, but within 112") {
    p.size = 112;
    auto m = snapshot_error(p, 108);
    CHECK(contains(m, "size is 112"));
  }
  SUBCASE("size within the file but beyond the copied structure is fine") {
    p.size = 150;
    write_page(path, p, 200);
    auto src = open_ok(path);
    auto s = take_snapshot(*src);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
    CHECK(s->page.size == 150);
  }
}

TEST_CASE("file source: updates in place show through the shared mapping") {
  TempDir d;
  const std::string path = d.file("page");
  write_page(path, page_n(1));
  auto src = open_ok(path);
  CHECK(marker_of(*src) == 1);
  SUBCASE("pwrite") {
    overwrite_in_place(path, page_n(2));
    CHECK(marker_of(*src) == 2);  // no refresh needed
    CHECK(src->refresh().ok());
    CHECK(marker_of(*src) == 2);
  }
  SUBCASE("a writer's own mapping, with the seqlock") {
    int fd = ::open(path.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    void* m = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE(m != MAP_FAILED);
    PageWriter w(static_cast<volatile uint8_t*>(m), 4096);
    w.set_seq(2);
    w.publish(page_n(3));
    auto s = take_snapshot(*src);
    REQUIRE(s.ok());
    CHECK(s->page.disruption_marker == 3);
    CHECK(s->page.seq_count == 4);
    ::munmap(m, 4096);
    ::close(fd);
  }
}

TEST_CASE("file source: replacement by rename is picked up by refresh()") {
  TempDir d;
  const std::string path = d.file("page");
  write_page(path, page_n(1));
  auto src = open_ok(path);
  CHECK(marker_of(*src) == 1);
  for (uint64_t n = 2; n <= 4; ++n) {
    CAPTURE(n);
    const std::string tmp = d.file("page.tmp");
    write_page(tmp, page_n(n));
    REQUIRE(::rename(tmp.c_str(), path.c_str()) == 0);
    // The old inode is still mapped: the old content until refresh().
    CHECK(marker_of(*src) == n - 1);
    auto r = src->refresh();
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
    CHECK(marker_of(*src) == n);
    CHECK(src->refresh().ok());
    CHECK(marker_of(*src) == n);
  }
}

TEST_CASE("file source: truncation is an error, not a crash") {
  TempDir d;
  const std::string path = d.file("page");
  write_page(path, page_n(1));
  auto src = open_ok(path);
  CHECK(marker_of(*src) == 1);
  SUBCASE("to 50 bytes, then rewritten in place") {
    REQUIRE(::truncate(path.c_str(), 50) == 0);
    auto r = src->refresh();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::data);
    CHECK(contains(r.error().message, path));
    CHECK(contains(r.error().message, "truncated"));
    CHECK(contains(r.error().message, "50"));
    CHECK_FALSE(src->view().ok());
    auto s = take_snapshot(*src);
    REQUIRE_FALSE(s.ok());
    CHECK(contains(s.error().message, path));
    // Still too short on the next refresh: an error again.
    CHECK_FALSE(src->refresh().ok());
    // The writer fills it again: recovered.
    overwrite_in_place(path, page_n(5));
    auto r2 = src->refresh();
    REQUIRE_MESSAGE(r2.ok(), (r2.ok() ? std::string() : r2.error().message));
    CHECK(marker_of(*src) == 5);
  }
  SUBCASE("to 0 bytes") {
    REQUIRE(::truncate(path.c_str(), 0) == 0);
    CHECK_FALSE(src->refresh().ok());
    CHECK_FALSE(take_snapshot(*src).ok());
    overwrite_in_place(path, page_n(6));
    REQUIRE(src->refresh().ok());
    CHECK(marker_of(*src) == 6);
  }
  SUBCASE("to 0 bytes, read before any refresh (SIGBUS on the mapping)") {
    REQUIRE(::truncate(path.c_str(), 0) == 0);
    auto s = take_snapshot(*src);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Errc::data);
    CHECK(contains(s.error().message, path));
    auto again = take_snapshot(*src);  // and again: the handler is still in place
    CHECK_FALSE(again.ok());
    CHECK_FALSE(src->refresh().ok());
    overwrite_in_place(path, page_n(7));
    REQUIRE(src->refresh().ok());
    CHECK(marker_of(*src) == 7);
  }
}

TEST_CASE("file source: a file that grows in place is remapped by refresh()") {
  // A writer that creates the file and fills it in place can be caught
  // half-way: the source maps the 200 bytes written so far. Once the file
  // holds the whole page (size 4096), refresh() must map the new length;
  // otherwise every snapshot fails with "size is 4096, larger than ...".
  TempDir d;
  const std::string path = d.file("page");
  Page p = page_n(1);
  write_page(path, p, 200);
  auto src = open_ok(path);
  CHECK(src->view()->size() == 200);
  CHECK(marker_of(*src) == 1);
  p = page_n(2);
  p.size = 4096;
  overwrite_in_place(path, p, 4096);
  auto r = src->refresh();
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  auto s = take_snapshot(*src);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
  CHECK(s->page.size == 4096);
  CHECK(s->page.disruption_marker == 2);
}

TEST_CASE("file source: removal and re-creation") {
  TempDir d;
  const std::string path = d.file("page");
  write_page(path, page_n(1));
  auto src = open_ok(path);
  CHECK(marker_of(*src) == 1);
  REQUIRE(::unlink(path.c_str()) == 0);
  auto r = src->refresh();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::no_input);
  CHECK(contains(r.error().message, path));
  CHECK(contains(r.error().message, "removed"));
  auto v = src->view();
  REQUIRE_FALSE(v.ok());
  CHECK(contains(v.error().message, path));
  CHECK_FALSE(take_snapshot(*src).ok());
  CHECK_FALSE(src->refresh().ok());  // still gone
  // Re-created, first too short, then whole.
  write_bytes(path, std::vector<uint8_t>(20, 0));
  auto r2 = src->refresh();
  REQUIRE_FALSE(r2.ok());
  CHECK(contains(r2.error().message, "20 bytes"));
  write_page(path, page_n(9));
  auto r3 = src->refresh();
  REQUIRE_MESSAGE(r3.ok(), (r3.ok() ? std::string() : r3.error().message));
  CHECK(marker_of(*src) == 9);
}

TEST_CASE("memory source") {
  MemoryPageSource m;
  CHECK(m.kind() == "memory");
  CHECK(m.note().empty());
  CHECK(m.path() == "<memory>");
  CHECK(m.size() == 4096);
  CHECK(m.mapping_is_stable());
  auto v = m.view();
  REQUIRE(v.ok());
  CHECK(v->size() == 4096);
  CHECK(reinterpret_cast<uintptr_t>(v->data()) % 8 == 0);
  bool zero = true;
  for (size_t i = 0; i < v->size(); ++i) zero = zero && (*v)[i] == 0;
  CHECK(zero);
  CHECK(m.refresh().ok());
  MemoryPageSource odd(100);  // a size that is not a multiple of the alignment
  CHECK(odd.size() == 100);
  CHECK(odd.view()->size() == 100);
  MemoryPageSource big(abi::kMaxPageBytes);
  CHECK(big.view()->size() == 65536);
  CHECK_THROWS_AS(MemoryPageSource(abi::kMaxPageBytes + 1), std::length_error);
}

TEST_CASE("device source: a character device that is not a vmclock") {
  // /dev/null opens as a device (no mapping, pread returns nothing): the
  // error comes at the snapshot and names the path.
  auto src = open_page_source("/dev/null");
  REQUIRE_MESSAGE(src.ok(), (src.ok() ? std::string() : src.error().message));
  CHECK((*src)->kind() == "device-pread");
  // /dev/null has no mmap: the source says why it reads with pread.
  CHECK(contains((*src)->note(), "mmap refused: "));
  CHECK(contains((*src)->note(), std::strerror(ENODEV)));
  // A pread() buffer is no mapping of the device.
  CHECK_FALSE((*src)->mapping_is_stable());
  // A device is watched on the timer unless its page and its poll() both
  // say notifications come.
  REQUIRE((*src)->notifier() != nullptr);
  CHECK((*src)->notifier()->mode() == WatchMode::timer);
  CHECK((*src)->notifier()->poll_fd() == -1);
  auto s = take_snapshot(**src);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::data);
  CHECK(contains(s.error().message, "/dev/null"));
}

TEST_CASE("device source: a character device that maps reads through the mapping") {
  // /dev/zero maps: no fallback, so nothing to note; its zeros are no page.
  auto src = open_page_source("/dev/zero");
  REQUIRE_MESSAGE(src.ok(), (src.ok() ? std::string() : src.error().message));
  CHECK((*src)->kind() == "device-mmap");
  CHECK((*src)->note().empty());
  CHECK((*src)->counter_in_window());
  CHECK((*src)->mapping_is_stable());
  auto s = take_snapshot(**src);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::data);
}

namespace {
// A source that says nothing about its mapping.
class SilentSource final : public PageSource {
 public:
  SilentSource() : PageSource("<silent>") {}
  Result<std::span<const volatile uint8_t>> view() override { return mem_.view(); }
  std::string_view kind() const override { return "memory"; }  // the name decides nothing

 private:
  MemoryPageSource mem_;
};
}  // namespace

TEST_CASE("a source that does not say its mapping is stable is not") {
  // Even one that names itself like the memory source: the answer is typed,
  // not read from kind().
  SilentSource src;
  CHECK_FALSE(src.mapping_is_stable());
}
