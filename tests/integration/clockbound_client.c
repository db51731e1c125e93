// SPDX-License-Identifier: Apache-2.0
/* A ClockBound v2 client written from AWS ClockBound 2.0's protocol
 * (../shared/reference/clockbound.md), not from vmclockd's code: it reads
 * /var/run/clockbound/shm0 the way clock-bound-shm's ClockErrorBound::now
 * does, so what it sees is what ClockBound's own clients see.
 *
 *   clockbound_client torn  --segment S --seconds T [--reads N]
 *       reads as fast as it can while clockbound_hammer rewrites the
 *       segment as fast as it can; every accepted copy must satisfy the
 *       hammer's pattern (a torn read would mix two records). JSON summary.
 *   clockbound_client truth --segment S --page P --sim-log F --seconds T
 *       calls now() in a loop; every bounded answer must contain the
 *       simulator's truth for the segment's marker. JSON summary, exit 1 on
 *       a miss.
 *   clockbound_client trace --segment S --page P --seconds T --every-ms M
 *       one line per M ms: monotonic seconds, status, half-width in ns.
 *
 * --page stands in for /dev/vmclock0 (the path ClockBound's client opens).
 * Exit: 0 ok, 1 a miss or torn read, 64 usage, 65 bad segment, 66 cannot open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --- the segment, as the protocol lays it out ---------------------------- */
#define CB_MAGIC0 0x414D5A4Eu
#define CB_MAGIC1 0x43420200u
#define CB_SIZE 80u
#define OFF_MAGIC 0
#define OFF_SEGSIZE 8
#define OFF_VERSION 12
#define OFF_GENERATION 14
#define OFF_BODY 16
#define BODY_BYTES 64
/* body offsets relative to the segment */
#define OFF_AS_OF 16
#define OFF_VOID_AFTER 32
#define OFF_BOUND 48
#define OFF_MARKER 56
#define OFF_DRIFT 64
#define OFF_STATUS 68
#define OFF_SUPPORT 72
#define OFF_PADDING 73

enum { UNKNOWN = 0, SYNCHRONIZED = 1, FREERUNNING = 2, DISRUPTED = 3 };
enum { ERR_NONE = 0, ERR_NO_COPY = 1, ERR_CAUSALITY = 2, ERR_MALFORMED = 3 };
static const char* status_name(int s) {
  switch (s) {
    case UNKNOWN: return "unknown";
    case SYNCHRONIZED: return "synchronized";
    case FREERUNNING: return "freerunning";
    case DISRUPTED: return "disrupted";
  }
  return "invalid";
}

struct body {
  int64_t as_of_sec, as_of_nsec, void_sec, void_nsec, bound_nsec;
  uint64_t marker;
  uint32_t max_drift_ppb;
  int32_t status;
  uint8_t support;
  uint8_t padding[7];
};

static struct body decode(const unsigned char* b) {
  struct body x;
  memcpy(&x.as_of_sec, b + OFF_AS_OF - OFF_BODY, 8);
  memcpy(&x.as_of_nsec, b + OFF_AS_OF + 8 - OFF_BODY, 8);
  memcpy(&x.void_sec, b + OFF_VOID_AFTER - OFF_BODY, 8);
  memcpy(&x.void_nsec, b + OFF_VOID_AFTER + 8 - OFF_BODY, 8);
  memcpy(&x.bound_nsec, b + OFF_BOUND - OFF_BODY, 8);
  memcpy(&x.marker, b + OFF_MARKER - OFF_BODY, 8);
  memcpy(&x.max_drift_ppb, b + OFF_DRIFT - OFF_BODY, 4);
  memcpy(&x.status, b + OFF_STATUS - OFF_BODY, 4);
  x.support = b[OFF_SUPPORT - OFF_BODY];
  memcpy(x.padding, b + OFF_PADDING - OFF_BODY, 7);
  return x;
}

struct reader {
  const volatile unsigned char* map;
  uint16_t generation; /* of the cached copy */
  unsigned char cached[BODY_BYTES];
  int have;
  uint64_t fresh, overlaps, gave_up;
};

static uint16_t load16(const volatile unsigned char* p) { return __atomic_load_n((const uint16_t*)p, __ATOMIC_ACQUIRE); }

