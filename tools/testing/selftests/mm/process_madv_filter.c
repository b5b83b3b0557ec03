// SPDX-License-Identifier: GPL-2.0
/*
 * process_madvise() VMA filters (PMADV_ANON_ONLY, PMADV_FILE_ONLY) and
 * advice conditional on the VMA layout (PROCMAP_QUERY's layout_cookie,
 * PMADV_LAYOUT_COOKIE), as a memory manager uses them on another process.
 *
 * The target is a forked child.  The parent maps a window of mixed memory
 * before the fork, so it sits at the same address in the child: private
 * anonymous, private and shared file, shmem, a PROT_NONE guard, read-only
 * anonymous memory and a hole.  The child changes its layout on request
 * through a command pipe.  The parent reads the child's memory with
 * process_vm_readv() and its page tables through /proc/<pid>/pagemap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <linux/mman.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"
#include "vm_util.h"

#ifndef __NR_mseal
#define __NR_mseal 462
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif

/*
 * The window, in pages.  Neighbours differ in backing or protection, so
 * that each piece is a VMA of its own.
 */
enum {
	W_ANON1 = 0,	/* 2 pages private anonymous, 'a' */
	W_PFILE = 2,	/* 2 pages private file 'f', written 'p' */
	W_SHMEM = 4,	/* 2 pages MAP_SHARED | MAP_ANONYMOUS, 's' */
	W_GUARD = 6,	/* 1 page PROT_NONE anonymous */
	W_HOLE = 7,	/* 1 page unmapped */
	W_ANON2 = 8,	/* 2 pages private anonymous, 'b' */
	W_SFILE = 10,	/* 2 pages shared file, 'm' */
	W_ROANON = 12,	/* 1 page read-only anonymous, 'r' */
	W_PAGES = 13,
};

static size_t page_size;

static int sys_pidfd_open(pid_t pid)
{
	return syscall(__NR_pidfd_open, pid, 0);
}

static ssize_t sys_process_madvise(int pidfd, const struct iovec *iov,
				   size_t vlen, int advice, unsigned int flags)
{
	return syscall(__NR_process_madvise, pidfd, iov, vlen, advice, flags);
}

/* Commands the target child executes for the parent. */
enum {
	CMD_MMAP,	/* map len bytes of private anon; returns address */
	CMD_MUNMAP,	/* munmap(addr, len) */
	CMD_MREMAP,	/* move [addr, len) elsewhere; returns new address */
	CMD_MPROTECT,	/* mprotect(addr, len, arg) */
	CMD_BRK,	/* grow the heap by a page */
	CMD_EXEC,	/* exec this test as a target keeping [addr, len) */
	CMD_MLOCK,	/* mlock(addr, len) */
	CMD_SEAL,	/* mseal(addr, len) */
	CMD_UFFD,	/* userfaultfd on [addr, len) with EVENT_REMOVE */
	CMD_REPLACE,	/* map private file or anon (arg) over [addr, len) */
	CMD_TOUCH,	/* read every page of [addr, len) */
};

struct cmd {
	int op;
	int arg;
	char *addr;
	size_t len;
};

struct rsp {
	long ret;	/* 0 or -errno */
	unsigned long val;
};

struct target {
	pid_t pid;
	int pidfd;
	int cmd_fd;
	int rsp_fd;
	int pagemap_fd;
};

static int memfd_of(int byte, size_t len)
{
	int fd = memfd_create("process_madv_filter", 0);
	char *p;

	if (fd < 0 || ftruncate(fd, len))
		return -1;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(p, byte, len);
	munmap(p, len);
	return fd;
}

static void target_loop(int cmd_fd, int rsp_fd);

/* After CMD_EXEC: map the kept range again, fill it, serve commands. */
static int exec_target(char **argv)
{
	int cmd_fd = atoi(argv[2]), rsp_fd = atoi(argv[3]);
	char *addr = (char *)strtoul(argv[4], NULL, 0);
	size_t len = strtoul(argv[5], NULL, 0);
	struct rsp r = { 0 };

	page_size = getpagesize();
	if (mmap(addr, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) !=
	    addr)
		r.ret = -errno;
	else
		memset(addr, 'x', len);
	if (write(rsp_fd, &r, sizeof(r)) != sizeof(r))
		return 1;
	target_loop(cmd_fd, rsp_fd);
	return 0;
}

