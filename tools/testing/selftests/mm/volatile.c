// SPDX-License-Identifier: GPL-2.0
/*
 * MADV_VOLATILE and MADV_NONVOLATILE: private anonymous memory that reclaim
 * may discard ("purge") instead of swapping it, and that reports the purge.
 *
 * A volatile page keeps its data until reclaim purges it.  Touching a
 * purged page raises SIGBUS (BUS_ADRERR, at the faulting address) and a
 * kernel access to it fails with EFAULT, until MADV_NONVOLATILE, which
 * returns 1 if a page of its range was purged, 0 if none was; purged pages
 * then read zero.
 *
 * How it is checked: purges are forced by writing to memory.reclaim (or by
 * memory.max) of a memory cgroup made for the test, with no swap (the
 * cgroup's memory.swap.max is 0 if the system has swap) or with a zram
 * device the test sets up as swap.  A page is seen gone when its pagemap
 * entry is not present; it was purged and not swapped when it is neither
 * present nor swapped, and MADV_NONVOLATILE reports it.  The VMA attribute
 * is read from the "vo" mnemonic of VmFlags in /proc/self/smaps.  Each page
 * of a buffer holds a non-zero pattern of its index and a generation, so
 * that a page that reads zero can only be one that was purged and taken
 * back.  Last, a stress test runs threads over volatile memory under
 * memory.max pressure and checks the same invariants after every step.
 *
 * Everything a test leaves behind outside its own process (the cgroup, the
 * zram swap) is undone by a teardown run in the harness's parent process,
 * so that it also happens when the test dies of a signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"
#include "vm_util.h"
#include "volatile_util.h"

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE		0x08
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT		0x01
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef __NR_mseal
#define __NR_mseal		462
#endif
#define PM_PFRAME_MASK		(BIT_ULL(55) - 1)

#define NR_PAGES	32
#define CG_PREFIX	"volatile-test-"
#define ZRAM_SIZE	(256UL << 20)

static size_t page_size;

static long sys_madvise(void *addr, size_t len, int advice)
{
	return syscall(__NR_madvise, addr, len, advice);
}

static int sys_mlock(void *addr, size_t len)
{
	return syscall(__NR_mlock, addr, len);
}

static int sys_mlock2(void *addr, size_t len, unsigned int flags)
{
	return syscall(__NR_mlock2, addr, len, flags);
}

static ssize_t sys_process_madvise(int pidfd, const struct iovec *iov,
				   size_t vlen, int advice)
{
	return syscall(__NR_process_madvise, pidfd, iov, vlen, advice, 0);
}

static int sys_pidfd_open(pid_t pid)
{
	return syscall(__NR_pidfd_open, pid, 0);
}

static int sys_swapon(const char *path, int flags)
{
	return syscall(__NR_swapon, path, flags);
}

static int sys_swapoff(const char *path)
{
	return syscall(__NR_swapoff, path);
}

/* Probe in the harness's process, before it forks the tests. */
static void __attribute__((constructor)) probe_volatile(void)
{
	volatile_supported();
}

/* The stress test's page states: guarded() adds PAGE_SIGBUS to unit_state(). */
enum { PAGE_SIGBUS = UNIT_BAD + 1 };

/* Fill pages [first, first + n) of @p: page i gets pattern (i, @gen). */
static void fill(char *p, long first, long n, unsigned int gen)
{
	for (long i = first; i < first + n; i++)
		unit_fill(p + i * page_size, page_size, i, gen);
}

/* @n private anonymous pages, filled with generation 0; NULL on failure. */
static char *map_filled(long n)
{
	char *p = mmap(NULL, n * page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	fill(p, 0, n, 0);
	return p;
}

/* Whether touching @addr raises SIGBUS with BUS_ADRERR at @addr itself. */
static bool sigbus_at(void *addr, bool write)
{
	return touch(addr, write) == SIGBUS &&
	       bus.info.si_code == BUS_ADRERR && bus.info.si_addr == addr;
}

/*
 * The line starting with @key of the VMA containing @addr in
 * /proc/self/smaps, copied into @line; false if there is none.
 */
static bool smaps_line(void *addr, const char *key, char *line, int size)
{
	unsigned long a = (unsigned long)addr, start, end;
	FILE *f = fopen("/proc/self/smaps", "r");
	bool in_vma = false, found = false;

	if (!f)
		return false;
	while (!found && fgets(line, size, f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in_vma = a >= start && a < end;
		else if (in_vma && !strncmp(line, key, strlen(key)))
			found = true;
	}
	fclose(f);
	return found;
}

/* Whether the VMA containing @addr shows @flag in its VmFlags. */
static bool vma_flag(void *addr, const char *flag)
{
	char line[512], *tok, *save;

	if (!smaps_line(addr, "VmFlags:", line, sizeof(line)))
		return false;
	for (tok = strtok_r(line + 8, "\n ", &save); tok;
	     tok = strtok_r(NULL, "\n ", &save))
		if (!strcmp(tok, flag))
			return true;
	return false;
}

/* The kB of smaps field @key ("Swap:") of the VMA at @addr, or -1. */
static long vma_kb(void *addr, const char *key)
{
	char line[512];

	if (!smaps_line(addr, key, line, sizeof(line)))
		return -1;
	return strtol(line + strlen(key), NULL, 10);
}

/* How many VMAs of /proc/self/maps overlap [p, p + len). */
static int vmas_in(void *p, size_t len)
{
	unsigned long a = (unsigned long)p, b = a + len, start, end;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 &&
		    start < b && end > a)
			n++;
	fclose(f);
	return n;
}

/* An event count of memory.events ("oom_kill"). */
static long cg_event(const char *cg, const char *key)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/memory.events", cg);
	return stat_key(path, key);
}

/* memory.stat is flushed lazily: give @key 3 s to reach @min. */
static long cg_stat_wait(const char *cg, const char *key, long min)
{
	double end = now() + 3;
	long val;

	while ((val = cg_stat(cg, key)) < min && now() < end)
		usleep(100000);
	return val;
}

/* Reclaim from the caller's cgroup until no page of [p, p + len) is present. */
static bool reclaim_until_gone(char *p, size_t len)
{
	return !reclaim_until(NULL, p, len, 0, INT_MAX);
}

/* The kB of @key ("VmVolatile:") in /proc/@pid/status, or -1. */
static long status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen)) {
			val = strtol(line + klen, NULL, 10);
			break;
		}
	fclose(f);
	return val;
}

/*
 * @n private anonymous pages, filled, made volatile and purged by reclaim
 * of the caller's cgroup; NULL if any step failed.
 */
static char *map_purged(long n)
{
	char *p = map_filled(n);

	if (!p)
		return NULL;
	if (set_volatile(p, n * page_size) ||
	    !reclaim_until_gone(p, n * page_size)) {
		munmap(p, n * page_size);
		return NULL;
	}
	return p;
}

/* Wait for child @pid: its exit status, or 128 + its killing signal. */
static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) :
				   128 + WTERMSIG(status);
}

/* What a test sets up outside its process, for the teardown to undo. */
struct env {
	char cg[128];		/* the test's memory cgroup, or "" */
	char zdev[32];		/* /dev/zramN, swapped on if zswapon */
	int zid;		/* N, or -1 */
	bool zadded;		/* hot_added by us: hot_remove it */
	bool zmknod;		/* we made the device node */
	bool zswapon;
	char ksm_run[8];	/* /sys/kernel/mm/ksm/run to restore, or "" */
};

/* Page 0 of a swap device: version 1, no bad pages, "SWAPSPACE2". */
static int write_swap_header(const char *dev, size_t size)
{
	char *page = calloc(1, page_size);
	uint32_t *info = (uint32_t *)(page + 1024);
	int fd, ret = -EIO;

	if (!page)
		return -ENOMEM;
	info[0] = 1;				/* version */
	info[1] = size / page_size - 1;		/* last_page */
	info[2] = 0;				/* nr_badpages */
	memcpy(page + page_size - 10, "SWAPSPACE2", 10);
	fd = open(dev, O_WRONLY);
	if (fd >= 0) {
		if (pwrite(fd, page, page_size, 0) == (ssize_t)page_size &&
		    !fsync(fd))
			ret = 0;
		close(fd);
	} else {
		ret = -errno;
	}
	free(page);
	return ret;
}

static void zram_swapoff(struct env *env)
{
	char path[64], id[16];

	if (env->zid < 0)
		return;
	if (env->zswapon)
		sys_swapoff(env->zdev);
	env->zswapon = false;
	snprintf(path, sizeof(path), "/sys/block/zram%d/reset", env->zid);
	write_str(path, "1");
	if (env->zmknod)
		unlink(env->zdev);
	if (env->zadded) {
		snprintf(id, sizeof(id), "%d", env->zid);
		write_str("/sys/class/zram-control/hot_remove", id);
	}
	env->zid = -1;
}

/* A zram device, zram0 if unused, else a new one, at env->zdev; -errno. */
static int zram_make(struct env *env)
{
	unsigned int major, minor;
	char path[64], size[32];
	long id = 0;
	int ret;

	if (access("/sys/block/zram0", F_OK) ||
	    read_long("/sys/block/zram0/disksize") != 0) {
		id = read_long("/sys/class/zram-control/hot_add");
		if (id < 0)
			return -ENODEV;
		env->zadded = true;
	}
	env->zid = id;
	snprintf(path, sizeof(path), "/sys/block/zram%ld/disksize", id);
	snprintf(size, sizeof(size), "%lu", ZRAM_SIZE);
	ret = write_str(path, size);
	if (ret)
		return ret;
	snprintf(env->zdev, sizeof(env->zdev), "/dev/zram%ld", id);
	/* devtmpfs makes the node shortly; make it if it does not. */
	for (int i = 0; i < 50 && access(env->zdev, F_OK); i++)
		usleep(20000);
	if (access(env->zdev, F_OK)) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/block/zram%ld/dev", id);
		f = fopen(path, "r");
		if (!f)
			return -ENODEV;
		ret = fscanf(f, "%u:%u", &major, &minor);
		fclose(f);
		if (ret != 2 || mknod(env->zdev, S_IFBLK | 0600,
				      makedev(major, minor)))
			return -ENODEV;
		env->zmknod = true;
	}
	return 0;
}

/* Swap on a zram device.  0 or -errno. */
static int zram_swapon(struct env *env)
{
	int ret = zram_make(env);

	if (!ret)
		ret = write_swap_header(env->zdev, ZRAM_SIZE);
	if (ret)
		return ret;
	if (sys_swapon(env->zdev, 0))
		return -errno;
	env->zswapon = true;
	return 0;
}

static void env_teardown(struct env *env)
{
	cg_destroy(env->cg);
	zram_swapoff(env);
	if (env->ksm_run[0]) {
		/* Unmerge what the test merged, then run as before. */
		write_str("/sys/kernel/mm/ksm/run", "2");
		write_str("/sys/kernel/mm/ksm/run", env->ksm_run);
	}
}

/*
 * Put the caller in a memory cgroup of its own, with zram swap if @swap
 * and with no swap at all if not: the setup of every fixture holding a
 * struct env, whose teardown calls env_teardown().  It undoes itself when
 * it skips or fails: the harness runs no teardown after such a setup.
 */
static void env_setup(struct __test_metadata *_metadata, struct env *env,
		      bool swap)
{
	const char *missing;
	char path[256];
	int ret;

	page_size = getpagesize();
	memset(env, 0, sizeof(*env));
	env->zid = -1;
	missing = volatile_cg_missing();
	if (missing)
		SKIP(return, "%s", missing);
	cg_reap_stale(CG_PREFIX);
	if (swap) {
		ret = zram_swapon(env);
		if (ret) {
			zram_swapoff(env);
			SKIP(return, "no zram swap: %s",
			     strerror(-ret));
		}
	}
	ret = cg_create(env->cg, sizeof(env->cg), CG_PREFIX);
	if (ret)
		goto fail;
	snprintf(path, sizeof(path), "%s/memory.reclaim", env->cg);
	if (access(path, W_OK)) {
		env_teardown(env);
		SKIP(return, "no memory.reclaim");
	}
	if (!swap && cg_write(env->cg, "memory.swap.max", "0") && swap_on()) {
		env_teardown(env);
		SKIP(return, "swap on, memory.swap.max not settable");
	}
	ret = cg_enter(env->cg, getpid());
	if (!ret && catch_sigbus())
		ret = -errno;
fail:
	if (ret)
		env_teardown(env);
	ASSERT_EQ(ret, 0);
}