static int open_segment(struct reader* r, const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { fprintf(stderr, "clockbound_client: %s: %s\n", path, strerror(errno)); return 66; }
  unsigned char h[16];
  if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h) { fprintf(stderr, "clockbound_client: %s: short header\n", path); close(fd); return 65; }
  uint32_t m0, m1, size;
  uint16_t version, gen;
  memcpy(&m0, h + 0, 4); memcpy(&m1, h + 4, 4); memcpy(&size, h + OFF_SEGSIZE, 4);
  memcpy(&version, h + OFF_VERSION, 2); memcpy(&gen, h + OFF_GENERATION, 2);
  if (m0 != CB_MAGIC0 || m1 != CB_MAGIC1) { fprintf(stderr, "clockbound_client: %s: bad magic\n", path); close(fd); return 65; }
  if (version != 2) { fprintf(stderr, "clockbound_client: %s: version %u not supported\n", path, version); close(fd); return 65; }
  if (gen == 0) { fprintf(stderr, "clockbound_client: %s: never written (generation 0)\n", path); close(fd); return 65; }
  if (size < CB_SIZE) { fprintf(stderr, "clockbound_client: %s: segsize %u < 80\n", path, size); close(fd); return 65; }
  void* p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) { fprintf(stderr, "clockbound_client: %s: mmap: %s\n", path, strerror(errno)); return 66; }
  memset(r, 0, sizeof *r);
  r->map = p;
  return 0;
}

/* The client's read: version 0 or generation odd/unchanged keeps the
 * cached copy; otherwise copy and re-check, a bounded number of times. */
static const unsigned char* read_body(struct reader* r) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    if (load16(r->map + OFF_VERSION) == 0) break;
    uint16_t g = load16(r->map + OFF_GENERATION);
    if ((g & 1u) || (r->have && g == r->generation)) break;
    unsigned char copy[BODY_BYTES];
    for (int i = 0; i < BODY_BYTES; ++i) copy[i] = r->map[OFF_BODY + i];
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (load16(r->map + OFF_GENERATION) != g) { ++r->overlaps; continue; }
    memcpy(r->cached, copy, BODY_BYTES);
    r->generation = g;
    r->have = 1;
    ++r->fresh;
    return r->cached;
  }
  return r->have ? r->cached : NULL;
}

static int64_t clock_ns(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* --- the page's marker, as ClockBound's client reads /dev/vmclock0 ------- */
struct page { const volatile unsigned char* map; };
static int open_page(struct page* pg, const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { fprintf(stderr, "clockbound_client: %s: %s\n", path, strerror(errno)); return 66; }
  void* p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) { fprintf(stderr, "clockbound_client: %s: mmap: %s\n", path, strerror(errno)); return 66; }
  pg->map = p;
  return 0;
}
/* Up to 2 ms for a write in progress (the writer may be preempted inside
 * it); after that the marker is unknown and so is the answer. */
static int64_t clock_ns(clockid_t id);
static int page_marker(const struct page* pg, uint64_t* out) {
  int64_t give_up = 0;
  for (int i = 0;; ++i) {
    if ((i & 255) == 255) {
      const int64_t t = clock_ns(CLOCK_MONOTONIC);
      if (!give_up) give_up = t + 2000000;
      else if (t > give_up) return 0;
    }
    uint32_t a = __atomic_load_n((const uint32_t*)(pg->map + 0x0C), __ATOMIC_ACQUIRE);
    if (a & 1u) continue;
    uint64_t m = __atomic_load_n((const uint64_t*)(pg->map + 0x10), __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n((const uint32_t*)(pg->map + 0x0C), __ATOMIC_RELAXED) == a) { *out = m; return 1; }
  }
}

/* --- now(), as clock-bound-shm computes it ------------------------------- */
__extension__ typedef __int128 i128;
struct answer {
  int status;
  int64_t real, bound; /* earliest = real - bound, latest = real + bound */
  uint64_t marker;
  int page_marker_seen; /* page_marker: what this call read from the page */
  uint64_t page_marker;
  int error; /* ERR_*: what a client returns instead of an answer */
};