static long replace(struct cmd *c)
{
	int fd = -1, flags = MAP_PRIVATE | MAP_FIXED;

	if (c->arg == 'f') {
		fd = memfd_of('f', c->len);
		if (fd < 0)
			return -errno;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	if (mmap(c->addr, c->len, PROT_READ | PROT_WRITE, flags, fd, 0) !=
	    c->addr)
		return -errno;
	if (fd >= 0)
		close(fd);
	memset(c->addr, 'n', c->len);
	return 0;
}

static void target_loop(int cmd_fd, int rsp_fd)
{
	struct uffdio_api api = {
		.api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE,
	};
	char args[4][32];
	struct cmd c;
	struct rsp r;
	void *p;
	int fd;

	while (read(cmd_fd, &c, sizeof(c)) == sizeof(c)) {
		memset(&r, 0, sizeof(r));
		switch (c.op) {
		case CMD_MMAP:
			p = mmap(NULL, c.len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				r.ret = -errno;
			else
				memset(p, 'c', c.len);
			r.val = (unsigned long)p;
			break;
		case CMD_MUNMAP:
			r.ret = munmap(c.addr, c.len) ? -errno : 0;
			break;
		case CMD_MREMAP:
			/* Grow it: it cannot stay where the window follows. */
			p = mremap(c.addr, c.len, 2 * c.len, MREMAP_MAYMOVE);
			r.ret = p == MAP_FAILED ? -errno : 0;
			r.val = (unsigned long)p;
			break;
		case CMD_MPROTECT:
			r.ret = mprotect(c.addr, c.len, c.arg) ? -errno : 0;
			break;
		case CMD_BRK:
			r.ret = sbrk(page_size) == (void *)-1 ? -errno : 0;
			break;
		case CMD_EXEC:
			snprintf(args[0], sizeof(args[0]), "%d", cmd_fd);
			snprintf(args[1], sizeof(args[1]), "%d", rsp_fd);
			snprintf(args[2], sizeof(args[2]), "%p", c.addr);
			snprintf(args[3], sizeof(args[3]), "%zu", c.len);
			execl("/proc/self/exe", "process_madv_filter",
			      "--exec-target", args[0], args[1], args[2],
			      args[3], NULL);
			r.ret = -errno;
			break;
		case CMD_MLOCK:
			r.ret = mlock(c.addr, c.len) ? -errno : 0;
			break;
		case CMD_SEAL:
			r.ret = syscall(__NR_mseal, c.addr, c.len, 0) ? -errno : 0;
			break;
		case CMD_UFFD:
			fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
			if (fd < 0 || ioctl(fd, UFFDIO_API, &api) ||
			    uffd_register(fd, c.addr, c.len, true, false, false)) {
				r.ret = -errno;
				break;
			}
			r.val = fd;
			break;
		case CMD_REPLACE:
			r.ret = replace(&c);
			break;
		case CMD_TOUCH:
			for (size_t i = 0; i < c.len; i += page_size)
				r.val += __atomic_load_n(c.addr + i,
							 __ATOMIC_RELAXED);
			break;
		}
		if (write(rsp_fd, &r, sizeof(r)) != sizeof(r))
			break;
	}
	_exit(0);
}

static int target_start(struct target *t)
{
	int cmd[2], rsp[2];
	char path[64];

	if (pipe(cmd) || pipe(rsp))
		return -1;
	t->pid = fork();
	if (t->pid < 0)
		return -1;
	if (!t->pid) {
		close(cmd[1]);
		close(rsp[0]);
		target_loop(cmd[0], rsp[1]);
	}
	close(cmd[0]);
	close(rsp[1]);
	t->cmd_fd = cmd[1];
	t->rsp_fd = rsp[0];
	t->pidfd = sys_pidfd_open(t->pid);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", t->pid);
	t->pagemap_fd = open(path, O_RDONLY);
	return t->pidfd < 0 || t->pagemap_fd < 0 ? -1 : 0;
}

static struct rsp target_call(struct target *t, int op, void *addr,
			      size_t len, int arg)
{
	struct cmd c = { .op = op, .arg = arg, .addr = addr, .len = len };
	struct rsp r = { .ret = -EPIPE };

	if (write(t->cmd_fd, &c, sizeof(c)) != sizeof(c) ||
	    read(t->rsp_fd, &r, sizeof(r)) != sizeof(r))
		r.ret = -EPIPE;
	return r;
}

/*
 * fork() copies no page table entries of shared mappings: have the target
 * fault its shared pieces of the window in, so that every piece starts
 * mapped.
 */
static long window_touch(struct target *t, char *w)
{
	return target_call(t, CMD_TOUCH, w + W_SHMEM * page_size,
			   2 * page_size, 0).ret ?:
	       target_call(t, CMD_TOUCH, w + W_SFILE * page_size,
			   2 * page_size, 0).ret;
}

/* After an exec the pagemap opened before shows the old mm. */
static int target_reopen_pagemap(struct target *t)
{
	char path[64];

	close(t->pagemap_fd);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", t->pid);
	t->pagemap_fd = open(path, O_RDONLY);
	return t->pagemap_fd < 0 ? -1 : 0;
}

static void target_stop(struct target *t)
{
	kill(t->pid, SIGKILL);
	close(t->cmd_fd);
	close(t->rsp_fd);
	close(t->pidfd);
	close(t->pagemap_fd);
	waitpid(t->pid, NULL, 0);
}

/* Does page @i of @base in the target hold @byte all through? */
static bool target_page_is(struct target *t, char *base, int i, int byte)
{
	static char buf[1 << 16];
	struct iovec local = { .iov_base = buf, .iov_len = page_size };
	struct iovec remote = { .iov_base = base + i * page_size,
				.iov_len = page_size };

	if (syscall(__NR_process_vm_readv, t->pid, &local, 1, &remote, 1, 0) !=
	    page_size)
		return false;
	for (size_t j = 0; j < page_size; j++)
		if (buf[j] != (char)byte)
			return false;
	return true;
}

static bool target_present(struct target *t, char *base, int i)
{
	return pagemap_is_populated(t->pagemap_fd, base + i * page_size);
}

/*
 * The target's layout cookie, read with PROCMAP_QUERY on its maps; 0 and
 * errno set on failure (a kernel without the field leaves it 0: no real
 * cookie is 0 once a process has mapped anything).
 */
static uint64_t layout_cookie(pid_t pid)
{
	struct procmap_query q = {
		.size = sizeof(q),
		.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA,
	};
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (ioctl(fd, PROCMAP_QUERY, &q))
		q.layout_cookie = 0;
	close(fd);
	return q.layout_cookie;
}

static struct iovec page_iov(char *base, int i, int n)
{
	return (struct iovec){ .iov_base = base + i * page_size,
			       .iov_len = n * page_size };
}

/* Why the filters cannot be tested on @t, or NULL if they can. */
static const char *filters_missing(struct target *t)
{
	if (!sys_process_madvise(t->pidfd, NULL, 0, MADV_DONTNEED,
				 PMADV_ANON_ONLY))
		return NULL;
	if (errno == EINVAL)
		return "no process_madvise() filters";
	return "may not zap the target's memory (not root? Yama?)";
}

/* Why the cookie cannot be tested on @t, or NULL if it can. */
static const char *cookie_missing(struct target *t)
{
	struct pmadv_layout_cookie c = { .cookie = layout_cookie(t->pid) };
	struct iovec iov = { .iov_base = &c, .iov_len = sizeof(c) };

	if (!c.cookie)
		return "no layout_cookie in PROCMAP_QUERY";
	if (sys_process_madvise(t->pidfd, &iov, 1, MADV_DONTNEED,
				PMADV_LAYOUT_COOKIE) && errno == EINVAL)
		return "no PMADV_LAYOUT_COOKIE";
	return NULL;
}

FIXTURE(mixed)
{
	struct target t;
	char *w;		/* the window, W_PAGES pages */
	int memfd;		/* the shared file */
};

/* Map the window's pieces over a PROT_NONE reservation. */
static int map_window(char *w, int *memfd)
{
	int pfile = memfd_of('f', 2 * page_size);
	int sfile = memfd_of('m', 2 * page_size);
	int fixed = MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS;
	const int rw = PROT_READ | PROT_WRITE;

	if (pfile < 0 || sfile < 0)
		return -1;
	if (mmap(w + W_ANON1 * page_size, 2 * page_size, rw, fixed, -1, 0) ==
	    MAP_FAILED ||
	    mmap(w + W_PFILE * page_size, 2 * page_size, rw,
		 MAP_FIXED | MAP_PRIVATE, pfile, 0) == MAP_FAILED ||
	    mmap(w + W_SHMEM * page_size, 2 * page_size, rw,
		 MAP_FIXED | MAP_SHARED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ||
	    munmap(w + W_HOLE * page_size, page_size) ||
	    mmap(w + W_ANON2 * page_size, 2 * page_size, rw, fixed, -1, 0) ==
	    MAP_FAILED ||
	    mmap(w + W_SFILE * page_size, 2 * page_size, rw,
		 MAP_FIXED | MAP_SHARED, sfile, 0) == MAP_FAILED ||
	    mmap(w + W_ROANON * page_size, page_size, rw, fixed, -1, 0) ==
	    MAP_FAILED)
		return -1;
	memset(w + W_ANON1 * page_size, 'a', 2 * page_size);
	memset(w + W_PFILE * page_size, 'p', 2 * page_size);
	memset(w + W_SHMEM * page_size, 's', 2 * page_size);
	memset(w + W_ANON2 * page_size, 'b', 2 * page_size);
	memset(w + W_ROANON * page_size, 'r', page_size);
	close(pfile);
	*memfd = sfile;
	return mprotect(w + W_ROANON * page_size, page_size, PROT_READ);
}

FIXTURE_SETUP(mixed)
{
	const char *why;

	page_size = getpagesize();
	self->w = mmap(NULL, (W_PAGES + 1) * page_size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->w, MAP_FAILED);
	ASSERT_EQ(map_window(self->w, &self->memfd), 0);
	ASSERT_EQ(target_start(&self->t), 0);
	ASSERT_EQ(window_touch(&self->t, self->w), 0);

	why = filters_missing(&self->t);
	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(mixed)
{
	target_stop(&self->t);
	close(self->memfd);
	munmap(self->w, (W_PAGES + 1) * page_size);
}

/* Is the window in the target as mapped, page tables included? */
static void expect_window_intact(struct __test_metadata *_metadata,
				 struct target *t, char *w)
{
	static const struct { int page, byte; } pages[] = {
		{ W_ANON1, 'a' }, { W_ANON1 + 1, 'a' },
		{ W_PFILE, 'p' }, { W_PFILE + 1, 'p' },
		{ W_SHMEM, 's' }, { W_SHMEM + 1, 's' },
		{ W_ANON2, 'b' }, { W_ANON2 + 1, 'b' },
		{ W_SFILE, 'm' }, { W_SFILE + 1, 'm' },
		{ W_ROANON, 'r' },
	};

	for (int i = 0; i < ARRAY_SIZE(pages); i++) {
		EXPECT_TRUE(target_present(t, w, pages[i].page))
			TH_LOG("page %d was zapped", pages[i].page);
		EXPECT_TRUE(target_page_is(t, w, pages[i].page, pages[i].byte))
			TH_LOG("page %d changed", pages[i].page);
	}
}

TEST_F(mixed, anon_only_dontneed_zaps_only_anonymous)
{
	struct iovec iov = page_iov(self->w, 0, W_PAGES);
	char *w = self->w;

	ASSERT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED,
				      PMADV_ANON_ONLY), W_PAGES * page_size);
	for (int i = 0; i < 2; i++) {
		EXPECT_FALSE(target_present(&self->t, w, W_ANON1 + i));
		EXPECT_FALSE(target_present(&self->t, w, W_ANON2 + i));
		EXPECT_TRUE(target_present(&self->t, w, W_PFILE + i));
		EXPECT_TRUE(target_present(&self->t, w, W_SHMEM + i));
		EXPECT_TRUE(target_present(&self->t, w, W_SFILE + i));
		EXPECT_TRUE(target_page_is(&self->t, w, W_ANON1 + i, 0));
		EXPECT_TRUE(target_page_is(&self->t, w, W_ANON2 + i, 0));
		EXPECT_TRUE(target_page_is(&self->t, w, W_PFILE + i, 'p'));
		EXPECT_TRUE(target_page_is(&self->t, w, W_SHMEM + i, 's'));
		EXPECT_TRUE(target_page_is(&self->t, w, W_SFILE + i, 'm'));
	}
	/* Read-only anonymous memory: process_vm_writev() cannot write it. */
	EXPECT_TRUE(target_present(&self->t, w, W_ROANON));
	EXPECT_TRUE(target_page_is(&self->t, w, W_ROANON, 'r'));
}

TEST_F(mixed, file_only_dontneed_zaps_only_file_backed)
{
	struct iovec iov = page_iov(self->w, 0, W_PAGES);
	char *w = self->w;

	ASSERT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED,
				      PMADV_FILE_ONLY), W_PAGES * page_size);
	/* Page tables first: reading a file page faults its neighbours in. */
	for (int i = 0; i < 2; i++) {
		EXPECT_TRUE(target_present(&self->t, w, W_ANON1 + i));
		EXPECT_TRUE(target_present(&self->t, w, W_ANON2 + i));
		EXPECT_FALSE(target_present(&self->t, w, W_PFILE + i));
		EXPECT_FALSE(target_present(&self->t, w, W_SHMEM + i));
		EXPECT_FALSE(target_present(&self->t, w, W_SFILE + i));
	}
	for (int i = 0; i < 2; i++) {
		EXPECT_TRUE(target_page_is(&self->t, w, W_ANON1 + i, 'a'));
		EXPECT_TRUE(target_page_is(&self->t, w, W_ANON2 + i, 'b'));
		/* The private copy is gone: the file shows through. */
		EXPECT_TRUE(target_page_is(&self->t, w, W_PFILE + i, 'f'));
		/* Shared memory keeps its data in the page cache. */
		EXPECT_TRUE(target_page_is(&self->t, w, W_SHMEM + i, 's'));
		EXPECT_TRUE(target_page_is(&self->t, w, W_SFILE + i, 'm'));
	}
	EXPECT_TRUE(target_page_is(&self->t, w, W_ROANON, 'r'));
}