/*
 * MADV_VOLATILE per kind of mapping: only private anonymous memory takes
 * it; any other kind is EINVAL and left as it was.  MADV_NONVOLATILE is a
 * no-op returning 0 on every kind.
 */
enum kind {
	PRIVATE_ANON,
	PRIVATE_ANON_THP,
	MLOCKED,
	MLOCKED_ONFAULT,
	HUGETLB,
	SHARED_ANON,
	MEMFD_SHARED,
	MEMFD_PRIVATE,
	FILE_PRIVATE,
	DROPPABLE,
	PFNMAP,
};

FIXTURE(kinds)
{
	char *mem;
	size_t len;
	bool owned;	/* ours to unmap */
	char *copy;	/* the data, to compare with; NULL: not compared */
	int fd;
};

FIXTURE_VARIANT(kinds)
{
	enum kind kind;
	bool accepted;
};

FIXTURE_VARIANT_ADD(kinds, private_anon) {
	.kind = PRIVATE_ANON, .accepted = true,
};

FIXTURE_VARIANT_ADD(kinds, private_anon_thp) {
	.kind = PRIVATE_ANON_THP, .accepted = true,
};

FIXTURE_VARIANT_ADD(kinds, mlocked) { .kind = MLOCKED };
FIXTURE_VARIANT_ADD(kinds, mlocked_onfault) { .kind = MLOCKED_ONFAULT };
FIXTURE_VARIANT_ADD(kinds, hugetlb) { .kind = HUGETLB };
FIXTURE_VARIANT_ADD(kinds, shared_anon) { .kind = SHARED_ANON };
FIXTURE_VARIANT_ADD(kinds, memfd_shared) { .kind = MEMFD_SHARED };
FIXTURE_VARIANT_ADD(kinds, memfd_private) { .kind = MEMFD_PRIVATE };
FIXTURE_VARIANT_ADD(kinds, file_private) { .kind = FILE_PRIVATE };
FIXTURE_VARIANT_ADD(kinds, droppable) { .kind = DROPPABLE };
FIXTURE_VARIANT_ADD(kinds, pfnmap) { .kind = PFNMAP };

/* The [vvar] mapping, VM_IO | VM_PFNMAP on x86; false if there is none. */
static bool find_vvar(char **start, size_t *len)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	unsigned long s, e;
	char line[256];
	bool found = false;

	if (!maps)
		return false;
	while (!found && fgets(line, sizeof(line), maps))
		if (strstr(line, "[vvar]") &&
		    sscanf(line, "%lx-%lx", &s, &e) == 2)
			found = true;
	fclose(maps);
	if (!found || !vma_flag((void *)s, "pf"))
		return false;
	*start = (char *)s;
	*len = e - s;
	return true;
}

FIXTURE_SETUP(kinds)
{
	int prot = PROT_READ | PROT_WRITE;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	size_t pmd;
	char *at;

	page_size = getpagesize();
	self->len = NR_PAGES * page_size;
	self->mem = MAP_FAILED;
	self->owned = false;
	self->copy = NULL;
	self->fd = -1;
	if (!volatile_supported())
		SKIP(return, "MADV_VOLATILE not supported");

	switch (variant->kind) {
	case PRIVATE_ANON_THP:
		pmd = read_pmd_pagesize();
		if (!pmd)
			SKIP(return, "no THP");
		self->len = pmd;
		at = reserve_aligned(pmd, pmd);
		ASSERT_NE(at, NULL);
		self->mem = mmap(at, pmd, prot, flags | MAP_FIXED, -1, 0);
		ASSERT_EQ(self->mem, at);
		self->owned = true;
		if (sys_madvise(self->mem, pmd, MADV_HUGEPAGE))
			SKIP(return, "no MADV_HUGEPAGE");
		fill(self->mem, 0, pmd / page_size, 0);
		if (vma_kb(self->mem, "AnonHugePages:") < (long)(pmd >> 10))
			SKIP(return, "no THP allocated");
		break;
	case HUGETLB:
		self->len = default_huge_page_size();
		if (!self->len || get_free_hugepages() < 1)
			SKIP(return, "no free huge page");
		flags |= MAP_HUGETLB;
		break;
	case SHARED_ANON:
		flags = MAP_SHARED | MAP_ANONYMOUS;
		break;
	case MEMFD_SHARED:
	case MEMFD_PRIVATE:
		self->fd = memfd_create("volatile", 0);
		ASSERT_GE(self->fd, 0);
		ASSERT_EQ(ftruncate(self->fd, self->len), 0);
		flags = variant->kind == MEMFD_SHARED ? MAP_SHARED :
							MAP_PRIVATE;
		break;
	case FILE_PRIVATE: {
		struct stat st;

		/* The test binary: a regular file, whatever it is on. */
		self->fd = open("/proc/self/exe", O_RDONLY);
		ASSERT_GE(self->fd, 0);
		ASSERT_EQ(fstat(self->fd, &st), 0);
		if ((size_t)st.st_size < self->len)
			self->len = st.st_size & ~(page_size - 1);
		if (!self->len)
			SKIP(return, "test binary smaller than a page");
		flags = MAP_PRIVATE;
		break;
	}
	case DROPPABLE:
		flags = MAP_DROPPABLE | MAP_ANONYMOUS;
		break;
	case PFNMAP:
		if (!find_vvar(&self->mem, &self->len))
			SKIP(return, "no VM_PFNMAP [vvar] mapping");
		break;
	default:
		break;
	}
	if (self->mem == MAP_FAILED) {
		self->mem = mmap(NULL, self->len, prot, flags, self->fd, 0);
		if (self->mem == MAP_FAILED && variant->kind == DROPPABLE &&
		    errno == EINVAL)
			SKIP(return, "no MAP_DROPPABLE");
		ASSERT_NE(self->mem, MAP_FAILED);
		self->owned = true;
		if (variant->kind != FILE_PRIVATE)
			fill(self->mem, 0, self->len / page_size, 0);
	}
	if (variant->kind == MLOCKED &&
	    sys_mlock(self->mem, self->len))
		SKIP(return, "mlock: %s", strerror(errno));
	/* Pages present already are locked at once by MLOCK_ONFAULT too. */
	if (variant->kind == MLOCKED_ONFAULT &&
	    sys_mlock2(self->mem, self->len, MLOCK_ONFAULT))
		SKIP(return, "mlock2: %s", strerror(errno));
	if (variant->kind != PFNMAP) {
		self->copy = malloc(self->len);
		ASSERT_NE(self->copy, NULL);
		memcpy(self->copy, self->mem, self->len);
	}
}

FIXTURE_TEARDOWN(kinds)
{
	if (self->owned)
		munmap(self->mem, self->len);
	if (self->fd >= 0)
		close(self->fd);
	free(self->copy);
}

TEST_F(kinds, volatile_only_on_private_anon)
{
	int ret = set_volatile(self->mem, self->len);

	if (variant->accepted) {
		EXPECT_EQ(ret, 0);
		EXPECT_TRUE(vma_flag(self->mem, "vo"));
	} else {
		EXPECT_EQ(ret, -EINVAL);
		EXPECT_FALSE(vma_flag(self->mem, "vo"));
	}
	if (self->copy)
		EXPECT_EQ(memcmp(self->mem, self->copy, self->len), 0);
}

TEST_F(kinds, nonvolatile_is_a_noop)
{
	EXPECT_EQ(set_nonvolatile(self->mem, self->len), 0);
	EXPECT_FALSE(vma_flag(self->mem, "vo"));
	if (self->copy)
		EXPECT_EQ(memcmp(self->mem, self->copy, self->len), 0);
}

/* What needs no reclaim: the attribute, its errors, and intact data. */
FIXTURE(local)
{
	char *mem;		/* NR_PAGES pages, generation 0 */
	size_t len;
};

FIXTURE_SETUP(local)
{
	page_size = getpagesize();
	self->len = NR_PAGES * page_size;
	self->mem = NULL;
	if (!volatile_supported())
		SKIP(return, "MADV_VOLATILE not supported");
	self->mem = map_filled(NR_PAGES);
	ASSERT_NE(self->mem, NULL);
	ASSERT_EQ(catch_sigbus(), 0);
}

FIXTURE_TEARDOWN(local)
{
	if (self->mem)
		munmap(self->mem, self->len);
}

TEST_F(local, unaligned_start_is_einval)
{
	EXPECT_EQ(set_volatile(self->mem + 1, self->len - page_size), -EINVAL);
	EXPECT_FALSE(vma_flag(self->mem, "vo"));
}

/* The range is checked whole before any VMA changes. */
TEST_F(local, einval_anywhere_in_the_range_changes_nothing)
{
	char *r = reserve_aligned(2 * self->len, page_size);
	int fd = memfd_create("volatile", 0);

	ASSERT_NE(r, NULL);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(ftruncate(fd, self->len), 0);
	ASSERT_EQ(mmap(r, self->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), r);
	ASSERT_EQ(mmap(r + self->len, self->len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, fd, 0), r + self->len);
	fill(r, 0, NR_PAGES, 0);

	EXPECT_EQ(set_volatile(r, 2 * self->len), -EINVAL);
	EXPECT_FALSE(vma_flag(r, "vo"));
	EXPECT_FALSE(vma_flag(r + self->len - page_size, "vo"));
	EXPECT_EQ(vmas_in(r, self->len), 1);
	EXPECT_EQ(count_state(r, page_size, 0, NR_PAGES, 0, UNIT_DATA), NR_PAGES);
	munmap(r, 2 * self->len);
	close(fd);
}

/* As other madvise(): ENOMEM for the hole, the mapped parts done. */
TEST_F(local, hole_is_enomem_and_the_rest_is_volatile)
{
	char *hole = self->mem + NR_PAGES / 2 * page_size;

	ASSERT_EQ(munmap(hole, page_size), 0);
	EXPECT_EQ(set_volatile(self->mem, self->len), -ENOMEM);
	EXPECT_TRUE(vma_flag(self->mem, "vo"));
	EXPECT_TRUE(vma_flag(hole + page_size, "vo"));
	EXPECT_TRUE(vma_flag(self->mem + self->len - page_size, "vo"));
}

