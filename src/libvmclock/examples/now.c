// SPDX-License-Identifier: Apache-2.0
/* The README's example: print the interval libvmclock vouches for. */
#include <stdio.h>
#include <vmclock/vmclock.h>

int main(void) {
	vmclock_t *c;
	struct vmclock_bound b;
	if (vmclock_open(&c, NULL) != 0) { fprintf(stderr, "%s\n", vmclock_open_error()); return 69; }
	vmclock_now(c, &b, sizeof b);
	printf("%s: %lld.%09ld +- %llu ns\n", vmclock_status_name(b.status), (long long)b.realtime.tv_sec,
	       b.realtime.tv_nsec, (unsigned long long)b.bound_ns);
	vmclock_close(c);
	return b.status == VMCLOCK_SYNCHRONIZED || b.status == VMCLOCK_FREERUNNING ? 0 : 69;
}