TEST_F(mixed, unfiltered_dontneed_stops_at_the_guard)
{
	struct iovec iov = page_iov(self->w, W_SHMEM, W_PAGES - W_SHMEM);

	/* The rules a filtered call skips by are errors without a filter. */
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED,
				      0), -1);
	EXPECT_EQ(errno, EPERM);
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON2, 'b'));
}

TEST_F(mixed, anon_only_covers_the_whole_address_space)
{
	struct iovec iov = {
		.iov_base = NULL,
		.iov_len = SSIZE_MAX & ~(page_size - 1),
	};
	char *w = self->w;

	/* Far more than MAX_RW_COUNT, which would cut an I/O vector. */
	ASSERT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED,
				      PMADV_ANON_ONLY), iov.iov_len);
	EXPECT_FALSE(target_present(&self->t, w, W_ANON1));
	EXPECT_FALSE(target_present(&self->t, w, W_ANON2 + 1));
	EXPECT_TRUE(target_page_is(&self->t, w, W_PFILE, 'p'));
	EXPECT_TRUE(target_page_is(&self->t, w, W_SHMEM, 's'));
	EXPECT_TRUE(target_page_is(&self->t, w, W_SFILE, 'm'));
	EXPECT_TRUE(target_page_is(&self->t, w, W_ROANON, 'r'));
	/* Its stack is gone too: the target is not asked anything more. */
}

