// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: zap all anonymous memory of a target with about 4,000 VMAs
 * (seed 002: a typical Android system_server has about 4,200), end to end,
 * three ways:
 *   filtered:  one process_madvise(MADV_DONTNEED, PMADV_ANON_ONLY) over the
 *              whole address space;
 *   maps:      read and parse /proc/<pid>/maps, send the writable private
 *              anonymous ranges with process_madvise(), 1024 per call;
 *   procmap:   walk the VMAs with PROCMAP_QUERY (writable ones, filtered in
 *              the kernel), send the private anonymous ones the same way.
 *
 * The target is forked afresh for each measurement (its stack is zapped
 * too) from a parent holding 2,000 private anonymous VMAs of one written
 * page each, between 2,000 shared memfd VMAs, plus its own mappings.  The
 * pages each route zapped are counted from the target's pagemap around
 * the measurement (untimed): in each round every route must zap the same
 * number, and leave no private anonymous page of the target mapped.  Medians of ROUNDS rounds, the
 * routes rotated within each round.  Goals: maps / filtered >= 5,
 * procmap / filtered >= 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <linux/mman.h>
#include "bench.h"

#define NR_PAIRS	2000
#define ROUNDS		11
#define BATCH		1024
#define MAX_RANGES	8192

enum { FILTERED, MAPS, PROCMAP, NR_ROUTES };

static const char *const route_name[NR_ROUTES] = {
	"filtered process_madvise",
	"/proc/pid/maps + process_madvise",
	"PROCMAP_QUERY + process_madvise",
};

static size_t page_size;
static struct iovec ranges[MAX_RANGES];
static char maps_buf[1 << 20];

static long pmadv(int pidfd, struct iovec *iov, size_t n, unsigned int flags)
{
	return syscall(__NR_process_madvise, pidfd, iov, n, MADV_DONTNEED,
		       flags);
}

/* Send @n ranges, BATCH per call; 0 or -1. */
static int send_ranges(int pidfd, int n)
{
	for (int i = 0; i < n; i += BATCH) {
		int k = n - i < BATCH ? n - i : BATCH;

		if (pmadv(pidfd, ranges + i, k, 0) < 0)
			return -1;
	}
	return 0;
}

/*
 * The private anonymous ranges of /proc/<pid>/maps a remote MADV_DONTNEED
 * may zap: writable, private, no file ([heap], [stack], [anon:...] or no
 * name).  Returns the number of ranges, or -1.
 */
static int parse_maps(pid_t pid)
{
	char path[64], *line, *end;
	size_t len = 0;
	ssize_t r;
	int fd, n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((r = read(fd, maps_buf + len, sizeof(maps_buf) - 1 - len)) > 0)
		len += r;
	close(fd);
	maps_buf[len] = 0;

	for (line = maps_buf; line < maps_buf + len; line = end + 1) {
		unsigned long start, stop, ino;
		char perms[5], name[64] = "";

		end = strchr(line, '\n');
		if (!end)
			break;
		*end = 0;
		if (sscanf(line, "%lx-%lx %4s %*x %*x:%*x %lu %63s", &start,
			   &stop, perms, &ino, name) < 4)
			return -1;
		if (perms[1] != 'w' || perms[3] != 'p' || ino ||
		    (name[0] && name[0] != '['))
			continue;
		if (name[0] && strcmp(name, "[heap]") &&
		    strcmp(name, "[stack]") && strncmp(name, "[anon:", 6))
			continue;
		if (n == MAX_RANGES)
			return -1;
		ranges[n++] = (struct iovec){ (void *)start, stop - start };
	}
	return n;
}

/* The same through PROCMAP_QUERY; the number of ranges, or -1. */
static int query_maps(pid_t pid)
{
	struct procmap_query q = {
		.size = sizeof(q),
		.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA |
			       PROCMAP_QUERY_VMA_WRITABLE,
	};
	char path[64];
	int fd, n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	for (q.query_addr = 0; !ioctl(fd, PROCMAP_QUERY, &q);
	     q.query_addr = q.vma_end) {
		if (q.inode || (q.vma_flags & PROCMAP_QUERY_VMA_SHARED))
			continue;
		if (n == MAX_RANGES) {
			n = -1;
			break;
		}
		ranges[n++] = (struct iovec){ (void *)q.vma_start,
					      q.vma_end - q.vma_start };
	}
	if (n >= 0 && errno != ENOENT)
		n = -1;
	close(fd);
	return n;
}