TEST_F(local, process_madvise_volatile_is_einval)
{
	struct iovec iov = { .iov_base = self->mem, .iov_len = self->len };
	int pidfd = sys_pidfd_open(getpid());

	ASSERT_GE(pidfd, 0);
	EXPECT_EQ(sys_process_madvise(pidfd, &iov, 1, MADV_VOLATILE), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_FALSE(vma_flag(self->mem, "vo"));
	close(pidfd);
}

TEST_F(local, process_madvise_nonvolatile_is_einval)
{
	struct iovec iov = { .iov_base = self->mem, .iov_len = self->len };
	int pidfd = sys_pidfd_open(getpid());

	ASSERT_GE(pidfd, 0);
	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	EXPECT_EQ(sys_process_madvise(pidfd, &iov, 1, MADV_NONVOLATILE), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_TRUE(vma_flag(self->mem, "vo"));
	close(pidfd);
}

TEST_F(local, data_stays_usable_while_volatile)
{
	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	EXPECT_EQ(count_state(self->mem, page_size, 0, NR_PAGES, 0, UNIT_DATA), NR_PAGES);
	fill(self->mem, 0, NR_PAGES, 1);
	EXPECT_EQ(count_state(self->mem, page_size, 0, NR_PAGES, 1, UNIT_DATA), NR_PAGES);
}

TEST_F(local, volatile_shows_vo)
{
	ASSERT_FALSE(vma_flag(self->mem, "vo"));
	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	EXPECT_TRUE(vma_flag(self->mem, "vo"));
}

TEST_F(local, nonvolatile_clears_vo)
{
	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	ASSERT_TRUE(vma_flag(self->mem, "vo"));
	EXPECT_EQ(set_nonvolatile(self->mem, self->len), 0);
	EXPECT_FALSE(vma_flag(self->mem, "vo"));
}

TEST_F(local, middle_page_splits_then_merges_back)
{
	char *mid = self->mem + page_size;

	ASSERT_EQ(vmas_in(self->mem, 3 * page_size), 1);
	ASSERT_EQ(set_volatile(mid, page_size), 0);
	EXPECT_EQ(vmas_in(self->mem, 3 * page_size), 3);
	EXPECT_FALSE(vma_flag(self->mem, "vo"));
	EXPECT_TRUE(vma_flag(mid, "vo"));
	EXPECT_FALSE(vma_flag(mid + page_size, "vo"));
	EXPECT_EQ(set_nonvolatile(mid, page_size), 0);
	EXPECT_EQ(vmas_in(self->mem, 3 * page_size), 1);
}

TEST_F(local, nonvolatile_unpurged_is_0_and_keeps_data)
{
	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	EXPECT_EQ(set_nonvolatile(self->mem, self->len), 0);
	EXPECT_EQ(count_state(self->mem, page_size, 0, NR_PAGES, 0, UNIT_DATA), NR_PAGES);
}

TEST_F(local, fork_child_inherits_volatile)
{
	pid_t pid;

	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(vma_flag(self->mem, "vo") ? 0 : 1);
	EXPECT_EQ(wait_child(pid), 0);
}

/*
 * VmVolatile in /proc/pid/status: the pages of volatile VMAs, which
 * reclaim counts on to know where to look for volatile memory.
 */
static long vm_volatile_kb(void)
{
	return status_kb(getpid(), "VmVolatile:");
}

TEST_F(local, vmvolatile_counts_a_volatile_range_once)
{
	long before = vm_volatile_kb();

	ASSERT_GE(before, 0) TH_LOG("no VmVolatile in /proc/self/status");
	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	EXPECT_EQ(vm_volatile_kb() - before, (long)(self->len >> 10));
	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	EXPECT_EQ(vm_volatile_kb() - before, (long)(self->len >> 10));
}

TEST_F(local, vmvolatile_drops_with_nonvolatile)
{
	long before = vm_volatile_kb();

	ASSERT_GE(before, 0) TH_LOG("no VmVolatile in /proc/self/status");
	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	ASSERT_EQ(set_nonvolatile(self->mem, self->len / 2), 0);
	EXPECT_EQ(vm_volatile_kb() - before, (long)(self->len / 2 >> 10));
	ASSERT_EQ(set_nonvolatile(self->mem, self->len), 0);
	EXPECT_EQ(vm_volatile_kb(), before);
}

TEST_F(local, vmvolatile_drops_with_munmap)
{
	long before = vm_volatile_kb();

	ASSERT_GE(before, 0) TH_LOG("no VmVolatile in /proc/self/status");
	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	ASSERT_EQ(munmap(self->mem + page_size, 4 * page_size), 0);
	EXPECT_EQ(vm_volatile_kb() - before,
		  (long)((self->len - 4 * page_size) >> 10));
}

/* mremap: a move keeps the count, growing in place adds to it. */
TEST_F(local, vmvolatile_follows_mremap)
{
	long before = vm_volatile_kb();
	char *r = reserve_aligned(4 * self->len, page_size), *q;

	ASSERT_GE(before, 0) TH_LOG("no VmVolatile in /proc/self/status");
	ASSERT_NE(r, NULL);
	ASSERT_EQ(mmap(r, self->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), r);
	/* Room to grow in place. */
	ASSERT_EQ(munmap(r + self->len, self->len), 0);
	ASSERT_EQ(set_volatile(r, self->len), 0);
	q = mremap(r, self->len, 2 * self->len, 0);
	ASSERT_EQ(q, r) TH_LOG("mremap in place: %s", strerror(errno));
	EXPECT_EQ(vm_volatile_kb() - before, (long)(2 * self->len >> 10));
	EXPECT_TRUE(vma_flag(r + self->len, "vo"));
	q = mremap(r, 2 * self->len, 2 * self->len,
		   MREMAP_MAYMOVE | MREMAP_FIXED, r + 2 * self->len);
	ASSERT_EQ(q, r + 2 * self->len);
	EXPECT_EQ(vm_volatile_kb() - before, (long)(2 * self->len >> 10));
	munmap(r, 4 * self->len);
	EXPECT_EQ(vm_volatile_kb(), before);
}

/* fork: the child counts what it copied, not MADV_DONTFORK ranges. */
TEST_F(local, vmvolatile_of_fork_child_skips_dontfork)
{
	long before = vm_volatile_kb();
	pid_t pid;

	ASSERT_GE(before, 0) TH_LOG("no VmVolatile in /proc/self/status");
	ASSERT_EQ(set_volatile(self->mem, self->len), 0);
	ASSERT_EQ(sys_madvise(self->mem, 4 * page_size, MADV_DONTFORK), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(vm_volatile_kb() - before ==
		      (long)((self->len - 4 * page_size) >> 10) ? 0 : 1);
	EXPECT_EQ(wait_child(pid), 0);
	EXPECT_EQ(vm_volatile_kb() - before, (long)(self->len >> 10));
}

/* A stack that grows would escape the count: not made volatile. */
TEST_F(local, growsdown_is_einval)
{
	char *g = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);

	ASSERT_NE(g, MAP_FAILED);
	EXPECT_EQ(set_volatile(g, self->len), -EINVAL);
	EXPECT_FALSE(vma_flag(g, "vo"));
	munmap(g, self->len);
}

/*
 * Reclaim with no swap and with zram swap: volatile memory is purged, and
 * only volatile memory.
 */
FIXTURE(reclaim)
{
	struct env env;
};

FIXTURE_VARIANT(reclaim)
{
	bool swap;
};

FIXTURE_VARIANT_ADD(reclaim, swapless) { .swap = false };
FIXTURE_VARIANT_ADD(reclaim, zram) { .swap = true };

FIXTURE_SETUP(reclaim)
{
	env_setup(_metadata, &self->env, variant->swap);
}

FIXTURE_TEARDOWN_PARENT(reclaim)
{
	env_teardown(&self->env);
}

TEST_F_TIMEOUT(reclaim, reclaim_purges_volatile_pages, 60)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_filled(NR_PAGES);

	ASSERT_NE(p, NULL);
	ASSERT_EQ(set_volatile(p, len), 0);
	EXPECT_TRUE(reclaim_until_gone(p, len));
	EXPECT_EQ(set_nonvolatile(p, len), 1);
	munmap(p, len);
}

TEST_F_TIMEOUT(reclaim, vmstat_pgpurged_counts_purged_pages, 60)
{
	long before = stat_key("/proc/vmstat", "pgpurged");
	char *p;

	ASSERT_GE(before, 0) TH_LOG("no pgpurged in /proc/vmstat");
	p = map_purged(NR_PAGES);
	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	EXPECT_GE(stat_key("/proc/vmstat", "pgpurged") - before, NR_PAGES);
	munmap(p, NR_PAGES * page_size);
}

TEST_F_TIMEOUT(reclaim, memcg_pgpurged_counts_purged_pages, 60)
{
	long before = cg_stat(self->env.cg, "pgpurged");
	char *p;

	ASSERT_GE(before, 0) TH_LOG("no pgpurged in memory.stat");
	p = map_purged(NR_PAGES);
	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	EXPECT_GE(cg_stat_wait(self->env.cg, "pgpurged", before + NR_PAGES) -
		  before, NR_PAGES);
	munmap(p, NR_PAGES * page_size);
}

TEST_F_TIMEOUT(reclaim, volatile_is_purged_not_swapped, 60)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_purged(NR_PAGES);

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	EXPECT_EQ(vma_kb(p, "Swap:"), 0);
	EXPECT_EQ(pagemap_count(p, len, PM_SWAP), 0);
	EXPECT_EQ(set_nonvolatile(p, len), 1);
	munmap(p, len);
}

/*
 * Non-volatile memory next to purged memory, charged to the same cgroup,
 * is never lost: without swap it stays, with swap it is swapped out and
 * comes back intact.
 */
TEST_F_TIMEOUT(reclaim, nonvolatile_memory_is_kept, 60)
{
	size_t len = NR_PAGES * page_size;
	char *v = map_filled(NR_PAGES);
	char *n = map_filled(NR_PAGES);

	ASSERT_NE(v, NULL);
	ASSERT_NE(n, NULL);
	ASSERT_EQ(set_volatile(v, len), 0);
	ASSERT_TRUE(reclaim_until_gone(v, len));
	if (variant->swap) {
		ASSERT_TRUE(reclaim_until_gone(n, len));
		EXPECT_EQ(pagemap_count(n, len, PM_SWAP), NR_PAGES);
	} else {
		EXPECT_EQ(pagemap_count(n, len, PM_PRESENT), NR_PAGES);
	}
	EXPECT_EQ(count_state(n, page_size, 0, NR_PAGES, 0, UNIT_DATA), NR_PAGES);
	EXPECT_EQ(set_nonvolatile(v, len), 1);
	munmap(v, len);
	munmap(n, len);
}

/*
 * memory.max smaller than volatile plus normal memory: the volatile pages
 * are purged to make room, nothing is OOM-killed.  A child does it, marked
 * as the OOM killer's first choice, so that an OOM shows as its SIGKILL.
 */
TEST_F_TIMEOUT(reclaim, memory_max_purges_instead_of_oom, 90)
{
	long before = cg_stat(self->env.cg, "pgpurged");
	size_t len = 16UL << 20;
	int status;
	pid_t pid;

	ASSERT_GE(before, 0) TH_LOG("no pgpurged in memory.stat");
	ASSERT_EQ(cg_write(self->env.cg, "memory.max", "24M"), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		char *v, *n;
		long ret;

		write_str("/proc/self/oom_score_adj", "1000");
		v = map_filled(len / page_size);
		if (!v || set_volatile(v, len))
			_exit(10);
		n = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (n == MAP_FAILED)
			_exit(11);
		memset(n, 1, len);
		ret = set_nonvolatile(v, len);
		_exit(ret == 1 ? 0 : ret == 0 ? 1 : 2);
	}
	status = wait_child(pid);
	EXPECT_EQ(status, 0) TH_LOG("%s", status == 128 + SIGKILL ?
				   "OOM-killed" : status == 1 ?
				   "no purge reported" : "child failed");
	EXPECT_GT(cg_stat_wait(self->env.cg, "pgpurged", before + 1), before);
}