TEST_F(mixed, iovec_batch_with_a_filter)
{
	struct iovec iov[] = {
		page_iov(self->w, W_ANON1, 1),
		page_iov(self->w, W_PFILE, 1),
		page_iov(self->w, W_ANON2 + 1, 1),
	};
	char *w = self->w;

	ASSERT_EQ(sys_process_madvise(self->t.pidfd, iov, 3, MADV_DONTNEED,
				      PMADV_ANON_ONLY), 3 * page_size);
	EXPECT_FALSE(target_present(&self->t, w, W_ANON1));
	EXPECT_TRUE(target_page_is(&self->t, w, W_ANON1 + 1, 'a'));
	EXPECT_TRUE(target_page_is(&self->t, w, W_PFILE, 'p'));
	EXPECT_TRUE(target_page_is(&self->t, w, W_ANON2, 'b'));
	EXPECT_FALSE(target_present(&self->t, w, W_ANON2 + 1));
}

TEST_F(mixed, free_file_only_changes_nothing)
{
	struct iovec iov = page_iov(self->w, 0, W_PAGES);

	/* MADV_FREE takes anonymous memory only: every VMA is skipped. */
	ASSERT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_FREE,
				      PMADV_FILE_ONLY), W_PAGES * page_size);
	expect_window_intact(_metadata, &self->t, self->w);
}

TEST_F(mixed, free_anon_only_keeps_file_memory)
{
	struct iovec iov = page_iov(self->w, 0, W_PAGES);
	char *w = self->w;

	ASSERT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_FREE,
				      PMADV_ANON_ONLY), W_PAGES * page_size);
	EXPECT_TRUE(target_page_is(&self->t, w, W_PFILE, 'p'));
	EXPECT_TRUE(target_page_is(&self->t, w, W_SHMEM + 1, 's'));
	EXPECT_TRUE(target_page_is(&self->t, w, W_SFILE, 'm'));
	EXPECT_TRUE(target_page_is(&self->t, w, W_ROANON, 'r'));
}

TEST_F(mixed, hints_with_filters_keep_every_byte)
{
	struct iovec iov = page_iov(self->w, 0, W_PAGES);
	static const int hints[] = { MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED };

	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, hints[i],
					      PMADV_ANON_ONLY),
			  W_PAGES * page_size) TH_LOG("advice %d", hints[i]);
		EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, hints[i],
					      PMADV_FILE_ONLY),
			  W_PAGES * page_size) TH_LOG("advice %d", hints[i]);
	}
	/* No swap in the guest: paged out or not, the data reads back. */
	for (int i = 0; i < 2; i++) {
		EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON1 + i, 'a'));
		EXPECT_TRUE(target_page_is(&self->t, self->w, W_PFILE + i, 'p'));
		EXPECT_TRUE(target_page_is(&self->t, self->w, W_SHMEM + i, 's'));
	}
}

TEST_F(mixed, pageout_skips_a_locked_vma)
{
	struct iovec iov = page_iov(self->w, W_ANON2, 2);

	ASSERT_EQ(target_call(&self->t, CMD_MLOCK, iov.iov_base, iov.iov_len,
			      0).ret, 0);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_PAGEOUT, 0),
		  -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_PAGEOUT,
				      PMADV_ANON_ONLY), 2 * page_size);
	EXPECT_TRUE(target_present(&self->t, self->w, W_ANON2));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON2, 'b'));
}

TEST_F(mixed, dontneed_skips_a_sealed_vma)
{
	struct iovec iov = page_iov(self->w, 0, W_PAGES);
	struct iovec anon2 = page_iov(self->w, W_ANON2, 2);
	long ret = target_call(&self->t, CMD_SEAL, anon2.iov_base,
			       anon2.iov_len, 0).ret;

	if (ret == -ENOSYS)
		SKIP(return, "no mseal()");
	ASSERT_EQ(ret, 0);
	/* Another process may not discard sealed private memory. */
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &anon2, 1, MADV_DONTNEED,
				      0), -1);
	EXPECT_EQ(errno, EPERM);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED,
				      PMADV_ANON_ONLY), W_PAGES * page_size);
	EXPECT_FALSE(target_present(&self->t, self->w, W_ANON1));
	EXPECT_TRUE(target_present(&self->t, self->w, W_ANON2));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON2 + 1, 'b'));
}

TEST_F(mixed, both_filters_fail_and_change_nothing)
{
	struct iovec iov = page_iov(self->w, 0, W_PAGES);

	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED,
				      PMADV_ANON_ONLY | PMADV_FILE_ONLY), -1);
	EXPECT_EQ(errno, EINVAL);
	expect_window_intact(_metadata, &self->t, self->w);
}

