// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: process_madvise(MADV_DONTNEED) on another process against the
 * same ranges dropped by vlen madvise() calls of the process itself.
 *
 * A target child holds 256 MiB of private anonymous memory and runs on CPU
 * 1, spinning through its memory between commands, so that flushes of its
 * TLB are remote for the manager on CPU 0.  For each vlen, vlen scattered
 * 4 KiB pages are dropped, ROUNDS times, each time after the target
 * touched them again:
 *   A: one process_madvise() call by the manager (latency, and the remote
 *      TLB flushes it sent, from /proc/vmstat with CONFIG_DEBUG_TLBFLUSH);
 *   B: vlen madvise() calls by the target on itself (latency).
 * Prints the medians, the ratio A/B, flushes per call, and whether the
 * goals hold: A/B <= 0.50 at vlen >= 128, at most one flush per call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <sched.h>
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

#define AREA		(256UL << 20)
#define ROUNDS		31
#define MAX_VLEN	1024

enum { IDLE, TOUCH, MADVISE, EXIT };

struct ctl {
	volatile int cmd;	/* set by the manager, IDLE again when done */
	volatile int vlen;
	volatile uint64_t ns;	/* the target's madvise() time */
};

static size_t page_size;
static char *area;
static struct ctl *ctl;

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The vlen pages, spread over the whole area. */
static char *page(int k, int vlen)
{
	return area + (AREA / page_size / vlen) * k * page_size;
}

static void target(void)
{
	volatile char sink;
	size_t pos = 0;

	pin(1);
	for (;;) {
		int cmd = ctl->cmd, vlen = ctl->vlen;
		uint64_t t;

		switch (cmd) {
		case IDLE:
			/* Keep running, and keep the TLB warm. */
			sink = area[pos];
			pos = (pos + page_size) % AREA;
			continue;
		case TOUCH:
			for (int k = 0; k < vlen; k++)
				*page(k, vlen) = 1;
			break;
		case MADVISE:
			t = now_ns();
			for (int k = 0; k < vlen; k++)
				madvise(page(k, vlen), page_size, MADV_DONTNEED);
			ctl->ns = now_ns() - t;
			break;
		case EXIT:
			_exit(0);
		}
		__atomic_store_n(&ctl->cmd, IDLE, __ATOMIC_RELEASE);
	}
	(void)sink;
}

static void command(int cmd, int vlen)
{
	ctl->vlen = vlen;
	__atomic_store_n(&ctl->cmd, cmd, __ATOMIC_RELEASE);
	/* The target exits without answering EXIT. */
	while (cmd != EXIT && __atomic_load_n(&ctl->cmd, __ATOMIC_ACQUIRE) != IDLE)
		;
}

static long vmstat(const char *name)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/vmstat", "r");
	size_t n = strlen(name);

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ' ')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

int main(void)
{
	static const int vlens[] = { 1, 16, 128, 1024 };
	static struct iovec iov[MAX_VLEN];
	uint64_t a[ROUNDS], b[ROUNDS];
	bool goals = true;
	int pidfd;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = getpagesize();
	area = mmap(NULL, AREA, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ctl = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || ctl == MAP_FAILED)
		return 1;
	/* Keep the benchmark on 4 KiB pages. */
	madvise(area, AREA, MADV_NOHUGEPAGE);
	memset(area, 1, AREA);

	pid = fork();
	if (!pid)
		target();
	pin(0);
	pidfd = syscall(__NR_pidfd_open, pid, 0);
	if (vmstat("nr_tlb_remote_flush") < 0)
		printf("no nr_tlb_* in /proc/vmstat (CONFIG_DEBUG_TLBFLUSH)\n");

	printf("%6s %14s %14s %7s %14s\n", "vlen", "pmadv_us", "madv_x_vlen_us",
	       "ratio", "flushes/call");
	for (size_t v = 0; v < sizeof(vlens) / sizeof(vlens[0]); v++) {
		int vlen = vlens[v];
		long flushes = 0;
		double ratio;

		for (int k = 0; k < vlen; k++)
			iov[k] = (struct iovec){ page(k, vlen), page_size };
		for (int r = 0; r < ROUNDS; r++) {
			long f0;
			uint64_t t;

			command(TOUCH, vlen);
			f0 = vmstat("nr_tlb_remote_flush");
			t = now_ns();
			if (syscall(__NR_process_madvise, pidfd, iov, vlen,
				    MADV_DONTNEED, 0) != (long)(vlen * page_size)) {
				printf("process_madvise: %s\n", strerror(errno));
				command(EXIT, 0);
				return 1;
			}
			a[r] = now_ns() - t;
			flushes += vmstat("nr_tlb_remote_flush") - f0;

			command(TOUCH, vlen);
			command(MADVISE, vlen);
			b[r] = ctl->ns;
		}
		qsort(a, ROUNDS, sizeof(a[0]), cmp);
		qsort(b, ROUNDS, sizeof(b[0]), cmp);
		ratio = (double)a[ROUNDS / 2] / b[ROUNDS / 2];
		printf("%6d %14.1f %14.1f %7.2f %14.2f\n", vlen,
		       a[ROUNDS / 2] / 1e3, b[ROUNDS / 2] / 1e3, ratio,
		       (double)flushes / ROUNDS);
		if (vlen >= 128 && ratio > 0.50)
			goals = false;
		if ((double)flushes / ROUNDS > 1.0)
			goals = false;
	}
	command(EXIT, 0);
	waitpid(pid, NULL, 0);
	printf("goals (ratio <= 0.50 at vlen >= 128, <= 1 flush per call): %s\n",
	       goals ? "met" : "NOT met");
	return 0;
}