/* A THP is purged whole: all its pages are gone and report the purge. */
TEST_F_TIMEOUT(reclaim, thp_is_purged_whole, 60)
{
	size_t pmd = read_pmd_pagesize();
	char *p;

	if (!pmd)
		SKIP(return, "no THP");
	p = reserve_aligned(pmd, pmd);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(mmap(p, pmd, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p);
	if (sys_madvise(p, pmd, MADV_HUGEPAGE))
		SKIP(return, "no MADV_HUGEPAGE");
	fill(p, 0, pmd / page_size, 0);
	if (vma_kb(p, "AnonHugePages:") < (long)(pmd >> 10))
		SKIP(return, "no THP allocated");
	ASSERT_EQ(set_volatile(p, pmd), 0);

	ASSERT_TRUE(reclaim_until_gone(p, pmd));
	EXPECT_TRUE(sigbus_at(p, false));
	EXPECT_TRUE(sigbus_at(p + pmd / 2 + 8, false));
	EXPECT_TRUE(sigbus_at(p + pmd - 1, true));
	EXPECT_EQ(set_nonvolatile(p, pmd), 1);
	EXPECT_EQ(count_state(p, page_size, 0, pmd / page_size, 0, UNIT_ZERO),
		  (long)(pmd / page_size));
	munmap(p, pmd);
}

/*
 * Purged pages, without swap: how they fault, how they are reported and
 * taken back, and what mapping operations do to them.
 */
FIXTURE(purged)
{
	struct env env;
};

FIXTURE_SETUP(purged)
{
	env_setup(_metadata, &self->env, false);
}

FIXTURE_TEARDOWN_PARENT(purged)
{
	env_teardown(&self->env);
}

/* An access at byte @off of purged pages raises SIGBUS at that address. */
static void sigbus_at_offset(struct __test_metadata *_metadata, size_t off,
			     bool write)
{
	char *p = map_purged(NR_PAGES);

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	ASSERT_EQ(touch(p + off, write), SIGBUS);
	EXPECT_EQ(bus.info.si_code, BUS_ADRERR);
	EXPECT_EQ((unsigned long)bus.info.si_addr, (unsigned long)(p + off));
}

TEST_F(purged, read_is_sigbus_at_the_address)
{
	sigbus_at_offset(_metadata, 3 * page_size + 123, false);
}

TEST_F(purged, write_is_sigbus_at_the_address)
{
	sigbus_at_offset(_metadata, 5 * page_size + 321, true);
}

TEST_F(purged, sigbus_repeats_until_nonvolatile)
{
	char *p = map_purged(NR_PAGES);

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	EXPECT_TRUE(sigbus_at(p, false));
	EXPECT_TRUE(sigbus_at(p, true));
	EXPECT_TRUE(sigbus_at(p, false));
	EXPECT_EQ(set_nonvolatile(p, page_size), 1);
	EXPECT_EQ(touch(p, true), 0);
}

/*
 * The use the feature is for: a cache that touches its pages optimistically
 * and rebuilds only the ones a SIGBUS says were purged.  Half of the pages
 * are rebuilt beforehand: exactly the other half must fault.
 */
TEST_F(purged, optimistic_regeneration)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_purged(NR_PAGES);
	int faults = 0;

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	for (int i = 0; i < NR_PAGES; i += 2) {
		char *page = p + i * page_size;

		ASSERT_EQ(set_nonvolatile(page, page_size), 1);
		unit_fill(page, page_size, i, 1);
		ASSERT_EQ(set_volatile(page, page_size), 0);
	}
	for (int i = 0; i < NR_PAGES; i++) {
		char *page = p + i * page_size;

		if (touch(page, false) == SIGBUS) {
			faults++;
			ASSERT_EQ(set_nonvolatile(page, page_size), 1);
			unit_fill(page, page_size, i, 1);
			ASSERT_EQ(set_volatile(page, page_size), 0);
		}
		EXPECT_EQ(unit_state(page, page_size, i, 1), UNIT_DATA)
			TH_LOG("page %d", i);
	}
	EXPECT_EQ(faults, NR_PAGES / 2);
	EXPECT_EQ(set_nonvolatile(p, len), 0);
	EXPECT_EQ(count_state(p, page_size, 0, NR_PAGES, 1, UNIT_DATA), NR_PAGES);
}

TEST_F(purged, write_syscall_from_purged_is_efault)
{
	char *p = map_purged(NR_PAGES);
	int fds[2];

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	ASSERT_EQ(pipe(fds), 0);
	EXPECT_EQ(write(fds[1], p, page_size), -1);
	EXPECT_EQ(errno, EFAULT);
	/* The failed access leaves the purge to be reported. */
	EXPECT_EQ(set_nonvolatile(p, page_size), 1);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(purged, read_syscall_into_purged_is_efault)
{
	char *p = map_purged(NR_PAGES);
	char *data = map_filled(1);
	int fds[2];

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	ASSERT_NE(data, NULL);
	ASSERT_EQ(pipe(fds), 0);
	ASSERT_EQ(write(fds[1], data, page_size), (ssize_t)page_size);
	EXPECT_EQ(read(fds[0], p, page_size), -1);
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(set_nonvolatile(p, page_size), 1);
	close(fds[0]);
	close(fds[1]);
}

/* NONVOLATILE reports the purges of its own range only. */
TEST_F(purged, report_is_exact_per_page)
{
	long k = NR_PAGES / 4;
	char *p = map_purged(NR_PAGES), *rest;

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	rest = p + k * page_size;
	ASSERT_EQ(set_nonvolatile(p, k * page_size), 1);
	fill(p, 0, k, 0);
	ASSERT_EQ(set_volatile(p, k * page_size), 0);

	EXPECT_EQ(set_nonvolatile(p, k * page_size), 0);
	EXPECT_EQ(count_state(p, page_size, 0, k, 0, UNIT_DATA), k);
	EXPECT_EQ(set_nonvolatile(rest, (NR_PAGES - k) * page_size), 1);
}

TEST_F(purged, purged_pages_read_zero_after_nonvolatile)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_purged(NR_PAGES);

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	ASSERT_EQ(set_nonvolatile(p, len), 1);
	EXPECT_FALSE(vma_flag(p, "vo"));
	for (int i = 0; i < NR_PAGES; i++) {
		ASSERT_EQ(touch(p + i * page_size, false), 0)
			TH_LOG("page %d", i);
	}
	EXPECT_EQ(count_state(p, page_size, 0, NR_PAGES, 0, UNIT_ZERO), NR_PAGES);
	/* And they are ordinary memory again. */
	fill(p, 0, NR_PAGES, 2);
	EXPECT_EQ(count_state(p, page_size, 0, NR_PAGES, 2, UNIT_DATA), NR_PAGES);
}

/* A failed NONVOLATILE must not lose a purge report: it changes nothing. */
TEST_F(purged, nonvolatile_hole_is_enomem_and_changes_nothing)
{
	long half = NR_PAGES / 2;
	size_t len = NR_PAGES * page_size;
	char *p = map_filled(NR_PAGES), *hole, *after;

	ASSERT_NE(p, NULL);
	hole = p + half * page_size;
	after = hole + page_size;
	ASSERT_EQ(munmap(hole, page_size), 0);
	ASSERT_EQ(set_volatile(p, half * page_size), 0);
	ASSERT_EQ(set_volatile(after, p + len - after), 0);
	ASSERT_TRUE(reclaim_until_gone(p, len));

	EXPECT_EQ(set_nonvolatile(p, len), -ENOMEM);
	EXPECT_TRUE(vma_flag(p, "vo"));
	EXPECT_TRUE(vma_flag(after, "vo"));
	EXPECT_TRUE(sigbus_at(p, false));
	EXPECT_TRUE(sigbus_at(after, false));
	EXPECT_EQ(set_nonvolatile(p, half * page_size), 1);
	EXPECT_EQ(set_nonvolatile(after, p + len - after), 1);
}

TEST_F(purged, fork_child_inherits_purged_pages)
{
	char *p = map_purged(NR_PAGES);
	pid_t pid;

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (!vma_flag(p, "vo"))
			_exit(1);
		if (!sigbus_at(p + page_size, false))
			_exit(2);
		_exit(set_nonvolatile(p, NR_PAGES * page_size) == 1 ? 0 : 3);
	}
	EXPECT_EQ(wait_child(pid), 0);
}

TEST_F(purged, child_nonvolatile_leaves_parent_purged)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_purged(NR_PAGES);
	pid_t pid;

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(set_nonvolatile(p, len) == 1 ? 0 : 1);
	ASSERT_EQ(wait_child(pid), 0);
	EXPECT_TRUE(vma_flag(p, "vo"));
	EXPECT_TRUE(sigbus_at(p, false));
	EXPECT_EQ(set_nonvolatile(p, len), 1);
}

TEST_F(purged, mremap_moves_purged_pages)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_purged(NR_PAGES);
	char *q = reserve_aligned(len, page_size);

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	ASSERT_NE(q, NULL);
	ASSERT_EQ(mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, q), q);
	EXPECT_TRUE(vma_flag(q, "vo"));
	EXPECT_TRUE(sigbus_at(q + page_size, false));
	EXPECT_EQ(set_nonvolatile(q, len), 1);
	munmap(q, len);
}

/*
 * After a fork and a write in the parent, the original folios are mapped by
 * the child only, while the rmap walk of each also visits the parent's VMA,
 * which maps its copy.  Reclaim in the child's cgroup purges them all.
 */
TEST_F(purged, folio_mapped_by_fork_child_only_is_purged)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_filled(NR_PAGES);
	int go[2];
	pid_t pid;
	char c;

	ASSERT_NE(p, NULL);
	ASSERT_EQ(sys_madvise(p, len, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(set_volatile(p, len), 0);
	ASSERT_EQ(pipe(go), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		if (!reclaim_until_gone(p, len))
			_exit(2);
		_exit(set_nonvolatile(p, len) == 1 ? 0 : 3);
	}
	close(go[0]);
	/* The parent gets copies; the originals stay with the child. */
	fill(p, 0, NR_PAGES, 1);
	ASSERT_EQ(write(go[1], "x", 1), 1);
	close(go[1]);
	EXPECT_EQ(wait_child(pid), 0) TH_LOG("the child's pages were not purged");
	munmap(p, len);
}

/*
 * mremap(MREMAP_DONTUNMAP) leaves the old VMA in place, empty, in the rmap
 * of the moved folios: reclaim still purges them from the new one.
 */
TEST_F(purged, folios_moved_by_mremap_dontunmap_are_purged)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_filled(NR_PAGES);
	char *q = reserve_aligned(len, page_size);

	ASSERT_NE(p, NULL);
	ASSERT_NE(q, NULL);
	ASSERT_EQ(sys_madvise(p, len, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(set_volatile(p, len), 0);
	ASSERT_EQ(mremap(p, len, len,
			 MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, q),
		  q);
	EXPECT_TRUE(reclaim_until_gone(q, len));
	EXPECT_EQ(set_nonvolatile(q, len), 1);
	EXPECT_EQ(set_nonvolatile(p, len), 0);
	munmap(p, len);
	munmap(q, len);
}

TEST_F(purged, mprotect_keeps_purged_pages)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_purged(NR_PAGES);

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	ASSERT_EQ(mprotect(p, len, PROT_READ), 0);
	EXPECT_TRUE(sigbus_at(p, false));
	ASSERT_EQ(mprotect(p, len, PROT_READ | PROT_WRITE), 0);
	EXPECT_TRUE(vma_flag(p, "vo"));
	EXPECT_EQ(set_nonvolatile(p, len), 1);
}

TEST_F(purged, munmap_drops_purged_pages)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_purged(NR_PAGES);

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	ASSERT_EQ(munmap(p, len), 0);
	ASSERT_EQ(mmap(p, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p);
	EXPECT_FALSE(vma_flag(p, "vo"));
	EXPECT_EQ(touch(p, false), 0);
	EXPECT_EQ(count_state(p, page_size, 0, NR_PAGES, 0, UNIT_ZERO), NR_PAGES);
	EXPECT_EQ(set_nonvolatile(p, len), 0);
}

/* DONTNEED and FREE empty the range: no purge left to report. */
static void drops_purged_pages(struct __test_metadata *_metadata, int advice)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_purged(NR_PAGES);

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	ASSERT_EQ(sys_madvise(p, len, advice), 0);
	EXPECT_TRUE(vma_flag(p, "vo"));
	for (int i = 0; i < NR_PAGES; i++) {
		ASSERT_EQ(touch(p + i * page_size, false), 0)
			TH_LOG("page %d", i);
	}
	EXPECT_EQ(count_state(p, page_size, 0, NR_PAGES, 0, UNIT_ZERO), NR_PAGES);
	EXPECT_EQ(set_nonvolatile(p, len), 0);
}

TEST_F(purged, dontneed_drops_purged_pages)
{
	drops_purged_pages(_metadata, MADV_DONTNEED);
}

TEST_F(purged, free_drops_purged_pages)
{
	drops_purged_pages(_metadata, MADV_FREE);
}

/* mlock() on a volatile VMA succeeds and does nothing, as on droppable. */
TEST_F(purged, mlock_on_volatile_is_ignored)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_filled(NR_PAGES);

	ASSERT_NE(p, NULL);
	ASSERT_EQ(set_volatile(p, len), 0);
	EXPECT_EQ(sys_mlock(p, len), 0);
	EXPECT_FALSE(vma_flag(p, "lo"));
	EXPECT_TRUE(vma_flag(p, "vo"));
	EXPECT_TRUE(reclaim_until_gone(p, len));
	EXPECT_EQ(set_nonvolatile(p, len), 1);
}

/*
 * What pagemap and PAGEMAP_SCAN show of purged pages, which a checkpoint
 * tool dumps by, and which is the per-page report of MADV_NONVOLATILE.
 */

/* The pagemap entries of the @n pages at @p, in @ent; 0 or -1. */
static int pagemap_read(char *p, long n, uint64_t *ent)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	ssize_t want = n * sizeof(*ent);
	ssize_t got;

	if (fd < 0)
		return -1;
	got = pread(fd, ent, want, (uintptr_t)p / page_size * sizeof(*ent));
	close(fd);
	return got == want ? 0 : -1;
}