TEST_F(mixed, unknown_flag_fails_and_changes_nothing)
{
	struct iovec iov = page_iov(self->w, 0, W_PAGES);

	for (int bit = 0; bit < 32; bit++) {
		unsigned int flag = 1u << bit;

		if (flag & (PMADV_ANON_ONLY | PMADV_FILE_ONLY |
			    PMADV_LAYOUT_COOKIE))
			continue;
		EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1,
					      MADV_DONTNEED,
					      PMADV_ANON_ONLY | flag), -1);
		EXPECT_EQ(errno, EINVAL) TH_LOG("flag %#x", flag);
	}
	expect_window_intact(_metadata, &self->t, self->w);
}

/*
 * Lengths that are not page multiples cover their last page whole, and
 * the call returns the bytes as given, as without flags.  More elements
 * than the on-stack vector holds, so that a byte count that did not match
 * the elements would walk past the end of the allocated one.
 */
TEST_F(mixed, unaligned_lengths_with_a_filter)
{
	struct iovec iov[9];
	char *w = self->w;

	for (int i = 0; i < 9; i++)
		iov[i] = (struct iovec){ .iov_base = w + W_ANON1 * page_size,
					 .iov_len = 100 };
	ASSERT_EQ(sys_process_madvise(self->t.pidfd, iov, 9, MADV_DONTNEED,
				      PMADV_ANON_ONLY), 9 * 100);
	EXPECT_FALSE(target_present(&self->t, w, W_ANON1));
	EXPECT_TRUE(target_page_is(&self->t, w, W_ANON1 + 1, 'a'));
	EXPECT_TRUE(target_page_is(&self->t, w, W_PFILE, 'p'));
}

TEST_F(mixed, filter_with_populate_or_collapse_fails)
{
	struct iovec iov = page_iov(self->w, W_ANON1, 2);
	static const int advice[] = {
		MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_POPULATE,
		MADV_COLLAPSE,
	};

	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1,
					      advice[i], PMADV_ANON_ONLY), -1);
		EXPECT_EQ(errno, EINVAL) TH_LOG("advice %d", advice[i]);
	}
}

TEST_F(mixed, bad_later_range_changes_nothing)
{
	struct iovec iov[] = {
		page_iov(self->w, W_ANON1, 2),
		{ .iov_base = self->w + W_ANON2 * page_size + 1,
		  .iov_len = page_size },
	};

	/* Every range is checked before the first is advised. */
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, 2, MADV_DONTNEED,
				      PMADV_ANON_ONLY), -1);
	EXPECT_EQ(errno, EINVAL);
	expect_window_intact(_metadata, &self->t, self->w);
}

struct blocked_call {
	int pidfd;
	struct iovec iov[2];
	int vlen;
	unsigned int flags;
	ssize_t ret;
	int err;
};

static void *blocked_madvise(void *arg)
{
	struct blocked_call *b = arg;

	b->ret = sys_process_madvise(b->pidfd, b->iov, b->vlen, MADV_DONTNEED,
				     b->flags);
	b->err = errno;
	return NULL;
}

/*
 * Park a DONTNEED of [addr, addr + len) in the target's userfaultfd
 * REMOVE event, have the target map @kind ('f' file, 'n' anon) over the
 * range meanwhile, then let the call go on.  Returns the call's result.
 */
static ssize_t zap_across_a_remap(struct __test_metadata *_metadata,
				  struct target *t, struct blocked_call *b,
				  char *addr, size_t len, int kind)
{
	struct uffd_msg msg;
	struct rsp r = target_call(t, CMD_UFFD, addr, len, 0);
	struct pollfd pfd;
	pthread_t thread;
	int uffd;

	if (r.ret)
		return r.ret;
	/* Registering changed the VMA: a cookie must be read after it. */
	if (b->flags & PMADV_LAYOUT_COOKIE)
		((struct pmadv_layout_cookie *)b->iov[0].iov_base)->cookie =
			layout_cookie(t->pid);
	uffd = syscall(__NR_pidfd_getfd, t->pidfd, r.val, 0);
	if (uffd < 0)
		return -errno;
	b->pidfd = t->pidfd;
	pthread_create(&thread, NULL, blocked_madvise, b);
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	EXPECT_EQ(poll(&pfd, 1, 10000), 1);
	/* The call waits with mmap_lock dropped: replace the range. */
	EXPECT_EQ(target_call(t, CMD_REPLACE, addr, len, kind).ret, 0);
	EXPECT_EQ(read(uffd, &msg, sizeof(msg)), sizeof(msg));
	EXPECT_EQ(msg.event, UFFD_EVENT_REMOVE);
	pthread_join(thread, NULL);
	close(uffd);
	return 0;
}

TEST_F(mixed, filter_rechecked_after_the_uffd_lock_drop)
{
	struct blocked_call b = {
		.iov = { page_iov(self->w, W_ANON1, 2) },
		.vlen = 1,
		.flags = PMADV_ANON_ONLY,
	};

	ASSERT_EQ(zap_across_a_remap(_metadata, &self->t, &b,
				     b.iov[0].iov_base, b.iov[0].iov_len, 'f'),
		  0);
	/* The range is a file mapping now: skipped, its data kept. */
	EXPECT_EQ(b.ret, 2 * page_size);
	EXPECT_TRUE(target_present(&self->t, self->w, W_ANON1));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON1, 'n'));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON1 + 1, 'n'));
}

/* The cookie, without a layout change: the target stands still. */
FIXTURE(cookie)
{
	struct target t;
	char *w;
	int memfd;
};