static struct answer now(struct reader* r, const struct page* pg) {
  struct answer a = {UNKNOWN, 0, 0, 0, 0, 0, 0};
  a.real = clock_ns(CLOCK_REALTIME);
  const int64_t mono = clock_ns(CLOCK_MONOTONIC_COARSE);
  const unsigned char* b = read_body(r);
  if (!b) { a.error = ERR_NO_COPY; return a; }
  struct body x = decode(b);
  a.marker = x.marker;
  const int64_t as_of = x.as_of_sec * 1000000000 + x.as_of_nsec;
  const int64_t void_after = x.void_sec * 1000000000 + x.void_nsec;
  if (mono < as_of - 1000) { a.error = ERR_CAUSALITY; return a; }
  if (x.max_drift_ppb >= 1000000000u) { a.error = ERR_MALFORMED; return a; }
  switch (x.status) {
    case UNKNOWN: case DISRUPTED: a.status = x.status; break;
    case SYNCHRONIZED: case FREERUNNING:
      if (mono < as_of + 5000000000LL) a.status = x.status;
      else if (mono < void_after) a.status = FREERUNNING;
      else a.status = UNKNOWN;
      break;
    default: a.error = ERR_MALFORMED; return a;
  }
  if (x.support && pg) {
    uint64_t m = 0;
    a.page_marker_seen = page_marker(pg, &m);
    a.page_marker = m;
    if (!a.page_marker_seen || m != x.marker) a.status = UNKNOWN;
  }
  const int64_t age = mono > as_of ? mono - as_of : 0;
  a.bound = x.bound_nsec + (int64_t)((i128)age * x.max_drift_ppb / 1000000000);
  return a;
}

/* --- the simulator's truth, per marker ----------------------------------- */
struct truth { uint64_t marker; int64_t offset_ns, realtime_ns; double drift_ppm; };
static struct truth truths[4096];
static int ntruths;
static long sim_pos;
static const char* sim_path;

/* Where the value of "key" starts in a JSON line, or NULL. */
static const char* json_value(const char* line, const char* key) {
  char k[64];
  snprintf(k, sizeof k, "\"%s\":", key);
  const char* p = strstr(line, k);
  return p ? p + strlen(k) : NULL;
}
static int json_num(const char* line, const char* key, double* out) {
  const char* v = json_value(line, key);
  if (v) *out = strtod(v, NULL);
  return v != NULL;
}
static int json_i64(const char* line, const char* key, int64_t* out) {
  const char* v = json_value(line, key);
  if (v) *out = strtoll(v, NULL, 10);
  return v != NULL;
}
static void sim_poll(void) {
  FILE* f = fopen(sim_path, "r");
  if (!f) return;
  fseek(f, sim_pos, SEEK_SET);
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    size_t n = strlen(line);
    if (n == 0 || line[n - 1] != '\n') break; /* partial: read again later */
    sim_pos = ftell(f);
    int64_t marker, off, rt;
    double drift;
    if (!json_i64(line, "marker", &marker) || !json_i64(line, "offset_ns", &off) ||
        !json_i64(line, "realtime_ns", &rt) || !json_num(line, "drift_ppm", &drift))
      continue;
    int i = 0;
    while (i < ntruths && truths[i].marker != (uint64_t)marker) ++i;
    if (i == ntruths) { if (ntruths == 4096) continue; ++ntruths; }
    truths[i] = (struct truth){(uint64_t)marker, off, rt, drift};
  }
  fclose(f);
}
static const struct truth* sim_find(uint64_t marker) {
  for (int i = 0; i < ntruths; ++i)
    if (truths[i].marker == marker) return &truths[i];
  return NULL;
}
static long double truth_at(const struct truth* t, int64_t rt) {
  return (long double)rt + t->offset_ns + t->drift_ppm * 1e-6L * (long double)(rt - t->realtime_ns);
}

/* --- the three modes ----------------------------------------------------- */
/* On a loaded machine the reader and the writer often share one core:
 * spinning, the reader would see one generation for its whole time slice
 * (7 changes in 10 million loads, measured). Yielding after a run of
 * unchanged reads lets the writer run, so reads land at every phase of its writes,
 * including writes it was preempted in the middle of. */