TEST_F(purged, pagemap_shows_purged_pages)
{
	uint64_t ent[NR_PAGES];
	char *p = map_purged(NR_PAGES), *q = map_filled(1);

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	ASSERT_NE(q, NULL);
	ASSERT_EQ(pagemap_read(p, NR_PAGES, ent), 0);
	for (int i = 0; i < NR_PAGES; i++) {
		EXPECT_TRUE(ent[i] & PM_PURGED) TH_LOG("page %d", i);
		EXPECT_FALSE(ent[i] & (PM_PRESENT | PM_SWAP)) TH_LOG("page %d", i);
	}
	ASSERT_EQ(pagemap_read(q, 1, ent), 0);
	EXPECT_FALSE(ent[0] & PM_PURGED);
}

/*
 * A dump by PAGEMAP_SCAN of a range where every third page was volatile
 * and purged: PAGE_IS_PURGED names exactly those, PAGE_IS_PRESENT exactly
 * the others, so that a restore can tell data, purged pages and holes.
 */
TEST_F(purged, pagemap_scan_dump_tells_purged_pages)
{
	size_t len = NR_PAGES * page_size;
	char purged[NR_PAGES], present[NR_PAGES];
	char *p = map_filled(NR_PAGES);
	long volatile_pages = 0;

	ASSERT_NE(p, NULL);
	for (int i = 0; i < NR_PAGES; i += 3) {
		ASSERT_EQ(set_volatile(p + i * page_size, page_size), 0);
		volatile_pages++;
	}
	ASSERT_EQ(reclaim_until(NULL, p, len, NR_PAGES - volatile_pages, INT_MAX),
		  NR_PAGES - volatile_pages);
	EXPECT_EQ(scan_pages(p, NR_PAGES, PAGE_IS_PURGED, 0, purged),
		  volatile_pages);
	EXPECT_EQ(scan_pages(p, NR_PAGES, PAGE_IS_PRESENT, 0, present),
		  NR_PAGES - volatile_pages);
	for (int i = 0; i < NR_PAGES; i++) {
		EXPECT_EQ(purged[i], i % 3 == 0) TH_LOG("page %d", i);
		EXPECT_EQ(present[i], i % 3 != 0) TH_LOG("page %d", i);
	}
}

/*
 * The per-page report: after MADV_NONVOLATILE, nothing more can be purged
 * in the range, and PAGEMAP_SCAN lists exactly the pages lost, until they
 * are touched again.
 */
TEST_F(purged, nonvolatile_then_pagemap_scan_names_the_lost_pages)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_purged(NR_PAGES);
	char hit[NR_PAGES];
	int wrong = 0;

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	/* Half of them regenerated while still volatile. */
	for (int i = 0; i < NR_PAGES; i += 2) {
		ASSERT_EQ(set_nonvolatile(p + i * page_size, page_size), 1);
		unit_fill(p + i * page_size, page_size, i, 1);
	}
	ASSERT_EQ(set_nonvolatile(p, len), 1);
	EXPECT_EQ(scan_pages(p, NR_PAGES, PAGE_IS_PURGED, 0, hit),
		  NR_PAGES / 2);
	/* Exactly the odd pages, the ones not regenerated. */
	for (int i = 0; i < NR_PAGES; i++)
		wrong += hit[i] != i % 2;
	EXPECT_EQ(wrong, 0);
	/* Reported: they fault in empty now, and are purged no more. */
	EXPECT_EQ(count_state(p, page_size, 1, 1, 0, UNIT_ZERO), 1);
	EXPECT_FALSE(sigbus_at(p + 3 * page_size, true));
	EXPECT_EQ(scan_pages(p, NR_PAGES, PAGE_IS_PURGED, 0, hit),
		  NR_PAGES / 2 - 2);
}

/* A reported purge in a range made volatile again raises SIGBUS again. */
TEST_F(purged, reported_purge_in_volatile_range_is_sigbus)
{
	char *p = map_purged(NR_PAGES);

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	ASSERT_EQ(set_nonvolatile(p, page_size), 1);
	ASSERT_EQ(set_volatile(p, page_size), 0);
	EXPECT_TRUE(sigbus_at(p, false));
	EXPECT_EQ(set_nonvolatile(p, page_size), 1);
}

/*
 * soft-dirty survives the purge: a page written since clear_refs shows
 * soft-dirty, purged or not, one not written does not; fork keeps both.
 */
TEST_F(purged, purge_keeps_soft_dirty)
{
	size_t len = NR_PAGES * page_size;
	uint64_t ent[NR_PAGES];
	char *p = map_filled(NR_PAGES);
	pid_t pid;

	if (!softdirty_supported())
		SKIP(return, "no soft-dirty tracking");
	ASSERT_NE(p, NULL);
	ASSERT_EQ(set_volatile(p, len), 0);
	clear_softdirty();
	fill(p, 0, NR_PAGES / 2, 1);
	ASSERT_TRUE(reclaim_until_gone(p, len));
	ASSERT_EQ(pagemap_read(p, NR_PAGES, ent), 0);
	for (int i = 0; i < NR_PAGES; i++) {
		EXPECT_EQ(!!(ent[i] & PM_SOFT_DIRTY), i < NR_PAGES / 2)
			TH_LOG("page %d", i);
	}
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (pagemap_read(p, NR_PAGES, ent))
			_exit(2);
		for (int i = 0; i < NR_PAGES; i++)
			if (!(ent[i] & PM_PURGED) ||
			    !!(ent[i] & PM_SOFT_DIRTY) != (i < NR_PAGES / 2))
				_exit(1);
		_exit(0);
	}
	EXPECT_EQ(wait_child(pid), 0);
}

/*
 * PAGEMAP_SCAN's write-protect path (uffd-wp async) leaves purged markers
 * as they are: the purge stays to be reported, with no wp bit on it.  The
 * range is registered after the purge, as reclaim does not purge uffd-wp
 * ranges.
 */
TEST_F(purged, pagemap_scan_wp_leaves_purged_markers)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC |
			    UFFD_FEATURE_WP_UNPOPULATED,
	};
	size_t len = NR_PAGES * page_size;
	char *p = map_purged(NR_PAGES);
	uint64_t ent[NR_PAGES];
	char hit[NR_PAGES];
	int uffd;

	ASSERT_NE(p, NULL) TH_LOG("volatile pages not purged");
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	if (ioctl(uffd, UFFDIO_API, &api))
		SKIP(return, "no UFFD_FEATURE_WP_ASYNC");
	ASSERT_EQ(uffd_register(uffd, p, len, false, true, false), 0);
	EXPECT_EQ(scan_pages(p, NR_PAGES, PAGE_IS_WRITTEN,
			     PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, hit),
		  NR_PAGES);
	ASSERT_EQ(pagemap_read(p, NR_PAGES, ent), 0);
	for (int i = 0; i < NR_PAGES; i++) {
		EXPECT_TRUE(ent[i] & PM_PURGED) TH_LOG("page %d", i);
		EXPECT_FALSE(ent[i] & PM_UFFD_WP) TH_LOG("page %d", i);
	}
	EXPECT_EQ(set_nonvolatile(p, len), 1);
	close(uffd);
}

/*
 * mseal: sealed read-only volatile memory keeps its contents, as mseal
 * refuses the advice that would discard them; sealed writable memory is
 * purged like any, as MADV_DONTNEED may discard it too.  The same range
 * unsealed is purged, so the first was reclaimable otherwise.
 */
static char *map_volatile_sealed(long n, bool writable)
{
	char *p = map_filled(n);

	if (!p || set_volatile(p, n * page_size))
		return NULL;
	if (!writable && mprotect(p, n * page_size, PROT_READ))
		return NULL;
	if (syscall(__NR_mseal, p, n * page_size, 0))
		return NULL;
	return p;
}

TEST_F(purged, sealed_read_only_volatile_is_not_purged)
{
	size_t len = NR_PAGES * page_size;
	char *ro = map_volatile_sealed(NR_PAGES, false);
	char *control = map_filled(NR_PAGES);

	if (!ro && errno == ENOSYS)
		SKIP(return, "no mseal");
	ASSERT_NE(ro, NULL) TH_LOG("%s", strerror(errno));
	ASSERT_NE(control, NULL);
	ASSERT_EQ(set_volatile(control, len), 0);
	ASSERT_EQ(mprotect(control, len, PROT_READ), 0);
	EXPECT_TRUE(reclaim_until_gone(control, len));
	/* Reclaim on: the sealed pages could have gone with the others. */
	EXPECT_EQ(pagemap_count(ro, len, PM_PRESENT), NR_PAGES);
	EXPECT_EQ(count_state(ro, page_size, 0, NR_PAGES, 0, UNIT_DATA), NR_PAGES);
	EXPECT_EQ(set_nonvolatile(ro, len), 0);
}

TEST_F(purged, sealed_writable_volatile_is_purged)
{
	size_t len = NR_PAGES * page_size;
	char *rw = map_volatile_sealed(NR_PAGES, true);

	if (!rw && errno == ENOSYS)
		SKIP(return, "no mseal");
	ASSERT_NE(rw, NULL) TH_LOG("%s", strerror(errno));
	EXPECT_TRUE(reclaim_until_gone(rw, len));
	EXPECT_EQ(set_nonvolatile(rw, len), 1);
}

/*
 * KSM: a merged page is shared by content, and purging it would take the
 * data of processes that never made it volatile.  KSM does not merge
 * volatile memory, and MADV_VOLATILE unmerges what it had merged, so a
 * volatile range never holds a KSM page.  In each test, identical pages
 * that are not volatile are merged, which shows that KSM ran.
 */
/* Run ksmd for two full scans, saving its state for the teardown. */
static int ksm_two_scans(struct env *env)
{
	long start = read_long("/sys/kernel/mm/ksm/full_scans");
	double end = now() + 60;
	int fd;

	if (start < 0)
		return -ENODEV;
	fd = open("/sys/kernel/mm/ksm/run", O_RDONLY);
	if (fd < 0)
		return -ENODEV;
	if (read(fd, env->ksm_run, sizeof(env->ksm_run) - 1) <= 0)
		snprintf(env->ksm_run, sizeof(env->ksm_run), "0");
	close(fd);
	env->ksm_run[strcspn(env->ksm_run, "\n")] = '\0';
	write_str("/sys/kernel/mm/ksm/sleep_millisecs", "0");
	if (write_str("/sys/kernel/mm/ksm/run", "1"))
		return -EPERM;
	while (read_long("/sys/kernel/mm/ksm/full_scans") < start + 2)
		if (now() > end)
			return -ETIMEDOUT;
	return 0;
}

/*
 * How many of the @n pages at @p share their frame with another of them
 * (pagemap PFNs, readable by root): merged by KSM.  -1 on error.
 */
static long shared_frames(char *p, long n)
{
	uint64_t *ent = calloc(n, sizeof(*ent));
	long shared = 0;

	if (!ent || pagemap_read(p, n, ent)) {
		free(ent);
		return -1;
	}
	for (long i = 0; i < n; i++)
		for (long j = 0; j < n; j++)
			if (i != j && (ent[i] & PM_PRESENT) &&
			    (ent[i] & PM_PFRAME_MASK) ==
			    (ent[j] & PM_PFRAME_MASK)) {
				shared++;
				break;
			}
	free(ent);
	return shared;
}

