// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: volatile ranges (MADV_VOLATILE / MADV_NONVOLATILE).
 *
 * Part 1, the cost of the calls, on populated private anonymous memory
 * (4 KiB pages, MADV_NOHUGEPAGE, so that MADV_NONVOLATILE walks every
 * PTE), median of ROUNDS rounds:
 *   volatile_1m, volatile_1g:   MADV_VOLATILE over 1 MiB and 1 GiB;
 *   nonvolatile_1m/_1g:         MADV_NONVOLATILE over the same, unpurged;
 *   retouch_1g:                 writing one byte to every page of the
 *                               1 GiB (present pages: no fault);
 *   refault_1g:                 the same after MADV_DONTNEED, i.e. what
 *                               regenerating the memory costs at least.
 * Goals: volatile_1g / volatile_1m <= 1.5 (size-independent), and
 * nonvolatile_1g far below retouch_1g (reported as a ratio, goal <= 0.5).
 *
 * Part 2, reclaim through memory.reclaim of a child cgroup, of 1 GiB of
 * private anonymous memory filled with compressible data, made
 *   volatile: MADV_VOLATILE (purged);
 *   free:     MADV_FREE (lazily freed);
 *   zram:     nothing (swapped out to a zram swap device this program
 *             sets up, lzo-rle);
 *   volatile_cold: MADV_VOLATILE, then MADV_COLD.  MADV_FREE clears the
 *             pages' accessed bits as it goes, so reclaim frees them on
 *             its first pass; MADV_VOLATILE leaves aging alone (and is
 *             O(1)), so just-written pages get their second chance on
 *             the LRU first.  MADV_COLD ages them as MADV_FREE does,
 *             which shows the purge itself against the lazy free;
 *   volatile_anon: MADV_VOLATILE, reclaimed with "swappiness=200":
 *             volatile folios sit on the anon LRU, which the default
 *             swappiness (60) scans at under half the file LRU's rate,
 *             where MADV_FREE moves its folios;
 * timing the memory.reclaim writes until the cgroup is below 32 MiB.  The
 * variants take turns, each round starting with the next.  Goals: the
 * volatile rate >= 0.9x the MADV_FREE rate and >= 3x the zram rate.
 *
 * Needs root, cgroup2 at /sys/fs/cgroup with the memory controller, and
 * CONFIG_ZRAM for part 2's zram variant (skipped without it).  Exits 4
 * (skip) on a kernel without MADV_VOLATILE; goals missed are reported,
 * not failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef MADV_VOLATILE
#define MADV_VOLATILE		27
#define MADV_NONVOLATILE	28
#endif

#define GIB		(1UL << 30)
#define MIB		(1UL << 20)
#define ROUNDS		5
#define RECLAIM_ROUNDS	3
#define KSFT_SKIP	4
#define CG		"/sys/fs/cgroup/volatile-bench"