static int mode_torn(struct reader* r, double seconds, uint64_t reads) {
  uint64_t n = 0, torn = 0, checked = 0, bad_gen = 0;
  char first[256] = "";
  const int64_t end = clock_ns(CLOCK_MONOTONIC) + (int64_t)(seconds * 1e9);
  uint64_t last_fresh = 0, unchanged = 0;
  while (n < reads && (n & 1023 || clock_ns(CLOCK_MONOTONIC) < end)) {
    const unsigned char* b = read_body(r);
    ++n;
    if (!b || r->fresh == last_fresh) {
      if ((++unchanged & 1023) == 0) sched_yield();
      continue;
    }
    last_fresh = r->fresh;
    ++checked;
    if (r->generation == 0 || (r->generation & 1u)) ++bad_gen;
    struct body x = decode(b);
    /* clockbound_hammer's pattern: every field from one k (= marker). */
    const uint64_t k = x.marker;
    int ok = (uint64_t)(x.bound_nsec / 1000) == k && x.max_drift_ppb == k % 1000 && x.status == (int)(1 + k % 2) &&
             x.support == (k & 1) && x.as_of_sec * 1000000000 + x.as_of_nsec <= x.void_sec * 1000000000 + x.void_nsec;
    for (int i = 0; i < 7; ++i) ok &= x.padding[i] == 0;
    if (k == 0) continue; /* the hammer's first record may be the initial one */
    if (!ok && torn++ == 0)
      snprintf(first, sizeof first, "marker %" PRIu64 " bound %" PRId64 " drift %u status %d support %u", k,
               x.bound_nsec, x.max_drift_ppb, x.status, x.support);
  }
  printf("{\"reads\":%" PRIu64 ",\"fresh_copies\":%" PRIu64 ",\"overlaps\":%" PRIu64 ",\"torn\":%" PRIu64
         ",\"bad_generation\":%" PRIu64 ",\"first_torn\":\"%s\"}\n",
         n, checked, r->overlaps, torn, bad_gen, first);
  return torn || bad_gen ? 1 : 0;
}

