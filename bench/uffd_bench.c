// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: resolving faults through userfaultfd, in the faulting thread
 * (UFFD_FEATURE_SIGBUS and a SIGBUS handler) or in a monitor thread.
 *
 * Part 1, purged volatile pages (needs UFFD_FEATURE_MISSING_PURGED):
 * N_PURGED pages of private anonymous memory, filled, made volatile and
 * purged through memory.reclaim of a cgroup of this program's (swap.max 0;
 * not timed), then read once each, with the range registered for missing
 * faults and every fault resolved by UFFDIO_COPY of one prepared page:
 *   in_thread:   UFFD_FEATURE_SIGBUS too; the SIGBUS handler copies and
 *                returns, the access is retried;
 *   monitor:     the faulting thread waits; a monitor thread wakes from
 *                poll(), read()s the event and copies, which wakes it;
 *   monitor_cpu: the same with both threads on one CPU, so that each
 *                fault costs two context switches and no cross-CPU
 *                wakeup (of an idle, halted vCPU under QEMU TCG, which
 *                waits for the host to run that vCPU's thread: on a busy
 *                host that, not the kernel, dominates "monitor").
 * Time per page, median of ROUNDS rounds; the variants take turns, each
 * round starting with the next.  Goal: the faster monitor variant /
 * in_thread >= 1.5.
 *
 * Part 2, filling a 256 MiB tmpfs file (a memfd) from a 2 MiB buffer:
 *   uffdio_copy:     UFFDIO_COPY, 2 MiB per call, into a shared mapping of
 *                    the empty file registered for missing faults (no
 *                    fault is taken: the copy allocates and maps);
 *   fallocate_write: fallocate() of the whole file, then pwrite();
 *   write:           pwrite() alone (allocates as it goes);
 *   memcpy:          memcpy() into a shared mapping (a fault per page).
 * Median of FILL_ROUNDS rounds, rotated; the ratio of uffdio_copy to
 * fallocate_write is reported whichever way it goes.
 *
 * Part 3, what one fault costs on never-touched private anonymous memory
 * (no purge involved), per page, median of ROUNDS rounds, rotated:
 *   plain:        a write fault, no userfaultfd (allocates a zeroed page);
 *   copy_only:    UFFDIO_COPY of each page, no fault (the resolution alone);
 *   sigbus_jump:  UFFD_FEATURE_SIGBUS, the handler jumps out of the access
 *                 without resolving it: the fault, handle_userfault()'s
 *                 SIGBUS branch, the signal delivery and a siglongjmp;
 *   sigbus_copy:  the same, the handler copies and returns (in_thread);
 *   monitor_copy: the monitor round trip (monitor);
 *   monitor_cpu:  the same on one CPU (monitor_cpu).
 * What these can and cannot show is printed after the table.
 *
 * Needs root (cgroup2 with the memory controller) for part 1.  Every
 * variant checks its own result (signals, events, data) and the program
 * fails if one is wrong: a benchmark that measured another path than the
 * one named would be worse than none.  Goals missed are reported, not
 * failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>
#include "bench.h"

#ifndef MADV_VOLATILE
#define MADV_VOLATILE			27
#endif
#ifndef UFFD_FEATURE_MISSING_PURGED
#define UFFD_FEATURE_MISSING_PURGED	(1 << 24)
#endif

#define KSFT_SKIP	4
#define MIB		(1UL << 20)
#define ROUNDS		7
#define FILL_ROUNDS	5
#define N_PURGED	2048
#define N_FAULT		4096
#define FILL_SIZE	(256 * MIB)
#define CHUNK		(2 * MIB)
#define CG		"/sys/fs/cgroup/uffd-bench"
#define PM_PRESENT	(1ULL << 63)

static size_t page_size;
static bool failed;

static bool goal(const char *what, double ratio, double min)
{
	bool pass = ratio >= min;

	printf("goal (%s >= %.2f): %.2f %s\n", what, min, ratio,
	       pass ? "PASS" : "MISS");
	return pass;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		printf("ERROR: %s\n", what);
		failed = true;
	}
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

