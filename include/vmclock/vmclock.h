// SPDX-License-Identifier: Apache-2.0
/* libvmclock: "now, within these limits" for applications.
 *
 * vmclock_now() returns an interval [earliest, latest] that contains true
 * UTC at an instant during the call, centred on the system time
 * (CLOCK_REALTIME) read in the same call, and a status. It costs one
 * clock_gettime, a counter read and a few loads: no allocation, no other
 * system call.
 *
 * The bound comes from one of two places, chosen at every call:
 *  - the vmclock page itself, when the process can map it and it carries
 *    time with a maximum error ("page");
 *  - the segment vmclockd publishes under /run/vmclockd/ from its samples
 *    or from chronyd's own view ("daemon"), grown by its drift rate since
 *    it was written.
 * When the page's disruption marker differs from the one the bound was
 * computed under, the answer is VMCLOCK_DISRUPTED at once.
 *
 * Stable C ABI: the structures only grow at their end, guarded by the
 * size the caller passes in. */
#ifndef VMCLOCK_VMCLOCK_H
#define VMCLOCK_VMCLOCK_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMCLOCK_DEFAULT_PAGE "/dev/vmclock0"
#define VMCLOCK_DEFAULT_SEGMENT "/run/vmclockd/bound"

typedef struct vmclock_handle vmclock_t;

enum vmclock_status {
	VMCLOCK_UNKNOWN = 0,      /* no bound: earliest/latest are zero */
	VMCLOCK_SYNCHRONIZED = 1, /* the source is synchronised */
	VMCLOCK_FREERUNNING = 2,  /* a valid bound, grown since the source lost its sync or the daemon went quiet */
	VMCLOCK_DISRUPTED = 3,    /* migration or snapshot restore not yet handled: no bound */
};

enum vmclock_source {
	VMCLOCK_SOURCE_NONE = 0,
	VMCLOCK_SOURCE_PAGE = 1,   /* the vmclock page, read directly */
	VMCLOCK_SOURCE_DAEMON = 2, /* vmclockd's published bound */
};

struct vmclock_bound {
	struct timespec earliest;
	struct timespec latest;
	struct timespec realtime; /* CLOCK_REALTIME read in the call: the centre */
	uint64_t bound_ns;        /* latest - realtime = realtime - earliest */
	int32_t status;           /* enum vmclock_status */
	int32_t source;           /* enum vmclock_source */
	uint64_t disruption_marker; /* the marker the answer was computed under */
};

/* Options for vmclock_open(); NULL paths mean the defaults, "" means "do
 * not use this one". Zero-initialise and set what you need. */
struct vmclock_options {
	uint32_t size; /* sizeof(struct vmclock_options) */
	const char *page_path;
	const char *segment_path;
	uint32_t flags; /* VMCLOCK_OPEN_* */
};

/* Answer from the daemon's segment only, even when the page carries time
 * (the page still gives its disruption marker): chronyd's view of the
 * clock rather than the host's. */
#define VMCLOCK_OPEN_PUBLISHED_ONLY 0x1u

/* Maps the page and the segment (whichever can be opened). Returns 0, or a
 * negative errno when neither can be used: -ENOENT both absent, -EACCES,
 * -EINVAL a bad option, -EPROTO a file that is not what it should be,
 * -ENOMEM. vmclock_open_error() describes the last failure of this thread. */
int vmclock_open(vmclock_t **clock, const struct vmclock_options *options);

/* Fills *bound (size: sizeof(struct vmclock_bound)). Returns 0, or -EINVAL
 * for a NULL argument or a size too small. A status of UNKNOWN or
 * DISRUPTED is not an error: it is the answer. */
int vmclock_now(vmclock_t *clock, struct vmclock_bound *bound, uint32_t size);

void vmclock_close(vmclock_t *clock);

/* "synchronized", "freerunning", "disrupted", "unknown"; "page", "daemon", "none". */
const char *vmclock_status_name(int32_t status);
const char *vmclock_source_name(int32_t source);

/* Why the last vmclock_open() of this thread failed, naming the path. */
const char *vmclock_open_error(void);

/* Why the last answer of this handle had no bound, for people ("page
 * status UNRELIABLE", "segment void: written 412 s ago"). Valid until
 * the next call on the handle. */
const char *vmclock_why(const vmclock_t *clock);

#ifdef __cplusplus
}
#endif

#endif