/* One route, end to end; the time, or 0 on failure. */
static uint64_t zap(int route, pid_t pid, int pidfd)
{
	struct iovec all = {
		.iov_base = NULL, .iov_len = SSIZE_MAX & ~(page_size - 1),
	};
	uint64_t t = now_ns();
	int n;

	switch (route) {
	case FILTERED:
		if (pmadv(pidfd, &all, 1, PMADV_ANON_ONLY) < 0)
			return 0;
		break;
	case MAPS:
		n = parse_maps(pid);
		if (n < 0 || send_ranges(pidfd, n))
			return 0;
		break;
	case PROCMAP:
		n = query_maps(pid);
		if (n < 0 || send_ranges(pidfd, n))
			return 0;
		break;
	}
	return now_ns() - t ? : 1;
}

/* Present pages of the target's private anonymous ranges (untimed). */
static long anon_present(pid_t pid)
{
	char path[64];
	long present = 0;
	int fd, n = parse_maps(pid);

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0 || n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		unsigned long a = (unsigned long)ranges[i].iov_base;
		unsigned long e = a + ranges[i].iov_len;

		for (; a < e; a += page_size) {
			uint64_t ent;

			if (pread(fd, &ent, sizeof(ent),
				  a / page_size * sizeof(ent)) != sizeof(ent))
				return -1;
			present += !!(ent & (1ULL << 63));
		}
	}
	close(fd);
	return present;
}

int main(void)
{
	uint64_t t[NR_ROUTES][ROUNDS];
	long zapped[NR_ROUTES] = { 0 };
	bool same = true, goals;
	double med[NR_ROUTES];
	int memfd;
	char *area;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = getpagesize();
	/* 2,000 anonymous pages between 2,000 shared memfd pages. */
	area = mmap(NULL, 2 * NR_PAIRS * page_size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memfd = memfd_create("process_madv_filter_bench", 0);
	if (area == MAP_FAILED || memfd < 0 ||
	    ftruncate(memfd, NR_PAIRS * page_size))
		return 1;
	for (int i = 0; i < NR_PAIRS; i++) {
		char *a = area + 2 * i * page_size;

		if (mmap(a, page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != a ||
		    mmap(a + page_size, page_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, memfd, i * page_size) !=
		    a + page_size)
			return 1;
		a[0] = 1;
		a[page_size] = 1;
	}

	/*
	 * Bring the parent to the state every target is forked from: its
	 * buffers and stack as deep as the checks below take them.  A
	 * round's targets then hold the same anonymous pages.
	 */
	memset(maps_buf, 0, sizeof(maps_buf));
	memset(ranges, 0, sizeof(ranges));
	if (anon_present(getpid()) < 0 || query_maps(getpid()) < 0)
		return 1;

	for (int r = 0; r < ROUNDS; r++) {
		long first = -1;

		for (int k = 0; k < NR_ROUTES; k++) {
			int route = (r + k) % NR_ROUTES;
			long before, after;
			int pidfd;
			pid_t pid;

			pid = fork();
			if (!pid)
				for (;;)
					pause();
			pidfd = syscall(__NR_pidfd_open, pid, 0);
			before = anon_present(pid);
			t[route][r] = zap(route, pid, pidfd);
			after = anon_present(pid);
			if (!t[route][r] || before < NR_PAIRS || after) {
				printf("%s: %s (present before %ld, after %ld)\n",
				       route_name[route],
				       t[route][r] ? "pages left" :
				       strerror(errno), before, after);
				kill(pid, SIGKILL);
				return 1;
			}
			/* The targets of a round are forks of one state. */
			zapped[route] = before - after;
			if (first < 0)
				first = zapped[route];
			else if (zapped[route] != first)
				same = false;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(pidfd);
		}
	}

	printf("%-34s %11s %11s %8s %8s\n", "route (4,000+ VMAs)", "median_us",
	       "best_us", "ratio", "zapped");
	for (int k = 0; k < NR_ROUTES; k++) {
		qsort(t[k], ROUNDS, sizeof(t[k][0]), cmp);
		med[k] = t[k][ROUNDS / 2] / 1e3;
	}
	for (int k = 0; k < NR_ROUTES; k++) {
		printf("%-34s %11.1f %11.1f %8.2f %8ld\n", route_name[k],
		       med[k], t[k][0] / 1e3, med[k] / med[FILTERED],
		       zapped[k]);
	}
	printf("same pages zapped by every route: %s\n", same ? "yes" : "NO");
	goals = same && med[MAPS] >= 5 * med[FILTERED] &&
		med[PROCMAP] >= 2 * med[FILTERED];
	printf("goals (maps >= 5x filtered, PROCMAP_QUERY >= 2x filtered): %s\n",
	       goals ? "met" : "NOT met");
	return 0;
}
