// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: MADV_POPULATE against the other ways of prefaulting 1 GiB of
 * private anonymous memory.
 *
 * Every round maps a fresh 1 GiB MAP_PRIVATE | MAP_ANONYMOUS range, read
 * and write, for each of four variants, times how long populating it
 * takes, checks in pagemap that it is populated and unmaps it:
 *   manual_write:    one byte written to every 4 KiB page by the process;
 *   populate_write:  one madvise(MADV_POPULATE_WRITE) over the range;
 *   populate:        one madvise(MADV_POPULATE) over the range;
 *   remote_populate: one process_madvise(MADV_POPULATE) by the parent on
 *                    the range of a forked child that waits on a pipe
 *                    (only that call is timed).
 * The variants take turns within each round, each round starting with the
 * next one, so that drift and order affect all of them alike.  Prints the median of ROUNDS rounds per variant, its ratio to
 * manual_write, and whether the goals hold: populate / manual_write <=
 * 0.80, populate / populate_write <= 1.05, remote_populate / populate <=
 * 1.10.  Exits 4 (skip) on a kernel without MADV_POPULATE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "bench.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif
#ifndef MADV_POPULATE
#define MADV_POPULATE		26
#endif

#define AREA		(1UL << 30)
#define ROUNDS		7
#define NSAMPLE		64	/* pages checked in pagemap per populate */
#define KSFT_SKIP	4

#define PM_PRESENT	(1ULL << 63)
#define PM_EXCLUSIVE	(1ULL << 56)

enum { MANUAL, POP_WRITE, POP, REMOTE, NVARIANTS };

static const char *const names[NVARIANTS] = {
	"manual_write", "populate_write", "populate", "remote_populate",
};

static size_t page_size;

static long madv(void *p, size_t len, int advice)
{
	return syscall(__NR_madvise, p, len, advice);
}

static char *map_area(void)
{
	char *p = mmap(NULL, AREA, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("mmap: %s\n", strerror(errno));
		return NULL;
	}
	/*
	 * Keep the benchmark on 4 KiB pages: with THP, a fault could map
	 * 2 MiB at once, differently for the variants, and the comparison
	 * would be of THP.  Without THP in the kernel this fails, harmlessly.
	 */
	madv(p, AREA, MADV_NOHUGEPAGE);
	return p;
}

/*
 * Whether the range is populated in process pid (0: this one), from
 * NSAMPLE pages spread over it, the first and the last included: each must
 * be present and mapped only there, a page of its own that a write fault
 * allocated, not the shared zero page a read fault would have mapped.
 */
static int check(pid_t pid, char *p, const char *what)
{
	size_t npages = AREA / page_size;
	int absent = 0, shared = 0;
	char path[64];
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: %s\n", path, strerror(errno));
		return 1;
	}
	for (int k = 0; k < NSAMPLE; k++) {
		uintptr_t addr = (uintptr_t)p +
				 (npages - 1) * k / (NSAMPLE - 1) * page_size;
		uint64_t e;

		if (pread(fd, &e, sizeof(e), addr / page_size * sizeof(e)) !=
		    sizeof(e)) {
			printf("%s: %s\n", path, strerror(errno));
			close(fd);
			return 1;
		}
		if (!(e & PM_PRESENT))
			absent++;
		else if (!(e & PM_EXCLUSIVE))
			shared++;
	}
	close(fd);
	if (absent || shared) {
		printf("%s: not populated: of %d sampled pages, %d not present, %d not exclusively mapped\n",
		       what, NSAMPLE, absent, shared);
		return 1;
	}
	return 0;
}

/* manual_write, populate_write or populate, in this process. */
static int run_local(int v, uint64_t *ns)
{
	char *p = map_area();
	long ret = 0;
	uint64_t t;
	int err;

	if (!p)
		return 1;
	t = now_ns();
	if (v == MANUAL)
		for (size_t off = 0; off < AREA; off += page_size)
			p[off] = 1;
	else
		ret = madv(p, AREA, v == POP ? MADV_POPULATE : MADV_POPULATE_WRITE);
	*ns = now_ns() - t;
	if (ret) {
		printf("%s: madvise: %s\n", names[v], strerror(errno));
		err = 1;
	} else {
		err = check(0, p, names[v]);
	}
	munmap(p, AREA);
	return err;
}