static char *map_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("mmap: %s\n", strerror(errno));
		exit(1);
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static void fill_page(char *page, uint64_t v)
{
	for (size_t i = 0; i < page_size / 8; i++)
		((uint64_t *)page)[i] = v;
}

/* Pages of [@p, @p + @n pages) holding @v in their first word. */
static long count_word(char *p, long n, uint64_t v)
{
	long count = 0;

	for (long i = 0; i < n; i++)
		count += *(uint64_t *)(p + i * page_size) == v;
	return count;
}

static int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) ||
	    (api.features & features) != features) {
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

static void uffd_register(int uffd, char *p, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		printf("UFFDIO_REGISTER: %s\n", strerror(errno));
		exit(1);
	}
}

static int uffd_copy(int uffd, void *dst, const void *src, size_t len)
{
	struct uffdio_copy copy = {
		.dst = (uintptr_t)dst,
		.src = (uintptr_t)src,
		.len = len,
	};

	return ioctl(uffd, UFFDIO_COPY, &copy) ? -errno : 0;
}

/*
 * The SIGBUS handler: copies the prepared page (h_src) to the faulting
 * page and returns, or, in jump mode, jumps out of the access.
 */
static int h_uffd = -1;
static char *h_src;
static bool h_jump;
static sigjmp_buf h_jmp;
static long h_signals;

static void bus_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t page = (uintptr_t)si->si_addr & ~(page_size - 1);

	(void)sig;
	(void)uc;
	h_signals++;
	if (h_jump)
		siglongjmp(h_jmp, 1);
	if (uffd_copy(h_uffd, (void *)page, h_src, page_size)) {
		/* Returning would fault again, forever. */
		static const char msg[] = "ERROR: UFFDIO_COPY in the handler failed\n";

		if (write(1, msg, sizeof(msg) - 1) < 0)
			_exit(2);
		_exit(1);
	}
}

/* Run the calling thread on @cpu only (-1: on any); 0 or -errno. */
static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (cpu < 0) {
		for (int i = 0; i < CPU_SETSIZE; i++)
			CPU_SET(i, &set);
	} else {
		CPU_SET(cpu, &set);
	}
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* The monitor thread: poll, read, UFFDIO_COPY of the prepared page. */
struct monitor {
	pthread_t thread;
	int cpu;		/* run on this CPU, or -1 */
	int uffd, efd;
	char *src;
	long events;
	int err;
};

static void *monitor_thread(void *arg)
{
	struct monitor *m = arg;
	struct pollfd pfd[2] = {
		{ .fd = m->efd, .events = POLLIN },
		{ .fd = m->uffd, .events = POLLIN },
	};
	struct uffd_msg msg[16];

	if (m->cpu >= 0)
		pin(m->cpu);
	for (;;) {
		ssize_t n;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			m->err = errno;
			return NULL;
		}
		if (pfd[0].revents)
			return NULL;
		n = read(m->uffd, msg, sizeof(msg));
		if (n < 0) {
			if (errno != EAGAIN)
				m->err = errno;
			continue;
		}
		for (long i = 0; i < n / (ssize_t)sizeof(*msg); i++) {
			uintptr_t page = msg[i].arg.pagefault.address &
					 ~(page_size - 1);
			struct uffdio_range r = { .start = page, .len = page_size };
			int ret;

			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			m->events++;
			ret = uffd_copy(m->uffd, (void *)page, m->src, page_size);
			if (ret == -EEXIST)
				ret = ioctl(m->uffd, UFFDIO_WAKE, &r) ? -errno : 0;
			if (ret && !m->err)
				m->err = -ret;
		}
	}
}

static void monitor_start(struct monitor *m, int uffd, char *src, int cpu)
{
	memset(m, 0, sizeof(*m));
	m->cpu = cpu;
	m->uffd = uffd;
	m->src = src;
	m->efd = eventfd(0, EFD_CLOEXEC);
	if (m->efd < 0 || pthread_create(&m->thread, NULL, monitor_thread, m)) {
		printf("monitor: cannot start\n");
		exit(1);
	}
}

static void monitor_stop(struct monitor *m)
{
	uint64_t one = 1;

	if (write(m->efd, &one, sizeof(one)) != sizeof(one))
		m->err = errno;
	pthread_join(m->thread, NULL);
	close(m->efd);
}

