/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the volatile range tests (volatile.c, uffd-volatile.c): the
 * advice, page data that tells where it came from, SIGBUS caught around
 * one access, memory cgroups made for a test and reclaim from them.
 * Include vm_util.h first.
 */
#ifndef __VOLATILE_UTIL_H
#define __VOLATILE_UTIL_H

#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef MADV_VOLATILE
#define MADV_VOLATILE		27
#endif
#ifndef MADV_NONVOLATILE
#define MADV_NONVOLATILE	28
#endif
#ifndef PAGE_IS_PURGED
#define PAGE_IS_PURGED		BIT_ULL(9)
#endif
#define PM_PURGED		BIT_ULL(59)

#ifndef CGROUP_ROOT
#define CGROUP_ROOT		"/sys/fs/cgroup"
#endif

int set_volatile(void *addr, size_t len);
long set_nonvolatile(void *addr, size_t len);
bool volatile_supported(void);
double now(void);

/*
 * Data of a unit (a page or a huge page) of @size bytes: a non-zero pattern
 * of its index and a generation, so that a unit that reads zero can only be
 * one that was purged and taken back.
 */
enum { UNIT_DATA, UNIT_ZERO, UNIT_BAD };

uint64_t pattern(long idx, unsigned int gen);
void unit_fill(char *unit, size_t size, long idx, unsigned int gen);
int unit_state(const char *unit, size_t size, long idx, unsigned int gen);
long count_state(char *p, size_t size, long first, long n, unsigned int gen,
		 int state);
long pagemap_count(char *p, size_t len, uint64_t bit);
long scan_pages(char *p, long n, uint64_t category, uint64_t flags,
		char *hit);

/*
 * SIGBUS: touch() arms the calling thread's struct bus around one access.
 * A SIGBUS then is counted and, if bus_resolve is set and returns 0 for
 * it, the access is retried once; otherwise the handler jumps out of the
 * access.  A SIGBUS outside an access kills the process, as it would
 * without a handler.  Code with more accesses arms it itself:
 *
 *	if (sigsetjmp(bus.jmp, 1))
 *		return SIGBUS;
 *	bus_arm(true);
 *	...
 *	bus_arm(false);
 */
struct bus {
	sigjmp_buf jmp;
	int armed;
	bool resolved;		/* this access was resolved once already */
	void *addr;		/* the address being accessed */
	siginfo_t info;		/* of the last SIGBUS */
	long count;		/* SIGBUS raised in this thread */
	long bad;		/* ... not BUS_ADRERR at the address accessed */
	int err;		/* a resolution that failed, as an errno */
};

extern __thread struct bus bus;
extern int (*bus_resolve)(void *addr);

int catch_sigbus(void);
void bus_arm(bool on);
int touch(void *addr, bool write);

/* Memory cgroups: @cg is a directory under CGROUP_ROOT. */
const char *volatile_cg_missing(void);
int self_cgroup(char *path, size_t size);
void cg_leave(void);
int cg_create(char *cg, size_t size, const char *prefix);
void cg_destroy(char *cg);
void cg_reap_stale(const char *prefix);
long reclaim_until(const char *cg, char *p, size_t len, long present,
		   int rounds);

#endif /* __VOLATILE_UTIL_H */
