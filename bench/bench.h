/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers the benchmark programs share: a clock and a median. */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median of @v[0..n), which it sorts: v[0] is then the best. */
static inline double median(uint64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

#endif