/* @n identical pages (byte @c), advised MADV_MERGEABLE; NULL on failure. */
static char *map_mergeable(long n, char c)
{
	char *p = mmap(NULL, n * page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	sys_madvise(p, n * page_size, MADV_NOHUGEPAGE);
	memset(p, c, n * page_size);
	if (sys_madvise(p, n * page_size, MADV_MERGEABLE))
		return NULL;
	return p;
}

TEST_F_TIMEOUT(purged, ksm_merges_no_volatile_page, 120)
{
	size_t len = NR_PAGES * page_size;
	char *control = map_mergeable(NR_PAGES, 'k');
	char *v;
	int ret;

	if (!control && errno == EINVAL)
		SKIP(return, "no KSM");
	ASSERT_NE(control, NULL);
	v = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(v, MAP_FAILED);
	sys_madvise(v, len, MADV_NOHUGEPAGE);
	memset(v, 'v', len);
	ASSERT_EQ(set_volatile(v, len), 0);
	/* Accepted and ignored, as for MAP_DROPPABLE memory. */
	ASSERT_EQ(sys_madvise(v, len, MADV_MERGEABLE), 0);
	ret = ksm_two_scans(&self->env);
	if (ret == -ENODEV)
		SKIP(return, "no ksmd");
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(read_long("/proc/self/ksm_merging_pages"), NR_PAGES)
		TH_LOG("only the %d control pages may be merged", NR_PAGES);
	EXPECT_EQ(shared_frames(control, NR_PAGES), NR_PAGES);
	EXPECT_EQ(shared_frames(v, NR_PAGES), 0);
	EXPECT_TRUE(reclaim_until_gone(v, len));
	EXPECT_EQ(set_nonvolatile(v, len), 1);
}

TEST_F_TIMEOUT(purged, volatile_unmerges_ksm_pages, 120)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_mergeable(NR_PAGES, 'm');
	int ret;

	if (!p && errno == EINVAL)
		SKIP(return, "no KSM");
	ASSERT_NE(p, NULL);
	ret = ksm_two_scans(&self->env);
	if (ret == -ENODEV)
		SKIP(return, "no ksmd");
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(shared_frames(p, NR_PAGES), NR_PAGES);
	ASSERT_EQ(set_volatile(p, len), 0);
	/* Unmerged at once (the ksm_merging_pages count follows later). */
	EXPECT_EQ(shared_frames(p, NR_PAGES), 0);
	EXPECT_FALSE(vma_flag(p, "mg"));
	EXPECT_TRUE(reclaim_until_gone(p, len));
	EXPECT_EQ(set_nonvolatile(p, len), 1);
}

/*
 * Memory pressure without swap: volatile memory in use is purged before any
 * OOM kill, memcg or global, and file reclaim goes on meanwhile; a purge
 * takes a folio from all its mappings or from none, and never takes one
 * that someone holds a reference to.
 */
FIXTURE(pressure)
{
	struct env env;
};

FIXTURE_SETUP(pressure)
{
	env_setup(_metadata, &self->env, false);
}

FIXTURE_TEARDOWN_PARENT(pressure)
{
	env_teardown(&self->env);
}

/* Read the first word of @page into *@val: 0, or SIGBUS if it raised one. */
static int peek(const char *page, uint64_t *val)
{
	if (sigsetjmp(bus.jmp, 1))
		return SIGBUS;
	bus_arm(true);
	*val = __atomic_load_n((const uint64_t *)page, __ATOMIC_RELAXED);
	bus_arm(false);
	return 0;
}

/*
 * A hot cache: HOT_THREADS threads read every page of @n volatile pages
 * over and over, each its own share.  A page that raises SIGBUS is handled
 * the way a cache drops an entry: MADV_NONVOLATILE reports it (1), the
 * range is made volatile again so that it merges back, and the page is not
 * touched again.  Regenerating it instead would refill what reclaim just
 * purged, and an allocation that needs the room could wait forever.
 */
#define HOT_THREADS	2

struct hot {
	char *p;
	long n;
	bool stop;
	unsigned long lost;
	unsigned long bad;		/* pages that held neither data nor SIGBUS */
	unsigned char *gone;		/* per page: dropped after a SIGBUS */
	pthread_t thread[HOT_THREADS];
	int id[HOT_THREADS];
	int started;
};

static struct hot hot;

static void *hot_thread(void *arg)
{
	int t = *(int *)arg;
	uint64_t v;

	while (!__atomic_load_n(&hot.stop, __ATOMIC_RELAXED))
		for (long i = t; i < hot.n; i += HOT_THREADS) {
			char *page = hot.p + i * page_size;

			if (hot.gone[i])
				continue;
			if (peek(page, &v) != SIGBUS) {
				if (v != pattern(i, 0))
					__atomic_add_fetch(&hot.bad, 1,
							   __ATOMIC_RELAXED);
				continue;
			}
			if (set_nonvolatile(page, page_size) != 1 ||
			    set_volatile(page, page_size))
				__atomic_add_fetch(&hot.bad, 1, __ATOMIC_RELAXED);
			hot.gone[i] = 1;
			__atomic_add_fetch(&hot.lost, 1, __ATOMIC_RELAXED);
		}
	return NULL;
}

/*
 * Pages of the pressure tests carry their pattern in their first word only:
 * writing whole pages would make the tests that fill most of memory slow
 * on an emulated machine, for nothing they check.
 */
static void mark(char *p, long n, unsigned int gen)
{
	for (long i = 0; i < n; i++)
		*(uint64_t *)(p + i * page_size) = pattern(i, gen);
}

static long count_marked(char *p, long n, unsigned int gen)
{
	long count = 0;

	for (long i = 0; i < n; i++)
		count += *(uint64_t *)(p + i * page_size) == pattern(i, gen);
	return count;
}

/* @n volatile pages, marked, with threads keeping them hot; 0 or -1. */
static int hot_start(long n)
{
	hot.n = n;
	hot.p = mmap(NULL, n * page_size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	hot.gone = calloc(n, 1);
	if (hot.p == MAP_FAILED || !hot.gone)
		return -1;
	/* Base pages, so that a purge takes one page, not 512 at once. */
	sys_madvise(hot.p, n * page_size, MADV_NOHUGEPAGE);
	mark(hot.p, n, 0);
	if (set_volatile(hot.p, n * page_size))
		return -1;
	for (hot.started = 0; hot.started < HOT_THREADS; hot.started++) {
		hot.id[hot.started] = hot.started;
		if (pthread_create(&hot.thread[hot.started], NULL, hot_thread,
				   &hot.id[hot.started]))
			return -1;
	}
	/* Every page read once more: all of them recently used. */
	usleep(200000);
	return 0;
}

/* Stop the threads: the number of bad pages they saw. */
static unsigned long hot_stop(void)
{
	__atomic_store_n(&hot.stop, true, __ATOMIC_RELAXED);
	for (int t = 0; t < hot.started; t++)
		pthread_join(hot.thread[t], NULL);
	return hot.bad;
}

/* Map @n pages, write pattern (i, @gen) to each: NULL on failure. */
static char *map_gen(long n, unsigned int gen)
{
	char *p = mmap(NULL, n * page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	fill(p, 0, n, gen);
	return p;
}

/*
 * In the child of a pressure test, after hot_start(): @pages of normal
 * memory that fit only if the cache is purged, checked, and the cache
 * threads stopped.  0, or what failed.
 */
static int normal_memory(long pages)
{
	char *n = mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (n == MAP_FAILED)
		return 11;
	mark(n, pages, 1);
	if (hot_stop())
		return 12;
	return count_marked(n, pages, 1) == pages ? 0 : 13;
}

/* Make the caller the OOM killer's first choice: an OOM kills it. */
static void oom_first(void)
{
	write_str("/proc/self/oom_score_adj", "1000");
}

static const char *child_failure(int status)
{
	switch (status) {
	case 128 + SIGKILL:
		return "killed: OOM?";
	case 12:
		return "a volatile page read neither its data nor SIGBUS";
	case 13:
		return "normal memory lost";
	default:
		return "setup failed";
	}
}

/*
 * memory.max holds the normal memory plus only part of the cache, which
 * threads keep reading: reclaim finds nothing cold, and must purge pages
 * in use rather than OOM-kill.
 */
TEST_F_TIMEOUT(pressure, memcg_purges_hot_volatile_instead_of_oom, 120)
{
	long purged = cg_stat(self->env.cg, "pgpurged");
	long ooms = cg_event(self->env.cg, "oom_kill");
	long hot_pages = (8L << 20) / page_size;
	int status;
	pid_t pid;

	ASSERT_GE(purged, 0) TH_LOG("no pgpurged in memory.stat");
	ASSERT_GE(ooms, 0) TH_LOG("no oom_kill in memory.events");
	ASSERT_EQ(cg_write(self->env.cg, "memory.max", "16M"), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		oom_first();
		_exit(hot_start(hot_pages) ? 10 :
		      normal_memory((12L << 20) / page_size));
	}
	status = wait_child(pid);
	EXPECT_EQ(status, 0) TH_LOG("%s", child_failure(status));
	EXPECT_EQ(cg_event(self->env.cg, "oom_kill"), ooms);
	EXPECT_GT(cg_stat_wait(self->env.cg, "pgpurged", purged + 1), purged);
}

/* The MemAvailable of /proc/meminfo, in pages; -1 if not found. */
static long mem_available(void)
{
	long kb = stat_key("/proc/meminfo", "MemAvailable:");

	return kb < 0 ? -1 : kb * 1024 / page_size;
}

/*
 * The same for the whole system: volatile memory in use fills half of
 * what is available, then an allocation needs more than is left.  Without
 * swap, only purging volatile memory can satisfy it; an OOM kill would be
 * counted in /proc/vmstat.
 */
TEST_F_TIMEOUT(pressure, global_allocation_purges_hot_volatile, 240)
{
	long purged = stat_key("/proc/vmstat", "pgpurged");
	long ooms = stat_key("/proc/vmstat", "oom_kill");
	long avail = mem_available();
	int status;
	pid_t pid;

	ASSERT_GE(purged, 0) TH_LOG("no pgpurged in /proc/vmstat");
	ASSERT_GE(ooms, 0);
	ASSERT_GT(avail, 0);
	if (swap_on())
		SKIP(return, "swap is on: the test needs a swapless system");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		oom_first();
		if (hot_start(avail / 2))
			_exit(10);
		/* A quarter of the cache must go for this to fit. */
		_exit(normal_memory(mem_available() + avail / 8));
	}
	status = wait_child(pid);
	EXPECT_EQ(status, 0) TH_LOG("%s", child_failure(status));
	EXPECT_EQ(stat_key("/proc/vmstat", "oom_kill"), ooms);
	EXPECT_GT(stat_key("/proc/vmstat", "pgpurged"), purged);
}

/*
 * File reclaim goes on while anon is scanned for volatile folios: reading
 * a block device through the page cache (a zram device, no file system
 * needed) four times its size through a memcg that holds a fraction of it,
 * next to a hot volatile cache and normal memory, neither stalls nor
 * OOM-kills; then normal memory that needs the cache's room gets it.
 * pgsteal less pgpurged is what was reclaimed from the page cache.
 */
TEST_F_TIMEOUT(pressure, file_reclaim_goes_on_next_to_volatile, 180)
{
	long purged = cg_stat(self->env.cg, "pgpurged");
	long stolen = cg_stat(self->env.cg, "pgsteal");
	long ooms = cg_event(self->env.cg, "oom_kill");
	long file_pages = ZRAM_SIZE / page_size;
	int status, ret;
	pid_t pid;

	ASSERT_GE(purged, 0) TH_LOG("no pgpurged in memory.stat");
	ret = zram_make(&self->env);
	if (ret == -ENODEV)
		SKIP(return, "no zram device");
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(cg_write(self->env.cg, "memory.max", "32M"), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		size_t chunk = 1UL << 20;
		char *buf = malloc(chunk), *n;
		int fd = open(self->env.zdev, O_RDONLY);

		oom_first();
		if (fd < 0 || !buf || hot_start((12L << 20) / page_size))
			_exit(10);
		n = map_gen((8L << 20) / page_size, 1);
		if (!n)
			_exit(11);
		for (int pass = 0; pass < 4; pass++)
			for (size_t off = 0; off < ZRAM_SIZE; off += chunk)
				if (pread(fd, buf, chunk, off) != (ssize_t)chunk)
					_exit(14);
		if (count_state(n, page_size, 0, (8L << 20) / page_size, 1, UNIT_DATA) !=
		    (8L << 20) / page_size)
			_exit(13);
		_exit(normal_memory((16L << 20) / page_size));
	}
	status = wait_child(pid);
	EXPECT_EQ(status, 0) TH_LOG("%s", status == 14 ? "read failed" :
				   child_failure(status));
	EXPECT_EQ(cg_event(self->env.cg, "oom_kill"), ooms);
	purged = cg_stat_wait(self->env.cg, "pgpurged", purged + 1) - purged;
	EXPECT_GT(purged, 0);
	/* At most 32M of the 4 x ZRAM_SIZE read can stay cached. */
	EXPECT_GE(cg_stat(self->env.cg, "pgsteal") - stolen - purged,
		  4 * file_pages - (32L << 20) / page_size);
}

/*
 * fork shares folios between a parent whose range stays volatile and a
 * child that turns its range non-volatile and back, over and over, while
 * reclaim runs, until it purged some.  A shared folio may be purged only
 * while both mappings are volatile, and then from both: every page
 * pagemap shows purged on the parent's side at the end, the child found
 * purged too (and the other way round), and every other page holds its
 * data on both sides.
 */
#define COW_PAGES	256

TEST_F_TIMEOUT(pressure, fork_shared_folio_is_purged_from_both_or_neither, 120)
{
	size_t len = COW_PAGES * page_size;
	long mismatches = 0, lost = 0, purged = 0, ret, purged_at_start;
	uint64_t ent[COW_PAGES];
	struct cow {
		bool stop;
		long unreported;	/* zero page, call returned @ret */
		long other;		/* neither data nor zero */
		long ret;
		int err;		/* MADV_VOLATILE failed */
		char purged[COW_PAGES];
	} *c;
	char cg_reclaim[300];
	double end;
	char *p;
	pid_t pid;
	int fd;

	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(c, MAP_FAILED);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	sys_madvise(p, len, MADV_NOHUGEPAGE);
	fill(p, 0, COW_PAGES, 0);
	ASSERT_EQ(set_volatile(p, len), 0);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		/* Reads only: the folios stay shared with the parent. */
		bool last = false;

		while (!last) {
			long ret;

			last = __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE);
			ret = set_nonvolatile(p, len);
			for (int i = 0; i < COW_PAGES; i++) {
				if (c->purged[i])
					continue;
				switch (unit_state(p + i * page_size, page_size, i, 0)) {
				case UNIT_DATA:
					break;
				case UNIT_ZERO:
					c->purged[i] = 1;
					if (ret != 1) {
						c->unreported++;
						c->ret = ret;
					}
					break;
				default:
					c->other++;
				}
			}
			if (!last) {
				int err = set_volatile(p, len);

				if (err)
					c->err = err;
			}
		}
		_exit(0);
	}

	snprintf(cg_reclaim, sizeof(cg_reclaim), "%s/memory.reclaim",
		 self->env.cg);
	fd = open(cg_reclaim, O_WRONLY);
	ASSERT_GE(fd, 0);
	/* Until reclaim purged some, whatever the machine's speed. */
	purged_at_start = cg_stat(self->env.cg, "pgpurged");
	end = now() + 60;
	while (now() < end &&
	       cg_stat(self->env.cg, "pgpurged") - purged_at_start < 32)
		if (write(fd, "1M", 2) < 0 && errno != EAGAIN)
			break;
	close(fd);

	/*
	 * Nothing is purged once the parent's range is not volatile: each
	 * folio is then mapped by a mapping that is not.  The parent's
	 * markers stay, reported, for pagemap to show.  The child's last
	 * round then sees every purge there was.
	 */
	ret = set_nonvolatile(p, len);
	ASSERT_GE(ret, 0);
	__atomic_store_n(&c->stop, true, __ATOMIC_RELEASE);
	ASSERT_EQ(wait_child(pid), 0);
	EXPECT_EQ(c->unreported, 0)
		TH_LOG("the child read zeroes %ld times after MADV_NONVOLATILE returned %ld",
		       c->unreported, c->ret);
	EXPECT_EQ(c->other, 0) TH_LOG("the child read a page neither intact nor zero");
	EXPECT_EQ(c->err, 0) TH_LOG("the child's MADV_VOLATILE failed: %s",
				    strerror(-c->err));

	ASSERT_EQ(pagemap_read(p, COW_PAGES, ent), 0);
	for (int i = 0; i < COW_PAGES; i++) {
		bool gone = ent[i] & PM_PURGED;

		purged += gone;
		mismatches += gone != c->purged[i];
		lost += unit_state(p + i * page_size, page_size, i, 0) !=
			(gone ? UNIT_ZERO : UNIT_DATA);
	}
	TH_LOG("%ld of %d shared pages purged", purged, COW_PAGES);
	EXPECT_EQ(mismatches, 0) TH_LOG("a purge took a folio from one side only");
	EXPECT_EQ(lost, 0) TH_LOG("the parent lost data without a report");
	EXPECT_EQ(ret, purged > 0) TH_LOG("MADV_NONVOLATILE's report is wrong");
	EXPECT_GT(purged, 0) TH_LOG("reclaim purged nothing: no test");
	munmap(p, len);
	munmap(c, sizeof(*c));
}