static int mode_truth(struct reader* r, const struct page* pg, double seconds) {
  uint64_t calls = 0, checked = 0, misses = 0, errors[4] = {0, 0, 0, 0}, by_status[4] = {0, 0, 0, 0};
  uint64_t marker_changes = 0, changes_not_bounded = 0, wide = 0;
  int64_t widest = 0;
  long double worst = 1e30L;
  char first_miss[512] = "";
  int have_last = 0;
  uint64_t last_page_marker = 0;
  int last_status = -1;
  int64_t t0 = clock_ns(CLOCK_MONOTONIC);
  /* Status transitions, for the test to place in time. */
  char transitions[16384];
  size_t tlen = 0;
  transitions[0] = 0;
  sim_poll();
  const int64_t end = t0 + (int64_t)(seconds * 1e9);
  while (clock_ns(CLOCK_MONOTONIC) < end) {
    struct answer a = now(r, pg);
    const int64_t rt1 = clock_ns(CLOCK_REALTIME);
    ++calls;
    if (a.error) { ++errors[a.error]; continue; }
    ++by_status[a.status];
    /* The marker this very call saw: a change read after the call would
     * blame this answer for a change it could not have seen. */
    if (a.page_marker_seen) {
      const uint64_t pm = a.page_marker;
      if (have_last && pm != last_page_marker) {
        ++marker_changes;
        /* The first answer after the page's marker changed: never a bound. */
        if (a.status == UNKNOWN || a.status == DISRUPTED) ++changes_not_bounded;
      }
      have_last = 1;
      last_page_marker = pm;
    }
    if (a.status != last_status && tlen + 64 < sizeof transitions) {
      tlen += (size_t)snprintf(transitions + tlen, sizeof transitions - tlen, "%s[%.3f,\"%s\"]", tlen ? "," : "",
                               (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e9, status_name(a.status));
      last_status = a.status;
    }
    if (a.status != SYNCHRONIZED && a.status != FREERUNNING) continue;
    const struct truth* t = sim_find(a.marker);
    for (int wait = 0; !t && wait < 1000; ++wait) {
      struct timespec d = {0, 1000000};
      nanosleep(&d, NULL);
      sim_poll();
      t = sim_find(a.marker);
    }
    if (!t) { fprintf(stderr, "clockbound_client: no truth for marker %" PRIu64 "\n", a.marker); return 65; }
    ++checked;
    if (a.bound > widest) widest = a.bound;
    if (a.bound >= 10000000) ++wide;
    const long double lo = truth_at(t, a.real) - 2, hi = truth_at(t, rt1) + 2;
    const long double margin = (a.real + a.bound) - lo < hi - (a.real - a.bound) ? (a.real + a.bound) - lo
                                                                                    : hi - (a.real - a.bound);
    if (margin < worst) worst = margin;
    if (margin < 0 && misses++ == 0)
      snprintf(first_miss, sizeof first_miss, "status %s marker %" PRIu64 " bound %" PRId64 " off by %.0Lf ns",
               status_name(a.status), a.marker, a.bound, -margin);
  }
  printf("{\"calls\":%" PRIu64 ",\"checked\":%" PRIu64 ",\"misses\":%" PRIu64 ",\"errors\":{\"no_copy\":%" PRIu64
         ",\"causality\":%" PRIu64 ",\"malformed\":%" PRIu64 "}"
         ",\"by_status\":{\"unknown\":%" PRIu64 ",\"synchronized\":%" PRIu64 ",\"freerunning\":%" PRIu64
         ",\"disrupted\":%" PRIu64 "},\"marker_changes\":%" PRIu64 ",\"marker_changes_not_bounded\":%" PRIu64
         ",\"widest_ns\":%" PRId64 ",\"wider_than_10ms\":%" PRIu64 ",\"worst_margin_ns\":%.0Lf,\"fresh_copies\":%" PRIu64
         ",\"first_miss\":\"%s\",\"transitions\":[%s]}\n",
         calls, checked, misses, errors[ERR_NO_COPY], errors[ERR_CAUSALITY], errors[ERR_MALFORMED], by_status[0], by_status[1], by_status[2], by_status[3], marker_changes,
         changes_not_bounded, widest, wide, checked ? worst : 0.0L, r->fresh, first_miss, transitions);
  return misses ? 1 : 0;
}

static int mode_trace(struct reader* r, const struct page* pg, double seconds, int every_ms) {
  const int64_t t0 = clock_ns(CLOCK_MONOTONIC), end = t0 + (int64_t)(seconds * 1e9);
  for (int64_t t = t0; t < end; t = clock_ns(CLOCK_MONOTONIC)) {
    struct answer a = now(r, pg);
    printf("%.3f %s %" PRId64 "\n", (double)t / 1e9, a.error ? "error" : status_name(a.status), a.error ? 0 : a.bound);
    fflush(stdout);
    struct timespec d = {every_ms / 1000, (long)(every_ms % 1000) * 1000000};
    nanosleep(&d, NULL);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) { fprintf(stderr, "usage: clockbound_client torn|truth|trace --segment S ...\n"); return 64; }
  const char* mode = argv[1];
  const char *segment = NULL, *page_path = NULL;
  double seconds = 5;
  uint64_t reads = UINT64_MAX;
  int every_ms = 100;
  for (int i = 2; i < argc; ++i) {
    if (i + 1 >= argc) { fprintf(stderr, "clockbound_client: %s needs a value\n", argv[i]); return 64; }
    const char* v = argv[++i];
    if (!strcmp(argv[i - 1], "--segment")) segment = v;
    else if (!strcmp(argv[i - 1], "--page")) page_path = v;
    else if (!strcmp(argv[i - 1], "--sim-log")) sim_path = v;
    else if (!strcmp(argv[i - 1], "--seconds")) seconds = atof(v);
    else if (!strcmp(argv[i - 1], "--reads")) reads = strtoull(v, NULL, 10);
    else if (!strcmp(argv[i - 1], "--every-ms")) every_ms = atoi(v);
    else { fprintf(stderr, "clockbound_client: unknown option %s\n", argv[i - 1]); return 64; }
  }
  if (!segment) { fprintf(stderr, "clockbound_client: --segment is required\n"); return 64; }
  struct reader r;
  int rc = open_segment(&r, segment);
  if (rc) return rc;
  if (!strcmp(mode, "torn")) return mode_torn(&r, seconds, reads);
  if (!page_path) { fprintf(stderr, "clockbound_client: --page is required\n"); return 64; }
  struct page pg;
  if ((rc = open_page(&pg, page_path))) return rc;
  if (!strcmp(mode, "truth")) {
    if (!sim_path) { fprintf(stderr, "clockbound_client: --sim-log is required\n"); return 64; }
    return mode_truth(&r, &pg, seconds);
  }
  if (!strcmp(mode, "trace")) return mode_trace(&r, &pg, seconds, every_ms);
  fprintf(stderr, "clockbound_client: unknown mode %s\n", mode);
  return 64;
}