/* Read the first word of each of @n pages; nanoseconds. */
static uint64_t read_pages(char *p, long n)
{
	uint64_t t = now_ns();

	for (long i = 0; i < n; i++)
		(void)*(volatile uint64_t *)(p + i * page_size);
	return now_ns() - t;
}

/*
 * Part 1.
 */
static bool memcg_enter(void)
{
	char me[32];

	write_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	if (mkdir(CG, 0755) && errno != EEXIST)
		return false;
	/* No swap in the cgroup: fails harmlessly where there is none. */
	write_str(CG "/memory.swap.max", "0");
	snprintf(me, sizeof(me), "%d", getpid());
	return !write_str(CG "/cgroup.procs", me);
}

static void memcg_leave(void)
{
	char me[32];

	snprintf(me, sizeof(me), "%d", getpid());
	write_str("/sys/fs/cgroup/cgroup.procs", me);
	rmdir(CG);
}

static long present_pages(char *p, long n)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t ent;
	long count = 0;

	for (long i = 0; fd >= 0 && i < n; i++)
		if (pread(fd, &ent, sizeof(ent),
			  ((uintptr_t)p / page_size + i) * sizeof(ent)) ==
		    sizeof(ent))
			count += !!(ent & PM_PRESENT);
	if (fd >= 0)
		close(fd);
	return count;
}

/* N_PURGED pages, filled, volatile, purged; NULL if reclaim did not. */
static char *map_purged(void)
{
	size_t len = N_PURGED * page_size;
	char *p = map_anon(len), amount[32];
	uint64_t end = now_ns() + 10000000000ULL;
	int fd = open(CG "/memory.reclaim", O_WRONLY);

	for (long i = 0; i < N_PURGED; i++)
		fill_page(p + i * page_size, 0x5a5a + i);
	snprintf(amount, sizeof(amount), "%zu", 2 * len + MIB);
	if (fd < 0 || madvise(p, len, MADV_VOLATILE))
		goto fail;
	while (present_pages(p, N_PURGED) && now_ns() < end)
		if (write(fd, amount, strlen(amount)) < 0 && errno != EAGAIN)
			usleep(10000);
	if (present_pages(p, N_PURGED))
		goto fail;
	close(fd);
	return p;
fail:
	if (fd >= 0)
		close(fd);
	munmap(p, len);
	return NULL;
}

enum { IN_THREAD, MONITOR, MONITOR_CPU, NPURGED_VARIANTS };

static const char *const purged_names[NPURGED_VARIANTS] = {
	"in_thread", "monitor", "monitor_cpu",
};

/* One round of variant @v: nanoseconds to read the N_PURGED pages. */
static uint64_t purged_round(int v, char *src)
{
	uint64_t features = UFFD_FEATURE_MISSING_PURGED;
	char *p = map_purged();
	struct monitor m;
	uint64_t ns;
	int uffd;

	if (!p) {
		check(false, "volatile pages not purged");
		return 0;
	}
	if (v == IN_THREAD)
		features |= UFFD_FEATURE_SIGBUS;
	uffd = uffd_open(features);
	uffd_register(uffd, p, N_PURGED * page_size);
	h_uffd = uffd;
	h_jump = false;
	h_signals = 0;
	if (v != IN_THREAD) {
		if (v == MONITOR_CPU)
			pin(0);
		monitor_start(&m, uffd, src, v == MONITOR_CPU ? 0 : -1);
	}
	ns = read_pages(p, N_PURGED);
	if (v != IN_THREAD) {
		monitor_stop(&m);
		pin(-1);
		check(!m.err && m.events == N_PURGED,
		      "monitor: not one event per purged page");
	}
	check(h_signals == (v == IN_THREAD ? N_PURGED : 0),
	      "in_thread: not one SIGBUS per purged page");
	check(count_word(p, N_PURGED, *(uint64_t *)src) == N_PURGED,
	      "purged pages do not hold the copied data");
	close(uffd);
	munmap(p, N_PURGED * page_size);
	return ns;
}

static bool measured;	/* part 1 ran: its goal was measured */