/*
 * Pages someone holds a reference to are never purged: the data would
 * go while the holder still reads (or, pinned, writes) the page, and the
 * memory would not even be freed.  Pages 4 to 7 of a volatile range are
 * held by @hold; reclaim purges the others, and these four keep their data.
 */
static void held_pages_stay(struct __test_metadata *_metadata, char *p,
			    size_t len)
{
	char *held = p + 4 * page_size;

	EXPECT_EQ(reclaim_until(NULL, p, len, 4, INT_MAX), 4)
		TH_LOG("reclaim purged a held page, or not the others");
	EXPECT_EQ(pagemap_count(held, 4 * page_size, PM_PRESENT), 4);
	EXPECT_EQ(count_state(p, page_size, 4, 4, 0, UNIT_DATA), 4);
	EXPECT_EQ(set_nonvolatile(p, len), 1);
	EXPECT_EQ(count_state(p, page_size, 4, 4, 0, UNIT_DATA), 4);
	EXPECT_EQ(count_state(p, page_size, 0, 4, 0, UNIT_ZERO), 4);
	EXPECT_EQ(count_state(p, page_size, 8, NR_PAGES - 8, 0, UNIT_ZERO), NR_PAGES - 8);
}

/* vmsplice(): the pipe holds references to the pages until read. */
TEST_F_TIMEOUT(pressure, pages_held_by_a_pipe_are_not_purged, 60)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_gen(NR_PAGES, 0), *buf;
	struct iovec iov;
	int pipefd[2];

	ASSERT_NE(p, NULL);
	sys_madvise(p, len, MADV_NOHUGEPAGE);
	ASSERT_EQ(set_volatile(p, len), 0);
	ASSERT_EQ(pipe(pipefd), 0);
	iov.iov_base = p + 4 * page_size;
	iov.iov_len = 4 * page_size;
	ASSERT_EQ(vmsplice(pipefd[1], &iov, 1, 0), (ssize_t)(4 * page_size));

	held_pages_stay(_metadata, p, len);

	buf = malloc(4 * page_size);
	ASSERT_NE(buf, NULL);
	ASSERT_EQ(read(pipefd[0], buf, 4 * page_size), (ssize_t)(4 * page_size));
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(unit_state(buf + i * page_size, page_size, 4 + i, 0), UNIT_DATA);
	free(buf);
	close(pipefd[0]);
	close(pipefd[1]);
	munmap(p, len);
}

/* io_uring fixed buffers: FOLL_PIN | FOLL_LONGTERM, held until unregistered. */
TEST_F_TIMEOUT(pressure, pages_pinned_by_io_uring_are_not_purged, 60)
{
	size_t len = NR_PAGES * page_size;
	struct io_uring_params params = { 0 };
	char *p = map_gen(NR_PAGES, 0);
	struct iovec iov;
	int ring;

	ASSERT_NE(p, NULL);
	sys_madvise(p, len, MADV_NOHUGEPAGE);
	ASSERT_EQ(set_volatile(p, len), 0);
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		SKIP(return, "no io_uring: %s", strerror(errno));
	iov.iov_base = p + 4 * page_size;
	iov.iov_len = 4 * page_size;
	ASSERT_EQ(syscall(__NR_io_uring_register, ring,
			  IORING_REGISTER_BUFFERS, &iov, 1), 0)
		TH_LOG("IORING_REGISTER_BUFFERS: %s", strerror(errno));

	held_pages_stay(_metadata, p, len);

	syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
		NULL, 0);
	close(ring);
	munmap(p, len);
}

/*
 * A THP with one page held by a pipe stays whole: a purge takes all its
 * pages or none.  The THP next to it, held by nobody, is purged.
 */
