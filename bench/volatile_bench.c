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
 * Part 3, what volatile memory costs a process that never used it: in
 * cgroup A, 256 MiB of normal anon, reclaimed through memory.reclaim to
 * zram swap ("anon"), and 256 MiB of page cache (read from a zram block
 * device) next to 256 MiB of normal anon, without swap ("file"), timed
 * while no process has volatile memory ("before") and while another
 * process, in cgroup B, holds 512 MiB of it ("after").  The two take turns
 * (before-after, then after-before), RECLAIM_ROUNDS * 2 of each.  Goal:
 * after / before <= 1.05 in both variants.
 *
 * Part 4, how long other threads wait while MADV_NONVOLATILE walks 1 GiB
 * (unpurged, 4 KiB pages): one thread faults in fresh pages of the same
 * mapping, next to the range, another calls mincore(), which takes
 * mmap_lock for reading; their longest wait during the call is reported
 * against the call's length.  With the walk under mmap_lock held for
 * writing (before this series' last version) both wait for the whole call.
 *
 * Needs root, cgroup2 at /sys/fs/cgroup with the memory controller, and
 * CONFIG_ZRAM for part 2's zram variant and part 3 (skipped without it).
 * Exits 4 (skip) on a kernel without MADV_VOLATILE; goals missed are
 * reported, not failed.
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
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "bench.h"

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
#define CG_A		"/sys/fs/cgroup/volatile-bench-a"
#define CG_B		"/sys/fs/cgroup/volatile-bench-b"

static size_t page_size;

static long madv(void *p, size_t len, int advice)
{
	return syscall(__NR_madvise, p, len, advice);
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

/* A zram device of @size; its number, or -1 if there is none. */
static int zram_device(size_t size)
{
	char path[64], num[32];
	int n = 0;

	if (access("/sys/block/zram0", F_OK)) {
		n = read_long("/sys/class/zram-control/hot_add");
		if (n < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", n);
	snprintf(num, sizeof(num), "%zu", size);
	if (write_str(path, num))
		return -1;
	return n;
}

/* A zram swap device of @size; its number, or -1 if there is none. */
static int zram_swap_on(size_t size)
{
	int fd, n = zram_device(size);
	char dev[32];
	char *hdr;

	if (n < 0)
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
static int reclaim_round(int kind, uint64_t *ns, uint64_t *bytes,
			 uint64_t *advise_ns)
{
	uint64_t res[3] = { 0, 0, 0 };
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
		t = now_ns();
		if (kind == VOLATILE || kind == VOLATILE_COLD ||
		    kind == VOLATILE_ANON)
			madv(p, GIB, MADV_VOLATILE);
		if (kind == VOLATILE_COLD)
			madv(p, GIB, MADV_COLD);
		else if (kind == FREE)
			madv(p, GIB, MADV_FREE);
		res[2] = now_ns() - t;
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
	*advise_ns = res[2];
	return 0;
}

static bool part2(void)
{
	static uint64_t rate[NKINDS][RECLAIM_ROUNDS];
	static uint64_t total[NKINDS][RECLAIM_ROUNDS];
	double med[NKINDS], med_total[NKINDS];
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
			uint64_t ns, bytes, advise_ns;

			if (reclaim_round(k, &ns, &bytes, &advise_ns)) {
				printf("%s: reclaim round failed\n",
				       kind_names[k]);
				goals = false;
				continue;
			}
			/* MiB per second */
			rate[k][r] = bytes * 1000000000ULL / MIB / ns;
			total[k][r] = bytes * 1000000000ULL / MIB /
				      (ns + advise_ns);
			printf("round %d %-9s %7.1f MiB in %8.1f ms\n", r,
			       kind_names[k], (double)bytes / MIB, ns / 1e6);
		}
	if (zram >= 0)
		zram_swap_off(zram);
	rmdir(CG);

	/* With the advice call: MADV_FREE walks the range, MADV_VOLATILE not. */
	printf("%-16s %14s %22s\n", "reclaim", "median_MiB/s",
	       "with_advice_MiB/s");
	for (int k = 0; k < nkinds; k++) {
		med[k] = median(rate[k], RECLAIM_ROUNDS);
		med_total[k] = median(total[k], RECLAIM_ROUNDS);
		printf("%-16s %14.0f %22.0f\n", kind_names[k], med[k],
		       med_total[k]);
	}
	goals &= goal("volatile / MADV_FREE reclaim rate",
		      med[VOLATILE] / med[FREE], 0.9, false);
	printf("volatile+MADV_COLD / MADV_FREE reclaim rate: %.2f\n",
	       med[VOLATILE_COLD] / med[FREE]);
	printf("volatile / MADV_FREE, advice call included: %.2f\n",
	       med_total[VOLATILE] / med_total[FREE]);
	printf("volatile, swappiness=200 / MADV_FREE reclaim rate: %.2f\n",
	       med[VOLATILE_ANON] / med[FREE]);
	if (nkinds == NKINDS)
		goals &= goal("volatile / zram reclaim rate",
			      med[VOLATILE] / med[ZRAM], 3.0, false);
	return goals;
}

/* Move the caller into cgroup @cg. */
static int enter(const char *cg)
{
	char path[128], me[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(me, sizeof(me), "%d", getpid());
	return write_str(path, me);
}

/*
 * Part 3, one round: in cgroup A, 256 MiB of normal anon, then (file) 256
 * MiB of the zram device @dev read into the page cache; the nanoseconds
 * memory.reclaim takes to bring A below 32 MiB of what it can reclaim:
 * the anon with swap, the page cache without.
 */
static uint64_t nonuser_round(bool file, const char *dev)
{
	uint64_t res[2] = { 0, 0 };
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd))
		return 0;
	pid = fork();
	if (!pid) {
		size_t chunk = MIB;
		char *p, *buf = malloc(chunk);
		long floor;
		uint64_t t;
		int tries = 0;

		close(pfd[0]);
		if (enter(CG_A) || !buf)
			_exit(1);
		p = map_anon(256 * MIB);
		fill(p, 256 * MIB);
		/* Open until the end: the last close drops a device's cache. */
		if (file) {
			int fd = open(dev, O_RDONLY);

			if (fd < 0)
				_exit(1);
			for (size_t off = 0; off < 256 * MIB; off += chunk)
				if (pread(fd, buf, chunk, off) != (ssize_t)chunk)
					_exit(1);
		}
		/* Without swap only the page cache can go. */
		floor = file ? 256 * MIB + 32 * MIB : 32 * MIB;
		res[1] = read_long(CG_A "/memory.current");
		t = now_ns();
		while (read_long(CG_A "/memory.current") > floor &&
		       tries++ < 64)
			write_str(CG_A "/memory.reclaim", "64M");
		res[0] = now_ns() - t;
		res[1] -= read_long(CG_A "/memory.current");
		if (write(pfd[1], res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], res, sizeof(res)) != sizeof(res))
		res[0] = 0;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return 0;
	printf("%s: %.1f MiB reclaimed in %.1f ms\n", file ? "file" : "anon",
	       (double)res[1] / MIB, res[0] / 1e6);
	return res[0];
}

/* A process in cgroup B holding 512 MiB of volatile memory: its pid. */
static pid_t volatile_user(void)
{
	int pfd[2];
	pid_t pid;
	char c;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (!pid) {
		char *p;

		close(pfd[0]);
		if (enter(CG_B))
			_exit(1);
		p = map_anon(512 * MIB);
		fill(p, 512 * MIB);
		madv(p, 512 * MIB, MADV_VOLATILE);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(pfd[0]);
	return pid;
}

static bool part3(void)
{
	static uint64_t ns[2][2][2 * RECLAIM_ROUNDS];
	const char *const names[2] = { "anon (zram swap)", "file (no swap)" };
	bool goals = true;
	char dev[32];
	int zram;

	rmdir(CG_A);
	rmdir(CG_B);
	if (mkdir(CG_A, 0755) || mkdir(CG_B, 0755)) {
		printf("part 3 skipped: %s\n", strerror(errno));
		return false;
	}
	zram = zram_swap_on(GIB);
	if (zram < 0) {
		printf("no zram device, part 3 skipped\n");
		return false;
	}
	snprintf(dev, sizeof(dev), "/dev/zram%d", zram);
	for (int file = 0; file < 2; file++) {
		if (file) {
			/* No swap now: the device is read as a block device. */
			zram_swap_off(zram);
			zram = zram_device(GIB);
		}
		for (int r = 0; r < 2 * RECLAIM_ROUNDS; r++)
			for (int i = 0; i < 2; i++) {
				/* before-after, then after-before */
				int after = (r + i) % 2;
				pid_t user = after ? volatile_user() : 0;

				ns[file][after][r] = nonuser_round(file, dev);
				if (user > 0) {
					kill(user, SIGKILL);
					waitpid(user, NULL, 0);
				}
				if (!ns[file][after][r] || user < 0) {
					printf("part 3: a round failed\n");
					goals = false;
				}
			}
	}
	zram_swap_off(zram);
	rmdir(CG_A);
	rmdir(CG_B);

	printf("%-18s %14s %14s %8s\n", "non-user reclaim", "before_ms",
	       "after_ms", "ratio");
	for (int file = 0; file < 2; file++) {
		double before = median(ns[file][0], 2 * RECLAIM_ROUNDS);
		double after = median(ns[file][1], 2 * RECLAIM_ROUNDS);

		printf("%-18s %14.1f %14.1f %8.3f\n", names[file], before / 1e6,
		       after / 1e6, after / before);
		goals &= goal(names[file], after / before, 1.05, true);
	}
	return goals;
}

/* Part 4: the longest wait of the threads below while the call runs. */
struct waiter {
	char *p;			/* pages to fault in, or to mincore() */
	size_t len;
	bool fault;
	bool stop;
	uint64_t max_ns;
	unsigned long ops;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	unsigned char vec[16];
	size_t off = 0;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		uint64_t t = now_ns(), d;

		/*
		 * One operation every 20 us, not back to back: a thread that
		 * keeps mmap_lock busy would delay the call's write lock and
		 * measure the lock's queueing, not the walk.
		 */
		while (now_ns() - t < 20000)
			;
		t = now_ns();

		if (w->fault) {
			((volatile char *)w->p)[off] = 1;
			off = (off + page_size) % w->len;
		} else {
			mincore(w->p, 16 * page_size, vec);
		}
		d = now_ns() - t;
		if (d > __atomic_load_n(&w->max_ns, __ATOMIC_RELAXED))
			__atomic_store_n(&w->max_ns, d, __ATOMIC_RELAXED);
		w->ops++;
	}
	return NULL;
}

static bool part4(void)
{
	static uint64_t call[2][ROUNDS], wait[2][ROUNDS], idle[2][ROUNDS];
	const char *const names[2] = { "mincore()", "fault next to it" };
	size_t tail = 256 * MIB;
	char *p = map_anon(GIB + tail);

	fill(p, GIB);
	/*
	 * One waiting thread at a time, and the caller: two CPUs, so neither
	 * waits for a CPU.  Its longest wait in the call is compared with its
	 * longest in as long a time before, with no call.
	 */
	for (int r = 0; r < ROUNDS; r++)
		for (int f = 0; f < 2; f++) {
			struct waiter w = { .p = p + GIB, .len = tail, .fault = f };
			uint64_t t;
			pthread_t th;

			madv(p + GIB, tail, MADV_DONTNEED);
			madv(p, GIB, MADV_VOLATILE);
			pthread_create(&th, NULL, waiter_thread, &w);
			usleep(50000);
			__atomic_store_n(&w.max_ns, 0, __ATOMIC_RELAXED);
			t = now_ns();
			while (now_ns() - t < (r ? call[f][r - 1] : 5000000))
				;
			idle[f][r] = __atomic_load_n(&w.max_ns, __ATOMIC_RELAXED);
			__atomic_store_n(&w.max_ns, 0, __ATOMIC_RELAXED);
			call[f][r] = timed_madv(p, GIB, MADV_NONVOLATILE);
			wait[f][r] = __atomic_load_n(&w.max_ns, __ATOMIC_RELAXED);
			__atomic_store_n(&w.stop, true, __ATOMIC_RELAXED);
			pthread_join(th, NULL);
		}
	printf("%-30s %10s %16s %16s %8s\n", "MADV_NONVOLATILE 1 GiB",
	       "call_us", "longest_wait_us", "idle_longest_us", "wait/call");
	for (int f = 0; f < 2; f++) {
		double c = median(call[f], ROUNDS), w = median(wait[f], ROUNDS);

		printf("%-30s %10.1f %16.1f %16.1f %8.3f\n", names[f], c / 1e3,
		       w / 1e3, median(idle[f], ROUNDS) / 1e3, w / c);
	}
	munmap(p, GIB + tail + page_size);
	return true;
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
	goals &= part3();
	goals &= part4();
	printf("goals (all above): %s\n", goals ? "met" : "NOT met");
	return 0;
}