FIXTURE_SETUP(cookie)
{
	const char *why;

	page_size = getpagesize();
	self->w = mmap(NULL, (W_PAGES + 1) * page_size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->w, MAP_FAILED);
	ASSERT_EQ(map_window(self->w, &self->memfd), 0);
	ASSERT_EQ(target_start(&self->t), 0);
	ASSERT_EQ(window_touch(&self->t, self->w), 0);
	why = cookie_missing(&self->t);
	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(cookie)
{
	target_stop(&self->t);
	close(self->memfd);
	munmap(self->w, (W_PAGES + 1) * page_size);
}

/* The cookie across a layout change: a variant per kind of change. */
FIXTURE(change)
{
	struct target t;
	char *w;
	int memfd;
	char *b;		/* 3 pages of the child's own, for the changes */
};

FIXTURE_VARIANT(change)
{
	int change;
};

enum {
	CH_MMAP, CH_MUNMAP, CH_MREMAP, CH_MPROTECT, CH_SPLIT, CH_MERGE,
	CH_BRK, CH_EXEC,
};

FIXTURE_VARIANT_ADD(change, mmap) { .change = CH_MMAP };
FIXTURE_VARIANT_ADD(change, munmap) { .change = CH_MUNMAP };
FIXTURE_VARIANT_ADD(change, mremap) { .change = CH_MREMAP };
FIXTURE_VARIANT_ADD(change, mprotect) { .change = CH_MPROTECT };
FIXTURE_VARIANT_ADD(change, split) { .change = CH_SPLIT };
FIXTURE_VARIANT_ADD(change, merge) { .change = CH_MERGE };
FIXTURE_VARIANT_ADD(change, brk) { .change = CH_BRK };
FIXTURE_VARIANT_ADD(change, exec) { .change = CH_EXEC };

FIXTURE_SETUP(change)
{
	const char *why;
	struct rsp r;

	page_size = getpagesize();
	self->w = mmap(NULL, (W_PAGES + 1) * page_size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->w, MAP_FAILED);
	ASSERT_EQ(map_window(self->w, &self->memfd), 0);
	ASSERT_EQ(target_start(&self->t), 0);
	ASSERT_EQ(window_touch(&self->t, self->w), 0);
	why = cookie_missing(&self->t);
	if (why)
		SKIP(return, "%s", why);

	r = target_call(&self->t, CMD_MMAP, NULL, 3 * page_size, 0);
	ASSERT_EQ(r.ret, 0);
	self->b = (char *)r.val;
	/* A merge needs something split to merge. */
	if (variant->change == CH_MERGE)
		ASSERT_EQ(target_call(&self->t, CMD_MPROTECT,
				      self->b + page_size, page_size,
				      PROT_READ).ret, 0);
}

FIXTURE_TEARDOWN(change)
{
	target_stop(&self->t);
	close(self->memfd);
	munmap(self->w, (W_PAGES + 1) * page_size);
}

/* Have the target change its layout away from the window. */
static long change_layout(struct target *t, char *b, int change)
{
	const int rw = PROT_READ | PROT_WRITE;

	switch (change) {
	case CH_MMAP:
		return target_call(t, CMD_MMAP, NULL, page_size, 0).ret;
	case CH_MUNMAP:
		return target_call(t, CMD_MUNMAP, b, 3 * page_size, 0).ret;
	case CH_MREMAP:
		return target_call(t, CMD_MREMAP, b, 3 * page_size, 0).ret;
	case CH_MPROTECT:
		return target_call(t, CMD_MPROTECT, b, 3 * page_size,
				   PROT_READ).ret;
	case CH_SPLIT:
		return target_call(t, CMD_MPROTECT, b + page_size, page_size,
				   PROT_READ).ret;
	case CH_MERGE:
		return target_call(t, CMD_MPROTECT, b + page_size, page_size,
				   rw).ret;
	case CH_BRK:
		return target_call(t, CMD_BRK, NULL, 0, 0).ret;
	}
	return -EINVAL;
}

static ssize_t zap_with_cookie(struct target *t, uint64_t cookie,
			       struct iovec *ranges, int n, unsigned int flags)
{
	struct pmadv_layout_cookie c = { .cookie = cookie };
	struct iovec iov[4] = { { .iov_base = &c, .iov_len = sizeof(c) } };

	if (n)
		memcpy(iov + 1, ranges, n * sizeof(*ranges));
	return sys_process_madvise(t->pidfd, iov, n + 1, MADV_DONTNEED,
				   flags | PMADV_LAYOUT_COOKIE);
}

TEST_F(change, stale_cookie_zaps_nothing)
{
	struct iovec anon = page_iov(self->w, W_ANON1, 2);
	uint64_t old = layout_cookie(self->t.pid);
	int byte = 'a';

	ASSERT_NE(old, 0);
	if (variant->change == CH_EXEC) {
		/* The new image maps the range again, with 'x'. */
		ASSERT_EQ(target_call(&self->t, CMD_EXEC, anon.iov_base,
				      anon.iov_len, 0).ret, 0);
		ASSERT_EQ(target_reopen_pagemap(&self->t), 0);
		byte = 'x';
	} else {
		ASSERT_EQ(change_layout(&self->t, self->b, variant->change), 0);
	}
	EXPECT_NE(layout_cookie(self->t.pid), old);

	EXPECT_EQ(zap_with_cookie(&self->t, old, &anon, 1, 0), -1);
	EXPECT_EQ(errno, ESTALE);
	EXPECT_TRUE(target_present(&self->t, self->w, W_ANON1));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON1, byte));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON1 + 1, byte));
}

TEST_F(change, fresh_cookie_zaps)
{
	struct iovec anon[] = {
		page_iov(self->w, W_ANON1, 1),
		page_iov(self->w, W_ANON1 + 1, 1),
	};

	if (variant->change == CH_EXEC) {
		ASSERT_EQ(target_call(&self->t, CMD_EXEC, anon[0].iov_base,
				      2 * page_size, 0).ret, 0);
		ASSERT_EQ(target_reopen_pagemap(&self->t), 0);
	} else {
		ASSERT_EQ(change_layout(&self->t, self->b, variant->change), 0);
	}

	/* An iovec of several ranges works under one cookie. */
	EXPECT_EQ(zap_with_cookie(&self->t, layout_cookie(self->t.pid), anon,
				  2, 0), 2 * page_size);
	EXPECT_FALSE(target_present(&self->t, self->w, W_ANON1));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON1, 0));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON1 + 1, 0));
}

TEST_F(cookie, advice_does_not_change_the_cookie)
{
	uint64_t c;
	struct iovec anon = page_iov(self->w, W_ANON1, 1);
	struct iovec anon2 = page_iov(self->w, W_ANON2, 1);

	c = layout_cookie(self->t.pid);
	ASSERT_EQ(zap_with_cookie(&self->t, c, &anon, 1, 0), page_size);
	/* A manager may send the rest of its batch with the same cookie. */
	EXPECT_EQ(layout_cookie(self->t.pid), c);
	EXPECT_EQ(zap_with_cookie(&self->t, c, &anon2, 1, 0), page_size);
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON2, 0));
}