static size_t page_size;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long madv(void *p, size_t len, int advice)
{
	return syscall(__NR_madvise, p, len, advice);
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median(uint64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

static bool goal(const char *what, double ratio, double max, bool below)
{
	bool pass = below ? ratio <= max : ratio >= max;

	printf("goal (%s %s %.2f): %.2f %s\n", what, below ? "<=" : ">=",
	       max, ratio, pass ? "PASS" : "MISS");
	return pass;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static long read_long(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -1;
}

/*
 * A mapping of its own: a PROT_NONE page after it keeps it from merging
 * with the next one, so that each call covers exactly one VMA.
 */
static char *map_anon(size_t len)
{
	char *p = mmap(NULL, len + page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("mmap: %s\n", strerror(errno));
		exit(1);
	}
	mprotect(p + len, page_size, PROT_NONE);
	madv(p, len, MADV_NOHUGEPAGE);
	return p;
}

/* Every page differs, but compresses well: a 64-byte record, repeated. */
static void fill(char *p, size_t len)
{
	for (size_t off = 0; off < len; off += page_size) {
		uint64_t *w = (uint64_t *)(p + off);

		for (size_t i = 0; i < page_size / 8; i++)
			w[i] = (off / page_size) * 8 + i % 8 + 1;
	}
}

static uint64_t timed_madv(char *p, size_t len, int advice)
{
	uint64_t t = now_ns();

	if (madv(p, len, advice) < 0) {
		printf("madvise(%d): %s\n", advice, strerror(errno));
		exit(1);
	}
	return now_ns() - t;
}

static uint64_t touch_all(char *p, size_t len)
{
	uint64_t t = now_ns();

	for (size_t off = 0; off < len; off += page_size)
		((volatile char *)p)[off] = 1;
	return now_ns() - t;
}

enum { V1M, V1G, NV1M, NV1G, RETOUCH, REFAULT, NCALLS };

static const char *const call_names[NCALLS] = {
	"volatile_1m", "volatile_1g", "nonvolatile_1m", "nonvolatile_1g",
	"retouch_1g", "refault_1g",
};

static bool part1(void)
{
	static uint64_t ns[NCALLS][ROUNDS];
	double med[NCALLS];
	char *small = map_anon(MIB), *big = map_anon(GIB);
	bool goals = true;

	fill(small, MIB);
	fill(big, GIB);
	for (int r = 0; r < ROUNDS; r++) {
		ns[V1M][r] = timed_madv(small, MIB, MADV_VOLATILE);
		ns[NV1M][r] = timed_madv(small, MIB, MADV_NONVOLATILE);
		ns[V1G][r] = timed_madv(big, GIB, MADV_VOLATILE);
		ns[NV1G][r] = timed_madv(big, GIB, MADV_NONVOLATILE);
		ns[RETOUCH][r] = touch_all(big, GIB);
		madv(big, GIB, MADV_DONTNEED);
		ns[REFAULT][r] = touch_all(big, GIB);
	}
	printf("%-16s %12s %12s\n", "call", "median_us", "best_us");
	for (int c = 0; c < NCALLS; c++) {
		med[c] = median(ns[c], ROUNDS);
		printf("%-16s %12.1f %12.1f\n", call_names[c], med[c] / 1e3,
		       ns[c][0] / 1e3);
	}
	goals &= goal("MADV_VOLATILE 1 GiB / 1 MiB", med[V1G] / med[V1M],
		      1.5, true);
	goals &= goal("MADV_NONVOLATILE 1 GiB unpurged / re-touching 1 GiB",
		      med[NV1G] / med[RETOUCH], 0.5, true);
	printf("nonvolatile_1g / refault_1g: %.3f\n", med[NV1G] / med[REFAULT]);
	munmap(small, MIB);
	munmap(big, GIB);
	return goals;
}

/* A zram swap device of @size; its number, or -1 if there is none. */
static int zram_swap_on(size_t size)
{
	char path[64], dev[32], num[32];
	int fd, n = 0;
	char *hdr;

	if (access("/sys/block/zram0", F_OK)) {
		n = read_long("/sys/class/zram-control/hot_add");
		if (n < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", n);
	snprintf(num, sizeof(num), "%zu", size);
	if (write_str(path, num))
		return -1;
	snprintf(dev, sizeof(dev), "/dev/zram%d", n);
	fd = open(dev, O_WRONLY);
	if (fd < 0)
		return -1;
	/* The swap header mkswap writes: version 1, last page, signature. */
	hdr = calloc(1, page_size);
	((uint32_t *)(hdr + 1024))[0] = 1;
	((uint32_t *)(hdr + 1024))[1] = size / page_size - 1;
	memcpy(hdr + page_size - 10, "SWAPSPACE2", 10);
	if (pwrite(fd, hdr, page_size, 0) != (ssize_t)page_size) {
		close(fd);
		free(hdr);
		return -1;
	}
	close(fd);
	free(hdr);
	if (syscall(__NR_swapon, dev, 0))
		return -1;
	return n;
}

static void zram_swap_off(int n)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/zram%d", n);
	syscall(__NR_swapoff, path);
	snprintf(path, sizeof(path), "/sys/block/zram%d/reset", n);
	write_str(path, "1");
}

enum { VOLATILE, FREE, VOLATILE_COLD, VOLATILE_ANON, ZRAM, NKINDS };

static const char *const kind_names[NKINDS] = {
	"volatile", "free", "volatile_cold", "volatile_anon", "zram",
};

/*
 * In a child in the cgroup: map and fill 1 GiB, advise it, then time
 * memory.reclaim until the cgroup holds less than 32 MiB.  The child
 * reports the nanoseconds and the bytes reclaimed through a pipe.
 */
static int reclaim_round(int kind, uint64_t *ns, uint64_t *bytes)
{
	uint64_t res[2] = { 0, 0 };
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (!pid) {
		char me[32], *p;
		long before, after;
		uint64_t t;
		int tries = 0;

		close(pfd[0]);
		snprintf(me, sizeof(me), "%d", getpid());
		if (write_str(CG "/cgroup.procs", me))
			_exit(1);
		p = map_anon(GIB);
		fill(p, GIB);
		if (kind == VOLATILE || kind == VOLATILE_COLD ||
		    kind == VOLATILE_ANON)
			madv(p, GIB, MADV_VOLATILE);
		if (kind == VOLATILE_COLD)
			madv(p, GIB, MADV_COLD);
		else if (kind == FREE)
			madv(p, GIB, MADV_FREE);
		before = read_long(CG "/memory.current");
		t = now_ns();
		while (read_long(CG "/memory.current") > (long)(32 * MIB) &&
		       tries++ < 16)
			write_str(CG "/memory.reclaim", kind == VOLATILE_ANON ?
				  "1G swappiness=200" : "1G");
		res[0] = now_ns() - t;
		after = read_long(CG "/memory.current");
		res[1] = before > after ? before - after : 0;
		if (write(pfd[1], res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], res, sizeof(res)) != sizeof(res))
		res[0] = 0;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (!res[0] || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	*ns = res[0];
	*bytes = res[1];
	return 0;
}

static bool part2(void)
{
	static uint64_t rate[NKINDS][RECLAIM_ROUNDS];
	double med[NKINDS];
	bool goals = true;
	int zram, nkinds = NKINDS;

	rmdir(CG);
	if (mkdir(CG, 0755)) {
		printf("%s: %s, part 2 skipped\n", CG, strerror(errno));
		return false;
	}
	zram = zram_swap_on(GIB);
	if (zram < 0) {
		printf("no zram swap device, the zram variant is skipped\n");
		nkinds = ZRAM;
	}
	for (int r = 0; r < RECLAIM_ROUNDS; r++)
		for (int i = 0; i < nkinds; i++) {
			int k = (r + i) % nkinds;
			uint64_t ns, bytes;

			if (reclaim_round(k, &ns, &bytes)) {
				printf("%s: reclaim round failed\n",
				       kind_names[k]);
				goals = false;
				continue;
			}
			/* MiB per second */
			rate[k][r] = bytes * 1000000000ULL / MIB / ns;
			printf("round %d %-9s %7.1f MiB in %8.1f ms\n", r,
			       kind_names[k], (double)bytes / MIB, ns / 1e6);
		}
	if (zram >= 0)
		zram_swap_off(zram);
	rmdir(CG);

	printf("%-16s %14s\n", "reclaim", "median_MiB/s");
	for (int k = 0; k < nkinds; k++) {
		med[k] = median(rate[k], RECLAIM_ROUNDS);
		printf("%-16s %14.0f\n", kind_names[k], med[k]);
	}
	goals &= goal("volatile / MADV_FREE reclaim rate",
		      med[VOLATILE] / med[FREE], 0.9, false);
	printf("volatile+MADV_COLD / MADV_FREE reclaim rate: %.2f\n",
	       med[VOLATILE_COLD] / med[FREE]);
	printf("volatile, swappiness=200 / MADV_FREE reclaim rate: %.2f\n",
	       med[VOLATILE_ANON] / med[FREE]);
	if (nkinds == NKINDS)
		goals &= goal("volatile / zram reclaim rate",
			      med[VOLATILE] / med[ZRAM], 3.0, false);
	return goals;
}

int main(void)
{
	bool goals = true;
	char *p;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = getpagesize();

	p = map_anon(page_size);
	if (madv(p, page_size, MADV_VOLATILE)) {
		if (errno == EINVAL) {
			printf("MADV_VOLATILE not supported (madvise: EINVAL), skipped\n");
			return KSFT_SKIP;
		}
		printf("madvise(MADV_VOLATILE): %s\n", strerror(errno));
		return 1;
	}
	munmap(p, page_size);

	goals &= part1();
	goals &= part2();
	printf("goals (all above): %s\n", goals ? "met" : "NOT met");
	return 0;
}