static bool part1(char *src)
{
	static uint64_t ns[NPURGED_VARIANTS][ROUNDS];
	double med[NPURGED_VARIANTS];
	int fd = uffd_open(UFFD_FEATURE_MISSING_PURGED | UFFD_FEATURE_SIGBUS);
	char *p = map_anon(page_size);
	bool ok;

	printf("part 1: %d purged pages read once each, median of %d rounds\n",
	       N_PURGED, ROUNDS);
	ok = !madvise(p, page_size, MADV_VOLATILE);
	munmap(p, page_size);
	if (!ok || fd < 0) {
		printf("skipped: %s\n", !ok ? "no MADV_VOLATILE" :
		       "no UFFD_FEATURE_MISSING_PURGED");
		return true;
	}
	close(fd);
	if (!memcg_enter()) {
		printf("skipped: no memory cgroup (needs root, cgroup2)\n");
		return true;
	}
	measured = true;
	for (int r = 0; r < ROUNDS; r++)
		for (int k = 0; k < NPURGED_VARIANTS; k++) {
			int v = (r + k) % NPURGED_VARIANTS;

			ns[v][r] = purged_round(v, src);
		}
	memcg_leave();
	printf("%-14s %16s %14s %10s\n", "variant", "median_us/page",
	       "best_us/page", "ratio");
	for (int v = 0; v < NPURGED_VARIANTS; v++) {
		med[v] = median(ns[v], ROUNDS) / N_PURGED;
		printf("%-14s %16.2f %14.2f %10.2f\n", purged_names[v],
		       med[v] / 1e3, ns[v][0] / 1e3 / N_PURGED,
		       med[v] / med[IN_THREAD]);
	}
	return goal("faster monitor variant / in_thread per purged page",
		    (med[MONITOR] < med[MONITOR_CPU] ? med[MONITOR] :
		     med[MONITOR_CPU]) / med[IN_THREAD], 1.5);
}

/*
 * Part 2.
 */
enum { UFFDIO_COPY_FILL, FALLOCATE_WRITE, WRITE_ONLY, MEMCPY, NFILL };

static const char *const fill_names[NFILL] = {
	"uffdio_copy", "fallocate_write", "write", "memcpy",
};