TEST_F(cookie, with_a_filter_over_the_window)
{
	struct iovec iov = page_iov(self->w, 0, W_PAGES);

	EXPECT_EQ(zap_with_cookie(&self->t, layout_cookie(self->t.pid), &iov,
				  1, PMADV_ANON_ONLY), W_PAGES * page_size);
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON1, 0));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_PFILE, 'p'));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_SHMEM, 's'));
}

TEST_F(cookie, header_alone_checks_the_cookie)
{
	uint64_t c;

	c = layout_cookie(self->t.pid);
	EXPECT_EQ(zap_with_cookie(&self->t, c, NULL, 0, 0), 0);
	EXPECT_EQ(zap_with_cookie(&self->t, c - 1, NULL, 0, 0), -1);
	EXPECT_EQ(errno, ESTALE);
}

TEST_F(cookie, bad_header_fails_and_changes_nothing)
{
	struct { struct pmadv_layout_cookie c; uint64_t more; } big;
	struct iovec iov[2] = {
		{ .iov_base = &big, .iov_len = sizeof(big.c) - 1 },
		page_iov(self->w, 0, W_PAGES),
	};

	big.c.cookie = layout_cookie(self->t.pid);
	big.more = 1;
	/* Too short for the cookie. */
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, 2, MADV_DONTNEED,
				      PMADV_LAYOUT_COOKIE), -1);
	EXPECT_EQ(errno, EINVAL);
	/* A longer header of a later kernel, with a field this one lacks. */
	iov[0].iov_len = sizeof(big);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, 2, MADV_DONTNEED,
				      PMADV_LAYOUT_COOKIE), -1);
	EXPECT_EQ(errno, E2BIG);
	/* The same, zero-extended, is fine: checked with the header only. */
	big.more = 0;
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, 1, MADV_DONTNEED,
				      PMADV_LAYOUT_COOKIE), 0);
	/* Unreadable. */
	iov[0].iov_base = (void *)8;
	iov[0].iov_len = sizeof(big.c);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, 2, MADV_DONTNEED,
				      PMADV_LAYOUT_COOKIE), -1);
	EXPECT_EQ(errno, EFAULT);
	/* No header at all. */
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, 0, MADV_DONTNEED,
				      PMADV_LAYOUT_COOKIE), -1);
	EXPECT_EQ(errno, EINVAL);
	expect_window_intact(_metadata, &self->t, self->w);
}

TEST_F(cookie, refused_with_advice_that_relocks_inside_a_vma)
{
	struct pmadv_layout_cookie c = { .cookie = layout_cookie(self->t.pid) };
	struct iovec iov[2] = {
		{ .iov_base = &c, .iov_len = sizeof(c) },
		page_iov(self->w, W_ANON1, 2),
	};
	static const int advice[] = {
		MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_POPULATE,
		MADV_COLLAPSE,
	};

	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, 2, advice[i],
					      PMADV_LAYOUT_COOKIE), -1);
		EXPECT_EQ(errno, EINVAL) TH_LOG("advice %d", advice[i]);
	}
}

/* PROCMAP_QUERY as built against struct procmap_query before the cookie. */
#define PROCMAP_QUERY_VER0 \
	_IOC(_IOC_READ | _IOC_WRITE, PROCFS_IOCTL_MAGIC, 17, \
	     offsetof(struct procmap_query, layout_cookie))

TEST_F(cookie, old_procmap_query_binaries_still_work)
{
	struct procmap_query q;
	char path[64];
	int fd;

	memset(&q, 0xff, sizeof(q));
	q.size = offsetof(struct procmap_query, layout_cookie);
	q.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA;
	q.query_addr = 0;
	q.vma_name_size = 0;
	q.build_id_size = 0;
	q.vma_name_addr = 0;
	q.build_id_addr = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", self->t.pid);
	fd = open(path, O_RDONLY);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(ioctl(fd, PROCMAP_QUERY_VER0, &q), 0);
	EXPECT_NE(q.vma_end, ~0ULL);
	/* Nothing written past the size the caller knows. */
	EXPECT_EQ(q.layout_cookie, ~0ULL);
	close(fd);
}

TEST_F(cookie, rechecked_after_the_uffd_lock_drop)
{
	struct pmadv_layout_cookie c = { 0 };
	struct blocked_call b = {
		.iov = {
			{ .iov_base = &c, .iov_len = sizeof(c) },
			page_iov(self->w, W_ANON1, 2),
		},
		.vlen = 2,
		.flags = PMADV_LAYOUT_COOKIE,
	};

	ASSERT_EQ(zap_across_a_remap(_metadata, &self->t, &b,
				     b.iov[1].iov_base, b.iov[1].iov_len, 'n'),
		  0);
	/* New memory came in while the call waited: nothing of it zapped. */
	EXPECT_EQ(b.ret, -1);
	EXPECT_EQ(b.err, ESTALE);
	EXPECT_TRUE(target_present(&self->t, self->w, W_ANON1));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON1, 'n'));
	EXPECT_TRUE(target_page_is(&self->t, self->w, W_ANON1 + 1, 'n'));
}

/*
 * The race: the target flips slots of a region between "scratch" memory
 * (anonymous, PROT_EXEC set, which the manager means to zap) and
 * "precious" memory (anonymous, no PROT_EXEC, with data), as fast as it
 * can, for a bounded number of flips.  The manager snapshots the scratch
 * VMAs with PROCMAP_QUERY and zaps them under the snapshot's cookie, over
 * and over.  Whatever the timing, no precious byte may be lost: the target
 * checks each precious slot before it flips it back, and the manager
 * checks them all at the end.
 */
#define RACE_SLOTS	32
#define RACE_FLIPS	3000
#define RACE_ROUNDS	20000

struct race_state {
	int kind[RACE_SLOTS];		/* 0 scratch, else precious generation */
	unsigned long lost;		/* precious slots found damaged */
	unsigned long flips;
	int done;
};

static void race_fill(char *slot, int gen)
{
	for (size_t i = 0; i < page_size; i += sizeof(int))
		*(int *)(slot + i) = gen;
}

