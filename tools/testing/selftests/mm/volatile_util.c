// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the volatile range tests: see volatile_util.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/fs.h>

#include "vm_util.h"
#include "volatile_util.h"

/* MADV_VOLATILE on [addr, addr + len): 0 or -errno. */
int set_volatile(void *addr, size_t len)
{
	return syscall(__NR_madvise, addr, len, MADV_VOLATILE) ? -errno : 0;
}

/* MADV_NONVOLATILE: 1 if a page was purged, 0 if none was, or -errno. */
long set_nonvolatile(void *addr, size_t len)
{
	long ret = syscall(__NR_madvise, addr, len, MADV_NONVOLATILE);

	return ret < 0 ? -errno : ret;
}

/*
 * False on a kernel without MADV_VOLATILE, probed once per process: call
 * it in the harness's process, before it forks the tests.
 */
bool volatile_supported(void)
{
	static int supported = -1;
	size_t ps = getpagesize();
	char *p;

	if (supported >= 0)
		return supported;
	supported = 0;
	if (sizeof(long) != 8)
		return false;
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	supported = !set_volatile(p, ps);
	munmap(p, ps);
	return supported;
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Unit data: a pattern of (index, generation), never zero. */
uint64_t pattern(long idx, unsigned int gen)
{
	return (((uint64_t)idx << 32 | gen) * 0x9e3779b97f4a7c15ULL) | 1;
}

void unit_fill(char *unit, size_t size, long idx, unsigned int gen)
{
	uint64_t *w = (uint64_t *)unit, v = pattern(idx, gen);

	for (size_t i = 0; i < size / sizeof(*w); i++)
		w[i] = v;
}

/* Whether @unit holds pattern (@idx, @gen), zeroes, or anything else. */
int unit_state(const char *unit, size_t size, long idx, unsigned int gen)
{
	const uint64_t *w = (const uint64_t *)unit;
	size_t n = size / sizeof(*w), data = 0, zero = 0;
	uint64_t v = pattern(idx, gen);

	for (size_t i = 0; i < n; i++) {
		data += w[i] == v;
		zero += !w[i];
	}
	return data == n ? UNIT_DATA : zero == n ? UNIT_ZERO : UNIT_BAD;
}

/* How many units [first, first + n) of @p, of @size bytes, are in @state. */
long count_state(char *p, size_t size, long first, long n, unsigned int gen,
		 int state)
{
	long count = 0;

	for (long i = first; i < first + n; i++)
		count += unit_state(p + i * size, size, i, gen) == state;
	return count;
}

/* Pages of [p, p + len) whose /proc/self/pagemap entry has @bit; -1 on error. */
long pagemap_count(char *p, size_t len, uint64_t bit)
{
	size_t n = len / psize(), first = (uintptr_t)p / psize();
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t ent[512];
	long count = 0;

	if (fd < 0)
		return -1;
	for (size_t i = 0; i < n; i += 512) {
		size_t k = n - i < 512 ? n - i : 512;

		if (pread(fd, ent, k * sizeof(*ent), (first + i) * sizeof(*ent))
		    != (ssize_t)(k * sizeof(*ent))) {
			count = -1;
			break;
		}
		for (size_t j = 0; j < k; j++)
			count += !!(ent[j] & bit);
	}
	close(fd);
	return count;
}

/*
 * PAGEMAP_SCAN over the @n pages at @p for pages in @category, with
 * @flags: which of them matched, as a 0/1 array in @hit (if not NULL).  The
 * number of pages matched, or -errno.
 */
long scan_pages(char *p, long n, uint64_t category, uint64_t flags,
		char *hit)
{
	struct page_region regions[64];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = flags,
		.start = (uintptr_t)p,
		.end = (uintptr_t)p + n * psize(),
		.vec = (uintptr_t)regions,
		.vec_len = 64,
		.category_mask = category,
		.return_mask = category,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY);
	long ret, pages = 0;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, PAGEMAP_SCAN, &arg);
	if (ret < 0)
		ret = -errno;
	close(fd);
	if (hit)
		memset(hit, 0, n);
	for (long r = 0; r < ret; r++)
		for (uint64_t a = regions[r].start; a < regions[r].end;
		     a += psize()) {
			if (hit)
				hit[(a - (uintptr_t)p) / psize()] = 1;
			pages++;
		}
	return ret < 0 ? ret : pages;
}

__thread struct bus bus;
int (*bus_resolve)(void *addr);