static uint64_t fill_round(int v, char *buf)
{
	int fd = syscall(__NR_memfd_create, "uffd-bench", MFD_CLOEXEC);
	char *p = NULL;
	uint64_t t, ns;
	int uffd = -1;

	if (fd < 0 || ftruncate(fd, FILL_SIZE)) {
		printf("memfd: %s\n", strerror(errno));
		exit(1);
	}
	if (v == UFFDIO_COPY_FILL || v == MEMCPY) {
		p = mmap(NULL, FILL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		if (p == MAP_FAILED) {
			printf("mmap: %s\n", strerror(errno));
			exit(1);
		}
	}
	if (v == UFFDIO_COPY_FILL) {
		uffd = uffd_open(0);
		uffd_register(uffd, p, FILL_SIZE);
	}
	t = now_ns();
	switch (v) {
	case UFFDIO_COPY_FILL:
		for (size_t off = 0; off < FILL_SIZE; off += CHUNK)
			check(!uffd_copy(uffd, p + off, buf, CHUNK),
			      "UFFDIO_COPY");
		break;
	case FALLOCATE_WRITE:
		check(!fallocate(fd, 0, 0, FILL_SIZE), "fallocate");
		/* fall through */
	case WRITE_ONLY:
		for (size_t off = 0; off < FILL_SIZE; off += CHUNK)
			check(pwrite(fd, buf, CHUNK, off) == CHUNK, "pwrite");
		break;
	case MEMCPY:
		for (size_t off = 0; off < FILL_SIZE; off += CHUNK)
			memcpy(p + off, buf, CHUNK);
		break;
	}
	ns = now_ns() - t;
	/* Whatever the way, the file must hold the data. */
	if (!p)
		p = mmap(NULL, FILL_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	check(p != MAP_FAILED &&
	      count_word(p, FILL_SIZE / page_size, *(uint64_t *)buf) ==
	      (long)(FILL_SIZE / page_size), "file not filled");
	munmap(p, FILL_SIZE);
	if (uffd >= 0)
		close(uffd);
	close(fd);
	return ns;
}

static void part2(void)
{
	static uint64_t ns[NFILL][FILL_ROUNDS];
	char *buf = map_anon(CHUNK);
	double med[NFILL];

	for (size_t i = 0; i < CHUNK / page_size; i++)
		fill_page(buf + i * page_size, 0xf111);
	printf("\npart 2: filling a %lu MiB tmpfs file (memfd), median of %d rounds\n",
	       FILL_SIZE / MIB, FILL_ROUNDS);
	for (int r = 0; r < FILL_ROUNDS; r++)
		for (int k = 0; k < NFILL; k++) {
			int v = (r + k) % NFILL;

			ns[v][r] = fill_round(v, buf);
		}
	printf("%-16s %10s %10s %10s %22s\n", "variant", "median_ms",
	       "best_ms", "MiB/s", "ratio to fallocate_write");
	for (int v = 0; v < NFILL; v++)
		med[v] = median(ns[v], FILL_ROUNDS);
	for (int v = 0; v < NFILL; v++)
		printf("%-16s %10.1f %10.1f %10.0f %22.2f\n", fill_names[v],
		       med[v] / 1e6, ns[v][0] / 1e6,
		       (FILL_SIZE / MIB) / (med[v] / 1e9),
		       med[v] / med[FALLOCATE_WRITE]);
	printf("uffdio_copy / fallocate_write (time): %.2f (%s)\n",
	       med[UFFDIO_COPY_FILL] / med[FALLOCATE_WRITE],
	       med[UFFDIO_COPY_FILL] < med[FALLOCATE_WRITE] ?
	       "UFFDIO_COPY faster" : "UFFDIO_COPY not faster");
	munmap(buf, CHUNK);
}

/*
 * Part 3.
 */
enum {
	PLAIN, COPY_ONLY, SIGBUS_JUMP, SIGBUS_COPY, MONITOR_COPY, MONITOR_CPU_COPY,
	NFAULT
};

static const char *const fault_names[NFAULT] = {
	"plain", "copy_only", "sigbus_jump", "sigbus_copy", "monitor_copy",
	"monitor_cpu",
};

static uint64_t fault_round(int v, char *src)
{
	size_t len = N_FAULT * page_size;
	char *p = map_anon(len);
	struct monitor m;
	uint64_t t, ns;
	int uffd = -1;
	volatile long i;

	if (v != PLAIN) {
		uffd = uffd_open(v == SIGBUS_JUMP || v == SIGBUS_COPY ?
				 UFFD_FEATURE_SIGBUS : 0);
		uffd_register(uffd, p, len);
	}
	h_uffd = uffd;
	h_jump = v == SIGBUS_JUMP;
	h_signals = 0;
	if (v == MONITOR_COPY || v == MONITOR_CPU_COPY) {
		if (v == MONITOR_CPU_COPY)
			pin(0);
		monitor_start(&m, uffd, src, v == MONITOR_CPU_COPY ? 0 : -1);
	}
	t = now_ns();
	switch (v) {
	case COPY_ONLY:
		for (i = 0; i < N_FAULT; i++)
			check(!uffd_copy(uffd, p + i * page_size, src,
					 page_size), "UFFDIO_COPY");
		break;
	case SIGBUS_JUMP:
		for (i = 0; i < N_FAULT; i++)
			if (!sigsetjmp(h_jmp, 1))
				(void)*(volatile uint64_t *)(p + i * page_size);
		break;
	default:
		for (i = 0; i < N_FAULT; i++)
			*(volatile uint64_t *)(p + i * page_size) = *(uint64_t *)src;
		break;
	}
	ns = now_ns() - t;
	if (v == MONITOR_COPY || v == MONITOR_CPU_COPY) {
		monitor_stop(&m);
		pin(-1);
		check(!m.err && m.events == N_FAULT,
		      "monitor: not one event per page");
	}
	check(h_signals == (v == SIGBUS_JUMP || v == SIGBUS_COPY ? N_FAULT : 0),
	      "not one SIGBUS per page where expected");
	check(present_pages(p, N_FAULT) == (v == SIGBUS_JUMP ? 0 : N_FAULT),
	      "pages not (or wrongly) populated");
	if (uffd >= 0)
		close(uffd);
	munmap(p, len);
	return ns;
}

static void part3(char *src)
{
	static uint64_t ns[NFAULT][ROUNDS];
	double med[NFAULT], spread;

	printf("\npart 3: %d never-touched anonymous pages, one fault each, median of %d rounds\n",
	       N_FAULT, ROUNDS);
	for (int r = 0; r < ROUNDS; r++)
		for (int k = 0; k < NFAULT; k++) {
			int v = (r + k) % NFAULT;

			ns[v][r] = fault_round(v, src);
		}
	printf("%-14s %16s %14s %18s\n", "variant", "median_us/page",
	       "best_us/page", "ratio to plain");
	for (int v = 0; v < NFAULT; v++) {
		med[v] = median(ns[v], ROUNDS) / N_FAULT;
		printf("%-14s %16.2f %14.2f %18.2f\n", fault_names[v],
		       med[v] / 1e3, ns[v][0] / 1e3 / N_FAULT,
		       med[v] / med[PLAIN]);
	}
	spread = (double)(ns[MONITOR_COPY][ROUNDS - 1] - ns[MONITOR_COPY][0]) /
		 N_FAULT / med[MONITOR_COPY];
	printf("monitor_copy / sigbus_copy: %.2f, monitor_cpu / sigbus_copy: %.2f\n",
	       med[MONITOR_COPY] / med[SIGBUS_COPY],
	       med[MONITOR_CPU_COPY] / med[SIGBUS_COPY]);
	printf("sigbus_copy - copy_only (fault, SIGBUS branch, signal, sigreturn): %.2f us\n",
	       (med[SIGBUS_COPY] - med[COPY_ONLY]) / 1e3);
	printf("monitor_cpu - copy_only (fault, queueing, 2 context switches, poll, read): %.2f us\n",
	       (med[MONITOR_CPU_COPY] - med[COPY_ONLY]) / 1e3);
	printf("monitor_copy spread over rounds (worst - best) / median: %.1f%%\n",
	       spread * 100);
	printf("monitor_copy wakes a thread on the other CPU, and the faulting\n"
	       "thread's CPU goes idle meanwhile: under QEMU TCG each such wakeup\n"
	       "waits for the host to schedule that vCPU's thread, so on a busy\n"
	       "host monitor_copy measures the host's scheduler; monitor_cpu (two\n"
	       "context switches on one CPU) is the kernel's own cost.\n");
	printf("The UFFD_FEATURE_SIGBUS test in handle_userfault() is one load and\n"
	       "branch on every userfault, a few ns on hardware: the difference\n"
	       "between any two rows above is whole code paths (signal delivery,\n"
	       "scheduling, copies), and the round-to-round spread of a monitor\n"
	       "fault is larger than the branch by orders of magnitude, so these\n"
	       "numbers cannot show the branch, under TCG least of all (emulated\n"
	       "instructions do not cost what they cost on hardware).  What they\n"
	       "show is the choice a user makes: a SIGBUS round trip against a\n"
	       "monitor round trip, against a plain fault.\n");
}

int main(void)
{
	struct sigaction sa = {
		.sa_sigaction = bus_handler,
		.sa_flags = SA_SIGINFO,
	};
	char *src;
	bool goals = true;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = getpagesize();
	fd = uffd_open(UFFD_FEATURE_SIGBUS);
	if (fd < 0) {
		printf("no userfaultfd with UFFD_FEATURE_SIGBUS: %s, skipped\n",
		       strerror(-fd));
		return KSFT_SKIP;
	}
	close(fd);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL)) {
		printf("sigaction: %s\n", strerror(errno));
		return 1;
	}
	src = map_anon(page_size);
	fill_page(src, 0xc0c0);
	h_src = src;

	goals &= part1(src);
	part2();
	part3(src);
	printf("goals (all above): %s\n", !measured ? "not measured" :
	       goals ? "met" : "NOT met");
	if (failed)
		printf("ERROR: a variant did not do what it measures\n");
	return failed;
}