static bool race_intact(const char *slot, int gen)
{
	for (size_t i = 0; i < page_size; i += sizeof(int))
		if (*(const int *)(slot + i) != gen)
			return false;
	return true;
}

static void race_target(char *r, struct race_state *s)
{
	const int rwx = PROT_READ | PROT_WRITE | PROT_EXEC;
	const int fixed = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	unsigned int seed = 1;

	for (int f = 1; f <= RACE_FLIPS; f++) {
		int i = rand_r(&seed) % RACE_SLOTS;
		char *slot = r + i * page_size;

		if (s->kind[i]) {
			if (!race_intact(slot, s->kind[i]))
				__atomic_add_fetch(&s->lost, 1, __ATOMIC_RELAXED);
			mmap(slot, page_size, rwx, fixed, -1, 0);
			*slot = 1;
			s->kind[i] = 0;
		} else {
			mmap(slot, page_size, PROT_READ | PROT_WRITE, fixed,
			     -1, 0);
			race_fill(slot, f);
			s->kind[i] = f;
		}
		s->flips = f;
		if (!(f % 16))
			usleep(50);
	}
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	pause();
}

/*
 * The scratch VMAs of [r, r + len) and the cookie the snapshot holds for;
 * 0 if the layout changed during the walk, which takes mmap_lock once per
 * VMA: equal cookies from its first to its last query make it one view.
 */
static uint64_t race_snapshot(int maps_fd, char *r, size_t len,
			      struct iovec *iov, int *n)
{
	struct procmap_query q = {
		.size = sizeof(q),
		.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA |
			       PROCMAP_QUERY_VMA_EXECUTABLE,
	};
	uint64_t cookie = 0;

	*n = 0;
	for (q.query_addr = (unsigned long)r;; q.query_addr = q.vma_end) {
		if (ioctl(maps_fd, PROCMAP_QUERY, &q))
			break;
		if (cookie && q.layout_cookie != cookie)
			return 0;
		cookie = q.layout_cookie;
		if (q.vma_start >= (unsigned long)r + len)
			break;
		iov[*n].iov_base = (void *)q.vma_start;
		iov[*n].iov_len = q.vma_end - q.vma_start;
		(*n)++;
	}
	return cookie;
}

static long race_zap(int pidfd, uint64_t cookie, struct iovec *iov, int n)
{
	struct pmadv_layout_cookie c = { .cookie = cookie };

	iov[-1].iov_base = &c;
	iov[-1].iov_len = sizeof(c);
	return sys_process_madvise(pidfd, iov - 1, n + 1, MADV_DONTNEED,
				   PMADV_LAYOUT_COOKIE);
}

FIXTURE(race)
{
};

FIXTURE_SETUP(race)
{
}

FIXTURE_TEARDOWN(race)
{
}

TEST_F_TIMEOUT(race, remap_while_zapping_with_the_cookie, 240)
{
	struct race_state *s;
	struct iovec iov[RACE_SLOTS + 1];
	unsigned long zaps = 0, stale = 0, torn = 0;
	struct target t = { 0 };
	char *r, path[64];
	int maps_fd, n, pidfd;
	uint64_t cookie;
	const char *why;
	pid_t pid;

	page_size = getpagesize();
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	r = mmap(NULL, RACE_SLOTS * page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(s, MAP_FAILED);
	ASSERT_NE(r, MAP_FAILED);
	/* Every slot starts precious. */
	for (int i = 0; i < RACE_SLOTS; i++) {
		s->kind[i] = -1 - i;
		race_fill(r + i * page_size, s->kind[i]);
	}

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		race_target(r, s);
	pidfd = sys_pidfd_open(pid);
	ASSERT_GE(pidfd, 0);
	t.pid = pid;
	t.pidfd = pidfd;
	why = cookie_missing(&t);
	if (why) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		SKIP(return, "%s", why);
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps_fd = open(path, O_RDONLY);
	ASSERT_GE(maps_fd, 0);

	for (int k = 0; k < RACE_ROUNDS; k++) {
		bool last = __atomic_load_n(&s->done, __ATOMIC_ACQUIRE);

		cookie = race_snapshot(maps_fd, r, RACE_SLOTS * page_size,
				       iov + 1, &n);
		if (!cookie) {
			torn++;
		} else if (race_zap(pidfd, cookie, iov + 1, n) >= 0) {
			zaps++;
		} else {
			ASSERT_EQ(errno, ESTALE);
			stale++;
		}
		if (last)
			break;
	}
	/* The flips are bounded: wait for the last ones, if any are left. */
	for (int ms = 0; ms < 120000; ms++) {
		if (__atomic_load_n(&s->done, __ATOMIC_ACQUIRE))
			break;
		usleep(1000);
	}
	ASSERT_TRUE(__atomic_load_n(&s->done, __ATOMIC_ACQUIRE))
		TH_LOG("the target did not finish its flips");

	/* The target stands still now: a fresh snapshot must zap. */
	cookie = race_snapshot(maps_fd, r, RACE_SLOTS * page_size, iov + 1, &n);
	ASSERT_NE(cookie, 0);
	EXPECT_GE(race_zap(pidfd, cookie, iov + 1, n), 0);

	/* Every precious slot, read in the target, holds its data. */
	for (int i = 0; i < RACE_SLOTS; i++) {
		static char buf[1 << 16];
		struct iovec local = { .iov_base = buf, .iov_len = page_size };
		struct iovec remote = { .iov_base = r + i * page_size,
					.iov_len = page_size };

		ASSERT_EQ(syscall(__NR_process_vm_readv, pid, &local, 1,
				  &remote, 1, 0), page_size);
		if (s->kind[i]) {
			EXPECT_TRUE(race_intact(buf, s->kind[i]))
				TH_LOG("precious slot %d lost", i);
		} else {
			EXPECT_EQ(buf[0], 0) TH_LOG("scratch slot %d kept", i);
		}
	}
	EXPECT_EQ(s->lost, 0);
	TH_LOG("%lu flips: %lu zaps, %lu stale, %lu torn snapshots",
	       s->flips, zaps, stale, torn);

	close(maps_fd);
	close(pidfd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "--exec-target"))
		return exec_target(argv);
	return test_harness_run(argc, argv);
}