/* Compiler barriers: the access stays between arming and disarming. */
void bus_arm(bool on)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&bus.armed, on, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static void bus_handler(int sig, siginfo_t *si, void *uc)
{
	int ret;

	(void)uc;
	if (sig != SIGBUS || !__atomic_load_n(&bus.armed, __ATOMIC_RELAXED)) {
		signal(SIGBUS, SIG_DFL);
		return;
	}
	bus.info = *si;
	bus.count++;
	if (si->si_code != BUS_ADRERR || si->si_addr != bus.addr)
		bus.bad++;
	if (bus_resolve && !bus.resolved) {
		bus.resolved = true;
		ret = bus_resolve(si->si_addr);
		if (!ret)
			return;
		bus.err = -ret;
	}
	bus_arm(false);
	siglongjmp(bus.jmp, 1);
}

int catch_sigbus(void)
{
	struct sigaction sa = {
		.sa_sigaction = bus_handler,
		.sa_flags = SA_SIGINFO,
	};

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL);
}

/*
 * Access the byte at @addr: read it or, if @write, add 0 to it (a write
 * that keeps the data).  0 if the access completed (after any SIGBUS that
 * bus_resolve resolved), SIGBUS if touch() jumped out of it; the siginfo
 * of the last SIGBUS is then in bus.info.
 */
int touch(void *addr, bool write)
{
	if (sigsetjmp(bus.jmp, 1))
		return SIGBUS;
	bus.addr = addr;
	bus.resolved = false;
	bus_arm(true);
	if (write)
		__atomic_fetch_add((char *)addr, 0, __ATOMIC_RELAXED);
	else
		(void)__atomic_load_n((char *)addr, __ATOMIC_RELAXED);
	bus_arm(false);
	return 0;
}

/*
 * What a test of volatile memory in a memory cgroup of its own lacks: the
 * reason to skip it, or NULL.
 */
const char *volatile_cg_missing(void)
{
	if (!volatile_supported())
		return "MADV_VOLATILE not supported";
	if (geteuid())
		return "needs root for a memory cgroup";
	if (!memcg_available())
		return "needs cgroup2 with the memory controller";
	return NULL;
}

/* The cgroup directory of the caller, in @path; 0 or -1. */
int self_cgroup(char *path, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[200];
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(path, size, "%s%s", CGROUP_ROOT, line + 3);
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

void cg_leave(void)
{
	cg_enter(CGROUP_ROOT, getpid());
}

/*
 * Make CGROUP_ROOT/<@prefix><pid>-<n>, with the memory controller, in @cg:
 * 0 or -errno.
 */
int cg_create(char *cg, size_t size, const char *prefix)
{
	static int n;
	int ret;

	cg_write(CGROUP_ROOT, "cgroup.subtree_control", "+memory");
	snprintf(cg, size, "%s/%s%d-%d", CGROUP_ROOT, prefix, getpid(), n++);
	if (!mkdir(cg, 0755) || errno == EEXIST)
		return 0;
	ret = -errno;
	cg[0] = '\0';
	return ret;
}

/* Kill whatever is left in @cg and remove it, moving the caller out first. */
void cg_destroy(char *cg)
{
	char mine[256];

	if (!cg[0])
		return;
	if (!self_cgroup(mine, sizeof(mine)) && !strcmp(mine, cg))
		cg_leave();
	cg_write(cg, "cgroup.kill", "1");
	/* Killed processes leave the cgroup asynchronously. */
	for (int i = 0; i < 100; i++) {
		if (!rmdir(cg) || errno != EBUSY)
			break;
		usleep(20000);
	}
	cg[0] = '\0';
}

/* Remove the cgroups of @prefix left by earlier runs killed by a timeout. */
void cg_reap_stale(const char *prefix)
{
	DIR *d = opendir(CGROUP_ROOT);
	size_t plen = strlen(prefix);
	char path[300];
	struct dirent *e;
	int pid;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, plen) ||
		    sscanf(e->d_name + plen, "%d", &pid) != 1 ||
		    !kill(pid, 0) || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", CGROUP_ROOT, e->d_name);
		cg_destroy(path);
	}
	closedir(d);
}

/*
 * Write memory.reclaim of @cg (NULL: the caller's own cgroup) until at most
 * @present pages of [p, p + len) are present, at most @rounds times and for
 * at most 10 s: how many still are, or -1.
 */
long reclaim_until(const char *cg, char *p, size_t len, long present,
		   int rounds)
{
	char mine[256], path[300], amount[32];
	double end = now() + 10;
	long left;
	int fd;

	if (!cg) {
		if (self_cgroup(mine, sizeof(mine)))
			return -1;
		cg = mine;
	}
	snprintf(path, sizeof(path), "%s/memory.reclaim", cg);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	snprintf(amount, sizeof(amount), "%zu", 2 * len + (1UL << 20));
	while ((left = pagemap_count(p, len, PM_PRESENT)) > present &&
	       rounds-- > 0 && now() < end)
		/* EAGAIN: less than asked for could be reclaimed, fine. */
		if (write(fd, amount, strlen(amount)) < 0 && errno != EAGAIN)
			usleep(10000);
	close(fd);
	return left;
}