TEST_F_TIMEOUT(pressure, thp_with_a_held_page_is_not_purged_in_part, 60)
{
	size_t pmd = read_pmd_pagesize();
	long pmd_pages;
	struct iovec iov;
	int pipefd[2];
	char *p;

	if (!pmd)
		SKIP(return, "no THP");
	pmd_pages = pmd / page_size;
	p = reserve_aligned(2 * pmd, pmd);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(mmap(p, 2 * pmd, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p);
	if (sys_madvise(p, 2 * pmd, MADV_HUGEPAGE))
		SKIP(return, "no MADV_HUGEPAGE");
	fill(p, 0, 2 * pmd_pages, 0);
	if (vma_kb(p, "AnonHugePages:") < (long)(2 * pmd >> 10))
		SKIP(return, "no THP allocated");
	ASSERT_EQ(set_volatile(p, 2 * pmd), 0);
	ASSERT_EQ(pipe(pipefd), 0);
	iov.iov_base = p + pmd / 2;
	iov.iov_len = page_size;
	ASSERT_EQ(vmsplice(pipefd[1], &iov, 1, 0), (ssize_t)page_size);

	EXPECT_EQ(reclaim_until(NULL, p, 2 * pmd, pmd_pages, INT_MAX), pmd_pages);
	EXPECT_EQ(pagemap_count(p, pmd, PM_PRESENT), pmd_pages)
		TH_LOG("part of the held THP was purged");
	EXPECT_EQ(count_state(p, page_size, 0, pmd_pages, 0, UNIT_DATA), pmd_pages);
	EXPECT_EQ(set_nonvolatile(p, 2 * pmd), 1);
	EXPECT_EQ(count_state(p, page_size, 0, pmd_pages, 0, UNIT_DATA), pmd_pages);
	close(pipefd[0]);
	close(pipefd[1]);
	munmap(p, 2 * pmd);
}

/*
 * Stress: STRESS_THREADS threads share STRESS_PAGES pages of volatile
 * memory, in a cgroup whose memory.max holds only 3/4 of them, with no
 * swap; the test adds memory.reclaim on top.  Thread t owns the slots of
 * STRESS_SLOT pages whose number is t modulo STRESS_THREADS, and works on
 * random ranges of its own slots: VOLATILE; NONVOLATILE; read (verify
 * non-volatile pages, touch volatile ones optimistically, taking back the
 * ones that raise SIGBUS); write a new generation.  It keeps at most
 * STRESS_NONVOL_CAP of its pages non-volatile, so that the working set
 * can only fit by purging.  The invariants, checked at every step:
 *  - a non-volatile page always holds its pattern;
 *  - a volatile page either holds its pattern or raises SIGBUS (at an
 *    address of that page, BUS_ADRERR); after the SIGBUS, NONVOLATILE of
 *    the page returns 1 and the page reads zero;
 *  - NONVOLATILE returns 1 exactly when a page of its range then reads
 *    zero, and only pages that were volatile may read zero.
 * At the end every slot is taken back once more, so that every purge has
 * been found: pgpurged of the cgroup must be at least what was found.
 */
#define STRESS_THREADS		4
#define STRESS_PAGES		2048
#define STRESS_SLOT		32
#define STRESS_MAX_RANGE	16
#define STRESS_NONVOL_CAP	(STRESS_PAGES / STRESS_THREADS / 8)

struct stress_stats {
	unsigned long ops;
	unsigned long verified;		/* pages seen intact */
	unsigned long nonvol_calls;
	unsigned long nonvol_reports;	/* of them, returned 1 */
	unsigned long sigbus;
	unsigned long purged;		/* purged pages found */
	unsigned long violations;
	uint64_t seed;
	char first[256];		/* the first violation */
};

struct stress {
	char *buf;
	unsigned int gen[STRESS_PAGES];
	bool vol[STRESS_PAGES];
	double end;
	pthread_mutex_t lock;
	struct stress_stats *out;	/* shared with the test */
};

struct worker {
	struct stress *s;
	pthread_t thread;
	int id;
	uint64_t rng;
	long nonvol;			/* own pages now non-volatile */
	struct stress_stats st;
};

static uint64_t rnd(struct worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dULL;
}

static char *spage(struct stress *s, size_t i)
{
	return s->buf + i * page_size;
}

/* A random range [*first, *first + *n) in one of @w's slots. */
static void pick_range(struct worker *w, size_t *first, size_t *n)
{
	size_t slots = STRESS_PAGES / STRESS_SLOT / STRESS_THREADS;
	size_t slot = w->id + rnd(w) % slots * STRESS_THREADS;
	size_t off = rnd(w) % STRESS_SLOT;
	size_t max = STRESS_SLOT - off;

	if (max > STRESS_MAX_RANGE)
		max = STRESS_MAX_RANGE;
	*first = slot * STRESS_SLOT + off;
	*n = 1 + rnd(w) % max;
}

static void violation(struct worker *w, size_t i, const char *what)
{
	struct stress *s = w->s;

	w->st.violations++;
	pthread_mutex_lock(&s->lock);
	if (!s->out->first[0])
		snprintf(s->out->first, sizeof(s->out->first),
			 "thread %d, page %zu (gen %u, %svolatile): %s",
			 w->id, i, s->gen[i], s->vol[i] ? "" : "non-", what);
	pthread_mutex_unlock(&s->lock);
}

/* Check page @i against its pattern, or write it if @write; or SIGBUS. */
static int guarded(struct stress *s, size_t i, bool write)
{
	char *page = spage(s, i);
	int state;

	if (sigsetjmp(bus.jmp, 1))
		return PAGE_SIGBUS;
	bus_arm(true);
	if (write) {
		unit_fill(page, page_size, i, s->gen[i]);
		bus_arm(false);
		return UNIT_DATA;
	}
	state = unit_state(page, page_size, i, s->gen[i]);
	bus_arm(false);
	return state;
}

/*
 * Volatile page @i raised SIGBUS: it was purged.  Take it back the way a
 * user would: NONVOLATILE (must report it), then it reads zero, gets a new
 * generation and is made volatile again.
 */
static void take_back(struct worker *w, size_t i)
{
	struct stress *s = w->s;
	char *page = spage(s, i), *at = bus.info.si_addr;

	w->st.sigbus++;
	w->st.purged++;
	if (bus.info.si_code != BUS_ADRERR || at < page ||
	    at >= page + page_size)
		violation(w, i, "SIGBUS with a wrong si_code or si_addr");
	if (set_nonvolatile(page, page_size) != 1)
		violation(w, i, "NONVOLATILE after SIGBUS reports no purge");
	if (guarded(s, i, false) != UNIT_ZERO)
		violation(w, i, "purged page not zero after NONVOLATILE");
	s->gen[i]++;
	if (guarded(s, i, true) != UNIT_DATA)
		violation(w, i, "SIGBUS writing a taken back page");
	if (set_volatile(page, page_size))
		violation(w, i, "VOLATILE failed");
}

static void volatile_range(struct worker *w, size_t first, size_t n)
{
	struct stress *s = w->s;

	if (set_volatile(spage(s, first), n * page_size)) {
		violation(w, first, "VOLATILE failed");
		return;
	}
	for (size_t i = first; i < first + n; i++)
		if (!s->vol[i]) {
			s->vol[i] = true;
			w->nonvol--;
		}
}

/* NONVOLATILE on a range, checking what it says against the pages. */
static void nonvolatile_range(struct worker *w, size_t first, size_t n)
{
	struct stress *s = w->s;
	bool was[STRESS_SLOT];
	size_t zeros = 0;
	long ret;

	for (size_t k = 0; k < n; k++)
		was[k] = s->vol[first + k];
	ret = set_nonvolatile(spage(s, first), n * page_size);
	w->st.nonvol_calls++;
	if (ret < 0 || ret > 1) {
		violation(w, first, "NONVOLATILE failed");
		return;
	}
	w->st.nonvol_reports += ret;
	for (size_t k = 0; k < n; k++) {
		size_t i = first + k;

		w->nonvol += was[k];
		s->vol[i] = false;
		switch (guarded(s, i, false)) {
		case UNIT_DATA:
			w->st.verified++;
			break;
		case UNIT_ZERO:
			zeros++;
			w->st.purged++;
			if (!was[k])
				violation(w, i, "non-volatile page lost");
			else if (!ret)
				violation(w, i, "purge not reported");
			s->gen[i]++;
			if (guarded(s, i, true) != UNIT_DATA)
				violation(w, i, "SIGBUS on non-volatile page");
			break;
		case PAGE_SIGBUS:
			violation(w, i, "SIGBUS after NONVOLATILE");
			break;
		default:
			violation(w, i, "page holds neither its data nor 0");
		}
	}
	if (ret == 1 && !zeros)
		violation(w, first, "purge reported, no page reads zero");
}

static void op_nonvolatile(struct worker *w)
{
	size_t first, n;
	long newly = 0;

	pick_range(w, &first, &n);
	for (size_t i = first; i < first + n; i++)
		newly += w->s->vol[i];
	/* Bound the memory nothing can reclaim: the range goes volatile. */
	if (w->nonvol + newly > STRESS_NONVOL_CAP)
		volatile_range(w, first, n);
	else
		nonvolatile_range(w, first, n);
}

/* Read the pages of a range: non-volatile ones must hold their data. */
static void op_read(struct worker *w)
{
	struct stress *s = w->s;
	size_t first, n;

	pick_range(w, &first, &n);
	for (size_t i = first; i < first + n; i++) {
		int state = guarded(s, i, false);

		if (state == UNIT_DATA)
			w->st.verified++;
		else if (state == PAGE_SIGBUS && s->vol[i])
			take_back(w, i);
		else if (state == PAGE_SIGBUS)
			violation(w, i, "SIGBUS on a non-volatile page");
		else if (state == UNIT_ZERO)
			violation(w, i, "page reads zero without SIGBUS");
		else
			violation(w, i, "page corrupted");
	}
}

/* Write a new generation to the pages of a range. */
static void op_write(struct worker *w)
{
	struct stress *s = w->s;
	size_t first, n;

	pick_range(w, &first, &n);
	for (size_t i = first; i < first + n; i++) {
		s->gen[i]++;
		if (guarded(s, i, true) != PAGE_SIGBUS)
			continue;
		if (s->vol[i])
			take_back(w, i);
		else
			violation(w, i, "SIGBUS writing a non-volatile page");
	}
}

static void *stress_thread(void *arg)
{
	size_t slots = STRESS_PAGES / STRESS_SLOT;
	struct worker *w = arg;
	struct stress *s = w->s;
	size_t first, n;

	/* The first generation; the buffer is volatile already. */
	for (size_t slot = w->id; slot < slots; slot += STRESS_THREADS)
		for (size_t i = slot * STRESS_SLOT;
		     i < (slot + 1) * STRESS_SLOT; i++)
			if (guarded(s, i, true) == PAGE_SIGBUS)
				take_back(w, i);

	while (now() < s->end) {
		unsigned int op = rnd(w) % 100;

		if (op < 15) {
			pick_range(w, &first, &n);
			volatile_range(w, first, n);
		} else if (op < 35) {
			op_nonvolatile(w);
		} else if (op < 80) {
			op_read(w);
		} else {
			op_write(w);
		}
		w->st.ops++;
	}

	/* Find the purges not found yet, a slot at a time. */
	for (size_t slot = w->id; slot < slots; slot += STRESS_THREADS) {
		nonvolatile_range(w, slot * STRESS_SLOT, STRESS_SLOT);
		volatile_range(w, slot * STRESS_SLOT, STRESS_SLOT);
	}
	return NULL;
}

/* The worker process: 0, or what of its setup failed. */
static int stress_run(struct stress_stats *out, double secs)
{
	size_t len = STRESS_PAGES * page_size;
	struct worker w[STRESS_THREADS];
	struct stress *s;
	int t;

	s = calloc(1, sizeof(*s));
	if (!s)
		return 10;
	s->out = out;
	pthread_mutex_init(&s->lock, NULL);
	s->buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->buf == MAP_FAILED)
		return 11;
	/* Base pages: ranges are purged and taken back page by page. */
	sys_madvise(s->buf, len, MADV_NOHUGEPAGE);
	if (set_volatile(s->buf, len))
		return 12;
	for (int i = 0; i < STRESS_PAGES; i++)
		s->vol[i] = true;
	out->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	s->end = now() + secs;
	for (t = 0; t < STRESS_THREADS; t++) {
		memset(&w[t], 0, sizeof(w[t]));
		w[t].s = s;
		w[t].id = t;
		w[t].rng = (out->seed + t) * 0x9e3779b97f4a7c15ULL | 1;
		if (pthread_create(&w[t].thread, NULL, stress_thread, &w[t]))
			break;
	}
	for (int i = 0; i < t; i++) {
		pthread_join(w[i].thread, NULL);
		out->ops += w[i].st.ops;
		out->verified += w[i].st.verified;
		out->nonvol_calls += w[i].st.nonvol_calls;
		out->nonvol_reports += w[i].st.nonvol_reports;
		out->sigbus += w[i].st.sigbus;
		out->purged += w[i].st.purged;
		out->violations += w[i].st.violations;
	}
	return t == STRESS_THREADS ? 0 : 13;
}

/* VOLATILE_STRESS_SECS, 15 by default, from 1 to 120. */
static int stress_secs(void)
{
	const char *env = getenv("VOLATILE_STRESS_SECS");
	int secs = env ? atoi(env) : 15;

	return secs < 1 ? 1 : secs > 120 ? 120 : secs;
}

FIXTURE(stress)
{
	struct env env;
};

FIXTURE_SETUP(stress)
{
	env_setup(_metadata, &self->env, false);
}

FIXTURE_TEARDOWN_PARENT(stress)
{
	env_teardown(&self->env);
}

TEST_F_TIMEOUT(stress, random_operations_keep_the_invariants, 200)
{
	long before = cg_stat(self->env.cg, "pgpurged"), after;
	int secs = stress_secs(), status = -1;
	struct stress_stats *st;
	char path[256], max[32];
	double deadline;
	pid_t pid;
	int fd;

	ASSERT_GE(before, 0) TH_LOG("no pgpurged in memory.stat");
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(st, MAP_FAILED);
	snprintf(max, sizeof(max), "%zu", STRESS_PAGES * page_size / 4 * 3);
	ASSERT_EQ(cg_write(self->env.cg, "memory.max", max), 0);
	snprintf(path, sizeof(path), "%s/memory.reclaim", self->env.cg);
	fd = open(path, O_WRONLY);
	ASSERT_GE(fd, 0);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(stress_run(st, secs));
	}
	deadline = now() + secs + 60;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		/* EAGAIN: less than asked for could be reclaimed, fine. */
		if (fd >= 0 && write(fd, "1M", 2) < 0 && errno != EAGAIN) {
			close(fd);
			fd = -1;
		}
		usleep(200000);
	}
	if (status == -1)
		waitpid(pid, &status, 0);
	if (fd >= 0)
		close(fd);

	TH_LOG("seed %#llx, %d s: %lu operations, %lu pages verified",
	       (unsigned long long)st->seed, secs, st->ops, st->verified);
	TH_LOG("%lu NONVOLATILE (%lu returned 1), %lu SIGBUS, %lu purges found",
	       st->nonvol_calls, st->nonvol_reports, st->sigbus, st->purged);
	ASSERT_TRUE(WIFEXITED(status))
		TH_LOG("worker killed by signal %d%s", WTERMSIG(status),
		       WTERMSIG(status) == SIGKILL ? " (OOM? timeout?)" : "");
	ASSERT_EQ(WEXITSTATUS(status), 0) TH_LOG("worker setup failed");
	EXPECT_EQ(st->violations, 0UL) TH_LOG("first: %s", st->first);
	EXPECT_GT(st->purged, 0UL) TH_LOG("no purge: not enough pressure");
	after = cg_stat_wait(self->env.cg, "pgpurged", before + st->purged);
	EXPECT_GE(after - before, (long)st->purged);
	munmap(st, sizeof(*st));
}

TEST_HARNESS_MAIN