/*
 * remote_populate: the range is mapped before the fork, so that the child
 * has it at the same address, unpopulated.
 */
static int run_remote(uint64_t *ns)
{
	int ready[2], go[2], pidfd, err = 1;
	char *p = map_area(), c = 0;
	struct iovec iov;
	long ret;
	uint64_t t;
	pid_t pid;

	if (!p)
		return 1;
	if (pipe(ready) || pipe(go)) {
		printf("pipe: %s\n", strerror(errno));
		munmap(p, AREA);
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		printf("fork: %s\n", strerror(errno));
		munmap(p, AREA);
		return 1;
	}
	if (!pid) {
		/* The target: say it is here, then wait until killed. */
		close(ready[0]);
		close(go[1]);
		if (write(ready[1], &c, 1) == 1)
			while (read(go[0], &c, 1) < 0 && errno == EINTR)
				;
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1) {
		printf("%s: the child did not start\n", names[REMOTE]);
		goto out;
	}
	pidfd = syscall(__NR_pidfd_open, pid, 0);
	if (pidfd < 0) {
		printf("pidfd_open: %s\n", strerror(errno));
		goto out;
	}
	iov = (struct iovec){ p, AREA };
	t = now_ns();
	ret = syscall(__NR_process_madvise, pidfd, &iov, 1, MADV_POPULATE, 0);
	*ns = now_ns() - t;
	if (ret != (long)AREA)
		printf("%s: process_madvise: %s\n", names[REMOTE],
		       ret < 0 ? strerror(errno) : "short count");
	else
		err = check(pid, p, names[REMOTE]);
	close(pidfd);
out:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(ready[0]);
	close(go[1]);
	munmap(p, AREA);
	return err;
}

static bool goal(const char *what, double ratio, double max)
{
	bool pass = ratio <= max;

	printf("goal (%s <= %.2f): %.2f %s\n", what, max, ratio,
	       pass ? "PASS" : "MISS");
	return pass;
}

int main(void)
{
	static uint64_t ns[NVARIANTS][ROUNDS];
	double med[NVARIANTS];
	bool goals = true;
	char *p;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = getpagesize();

	/* The probe: a kernel without MADV_POPULATE says EINVAL. */
	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("mmap: %s\n", strerror(errno));
		return 1;
	}
	if (madv(p, page_size, MADV_POPULATE)) {
		if (errno == EINVAL) {
			printf("MADV_POPULATE not supported (madvise: EINVAL), skipped\n");
			return KSFT_SKIP;
		}
		printf("madvise(MADV_POPULATE): %s\n", strerror(errno));
		return 1;
	}
	munmap(p, page_size);

	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < NVARIANTS; i++) {
			int v = (r + i) % NVARIANTS;

			if (v == REMOTE ? run_remote(&ns[v][r]) :
					  run_local(v, &ns[v][r]))
				return 1;
		}

	for (int v = 0; v < NVARIANTS; v++) {
		qsort(ns[v], ROUNDS, sizeof(ns[v][0]), cmp);
		med[v] = ns[v][ROUNDS / 2];
	}
	/* best_ms, the fastest round, for a feel of the noise under TCG. */
	printf("%-16s %12s %10s %7s\n", "variant", "median_ms", "best_ms",
	       "ratio");
	for (int v = 0; v < NVARIANTS; v++)
		printf("%-16s %12.1f %10.1f %7.2f\n", names[v], med[v] / 1e6,
		       ns[v][0] / 1e6, med[v] / med[MANUAL]);
	goals &= goal("MADV_POPULATE / manual write-touch",
		      med[POP] / med[MANUAL], 0.80);
	goals &= goal("MADV_POPULATE / MADV_POPULATE_WRITE",
		      med[POP] / med[POP_WRITE], 1.05);
	goals &= goal("remote MADV_POPULATE / local MADV_POPULATE",
		      med[REMOTE] / med[POP], 1.10);
	printf("goals (the three above): %s\n", goals ? "met" : "NOT met");
	return 0;
}
