// SPDX-License-Identifier: GPL-2.0
/*
 * MADV_POPULATE: prefault a range as MAP_POPULATE does, with the errors
 * reported, through madvise(), process_madvise() on another process and
 * io_uring.
 *
 * "Populated" is checked the way a user sees it: touching every page as
 * its protection allows must then take no page fault at all (ru_minflt
 * and ru_majflt of the touching thread do not move).  Which fault the
 * kernel took is seen through soft-dirty: only write faults set it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/mempolicy.h>
#include <linux/mman.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"
#include "vm_util.h"
#include "local_config.h"
#ifdef LOCAL_CONFIG_HAVE_LIBURING
#include <liburing.h>
#endif

#ifndef MADV_POPULATE
#define MADV_POPULATE 26
#endif
#ifndef __NR_memfd_secret
#define __NR_memfd_secret 447
#endif

#define NR_PAGES	16

static size_t page_size;

static long sys_madvise(void *addr, size_t len, int advice)
{
	return syscall(__NR_madvise, addr, len, advice);
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

/* 0, or the errno of MADV_POPULATE on [addr, addr + len). */
static int populate(void *addr, size_t len)
{
	return sys_madvise(addr, len, MADV_POPULATE) ? errno : 0;
}

/* False on a kernel without MADV_POPULATE. */
static bool populate_supported(void)
{
	void *p = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	if (p == MAP_FAILED)
		return false;
	ok = !populate(p, getpagesize());
	munmap(p, getpagesize());
	return ok;
}

static long faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/*
 * Touch every page of [p, p + len): read it, and write it back if @write.
 * Returns the page faults the touching took.
 */
static long touch(char *p, size_t len, bool write)
{
	long before;

	faults();
	before = faults();
	for (size_t off = 0; off < len; off += page_size) {
		char c = __atomic_load_n(p + off, __ATOMIC_RELAXED);

		if (write)
			__atomic_store_n(p + off, c, __ATOMIC_RELAXED);
	}
	return faults() - before;
}

/* Pages of [p, p + len) that pagemap @fd shows present. */
static size_t present(int fd, char *p, size_t len)
{
	size_t n = 0;

	for (size_t off = 0; off < len; off += page_size)
		n += pagemap_is_populated(fd, p + off);
	return n;
}

/* Pages of [p, p + len) that pagemap @fd shows soft-dirty. */
static size_t softdirty(int fd, char *p, size_t len)
{
	size_t n = 0;

	for (size_t off = 0; off < len; off += page_size)
		n += pagemap_is_softdirty(fd, p + off);
	return n;
}

/* A tmpfs file of @len bytes in @dir, filled with 'f'; -1 on failure. */
static int tmpfs_file(const char *dir, size_t len)
{
	char *buf = malloc(len);
	int fd = open(dir, O_TMPFILE | O_RDWR, 0600);

	if (fd >= 0 && buf) {
		memset(buf, 'f', len);
		if (pwrite(fd, buf, len, 0) != (ssize_t)len) {
			close(fd);
			fd = -1;
		}
	}
	free(buf);
	return fd;
}

/*
 * A directory on tmpfs: a fresh mount, so that "tmpfs file" does not
 * depend on what /tmp is, or, without the right to mount, one in /dev/shm.
 */
static int tmpfs_dir(char dir[64])
{
	snprintf(dir, 64, "/tmp/populate.XXXXXX");
	if (mkdtemp(dir)) {
		if (!mount("populate", dir, "tmpfs", 0, "size=64m"))
			return 0;
		rmdir(dir);
	}
	snprintf(dir, 64, "/dev/shm/populate.XXXXXX");
	return mkdtemp(dir) ? 0 : -errno;
}

static void tmpfs_dir_remove(char dir[64])
{
	if (!dir[0])
		return;
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	dir[0] = '\0';
}

/* Write @val to @path, unless it is negative: "nothing saved". */
static void restore_long(const char *path, long val)
{
	if (val >= 0)
		write_long(path, val);
}

/*
 * Runs before the harness.  In a target this program exec'd into (see
 * remote_populate_stops_when_the_target_execs) it reports on the
 * descriptor named by POPULATE_EXEC_TARGET and waits to be killed.  In
 * the harness it has Yama's ptrace_scope, which tests change, put back at
 * the harness's exit whatever a test did, failed or timed out.
 */
__attribute__((constructor)) static void populate_init(void)
{
	exec_target_wait("POPULATE_EXEC_TARGET");
	yama_restore_at_exit();
}

static void hugetlb_restore(long old)
{
	restore_long("/proc/sys/vm/nr_hugepages", old);
}

/* Make sure @free huge pages are free in the pool; the old size or -1. */
static long hugetlb_reserve(unsigned long free)
{
	long old = read_long("/proc/sys/vm/nr_hugepages");

	if (old < 0)
		return -1;
	if (get_free_hugepages() >= free)
		return old;
	write_long("/proc/sys/vm/nr_hugepages", old + free);
	if (get_free_hugepages() >= free)
		return old;
	hugetlb_restore(old);
	return -1;
}

/* Each kind of mapping MADV_POPULATE must populate, and how it faults. */
enum kind {
	PRIVATE_ANON,
	PRIVATE_ANON_READONLY,
	PRIVATE_ANON_THP,
	SHARED_ANON,
	MEMFD_SHARED,
	MEMFD_PRIVATE,
	TMPFS_SHARED,
	TMPFS_SHARED_READONLY,
	TMPFS_PRIVATE,
	HUGETLB_PRIVATE,
	HUGETLB_SHARED,
};

FIXTURE(kinds)
{
	char dir[64];
	char *mem;
	size_t len;
	int fd;
	bool write;
	long old_nr_hugepages;
};

FIXTURE_VARIANT(kinds)
{
	enum kind kind;
};

FIXTURE_VARIANT_ADD(kinds, private_anon) { .kind = PRIVATE_ANON };
FIXTURE_VARIANT_ADD(kinds, private_anon_readonly) { .kind = PRIVATE_ANON_READONLY };
FIXTURE_VARIANT_ADD(kinds, private_anon_thp) { .kind = PRIVATE_ANON_THP };
FIXTURE_VARIANT_ADD(kinds, shared_anon) { .kind = SHARED_ANON };
FIXTURE_VARIANT_ADD(kinds, memfd_shared) { .kind = MEMFD_SHARED };
FIXTURE_VARIANT_ADD(kinds, memfd_private) { .kind = MEMFD_PRIVATE };
FIXTURE_VARIANT_ADD(kinds, tmpfs_shared) { .kind = TMPFS_SHARED };
FIXTURE_VARIANT_ADD(kinds, tmpfs_shared_readonly) { .kind = TMPFS_SHARED_READONLY };
FIXTURE_VARIANT_ADD(kinds, tmpfs_private) { .kind = TMPFS_PRIVATE };
FIXTURE_VARIANT_ADD(kinds, hugetlb_private) { .kind = HUGETLB_PRIVATE };
FIXTURE_VARIANT_ADD(kinds, hugetlb_shared) { .kind = HUGETLB_SHARED };

FIXTURE_SETUP(kinds)
{
	int prot = PROT_READ | PROT_WRITE;
	int flags = MAP_PRIVATE;
	size_t align;
	char *at;

	page_size = getpagesize();
	self->fd = -1;
	self->old_nr_hugepages = -1;
	self->dir[0] = '\0';
	self->mem = MAP_FAILED;
	if (!populate_supported())
		SKIP(return, "MADV_POPULATE not supported");

	self->len = NR_PAGES * page_size;
	align = page_size;
	switch (variant->kind) {
	case PRIVATE_ANON_READONLY:
		prot = PROT_READ;
		break;
	case PRIVATE_ANON_THP:
		align = read_pmd_pagesize();
		if (!align)
			SKIP(return, "no THP");
		self->len = 2 * align;
		break;
	case SHARED_ANON:
		flags = MAP_SHARED;
		break;
	case MEMFD_SHARED:
	case MEMFD_PRIVATE:
		self->fd = memfd_create("populate", 0);
		ASSERT_GE(self->fd, 0);
		ASSERT_EQ(ftruncate(self->fd, self->len), 0);
		if (variant->kind == MEMFD_SHARED)
			flags = MAP_SHARED;
		break;
	case TMPFS_SHARED_READONLY:
	case TMPFS_SHARED:
	case TMPFS_PRIVATE:
		if (variant->kind == TMPFS_SHARED_READONLY)
			prot = PROT_READ;
		ASSERT_EQ(tmpfs_dir(self->dir), 0);
		self->fd = tmpfs_file(self->dir, self->len);
		if (self->fd < 0)
			tmpfs_dir_remove(self->dir);
		ASSERT_GE(self->fd, 0);
		if (variant->kind != TMPFS_PRIVATE)
			flags = MAP_SHARED;
		break;
	case HUGETLB_PRIVATE:
	case HUGETLB_SHARED:
		align = default_huge_page_size();
		if (!align)
			SKIP(return, "no hugetlb");
		self->len = 2 * align;
		self->old_nr_hugepages = hugetlb_reserve(2);
		if (self->old_nr_hugepages < 0)
			SKIP(return, "cannot get 2 free huge pages");
		flags = variant->kind == HUGETLB_SHARED ? MAP_SHARED :
							  MAP_PRIVATE;
		flags |= MAP_HUGETLB;
		break;
	default:
		break;
	}
	if (self->fd < 0)
		flags |= MAP_ANONYMOUS;
	/* The harness skips teardown after a failed setup: undo here. */
	at = reserve_aligned(self->len, align);
	if (at)
		self->mem = mmap(at, self->len, prot, flags | MAP_FIXED,
				 self->fd, 0);
	if (self->mem == MAP_FAILED) {
		tmpfs_dir_remove(self->dir);
		hugetlb_restore(self->old_nr_hugepages);
	}
	ASSERT_NE(self->mem, MAP_FAILED);
	if (variant->kind == PRIVATE_ANON_THP)
		ASSERT_EQ(sys_madvise(self->mem, self->len, MADV_HUGEPAGE), 0);
	self->write = prot & PROT_WRITE;
}

FIXTURE_TEARDOWN(kinds)
{
	if (self->mem != MAP_FAILED)
		munmap(self->mem, self->len);
	if (self->fd >= 0)
		close(self->fd);
	tmpfs_dir_remove(self->dir);
	hugetlb_restore(self->old_nr_hugepages);
}

TEST_F(kinds, touch_after_populate_takes_no_fault)
{
	ASSERT_EQ(populate(self->mem, self->len), 0);
	EXPECT_EQ(touch(self->mem, self->len, self->write), 0);
}

/* The measurement above can fail: without populate, touching faults. */
TEST_F(kinds, touch_without_populate_faults)
{
	EXPECT_GT(touch(self->mem, self->len, self->write), 0);
}

FIXTURE(local)
{
	int pagemap_fd;
	char dir[64];
	long old_nr_hugepages;
	long old_overcommit;
};

FIXTURE_SETUP(local)
{
	page_size = getpagesize();
	self->dir[0] = '\0';
	self->old_nr_hugepages = -1;
	self->old_overcommit = -1;
	self->pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	ASSERT_GE(self->pagemap_fd, 0);
	if (!populate_supported())
		SKIP(return, "MADV_POPULATE not supported");
}

FIXTURE_TEARDOWN(local)
{
	close(self->pagemap_fd);
	tmpfs_dir_remove(self->dir);
	hugetlb_restore(self->old_nr_hugepages);
	restore_long("/proc/sys/vm/nr_overcommit_hugepages",
		     self->old_overcommit);
}

static char *map_anon(size_t len, int prot, int flags)
{
	char *p = mmap(NULL, len, prot, flags | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

TEST_F(local, private_writable_takes_write_faults)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	if (!softdirty_supported())
		SKIP(return, "no soft-dirty tracking");

	ASSERT_NE(p, NULL);
	clear_softdirty();
	ASSERT_EQ(populate(p, len), 0);
	EXPECT_EQ(softdirty(self->pagemap_fd, p, len), NR_PAGES);
	munmap(p, len);
}

TEST_F(local, shared_writable_takes_read_faults)
{
	size_t len = NR_PAGES * page_size;
	int fd = memfd_create("populate", 0);
	char *p;

	if (!softdirty_supported())
		SKIP(return, "no soft-dirty tracking");

	ASSERT_GE(fd, 0);
	ASSERT_EQ(ftruncate(fd, len), 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	clear_softdirty();
	ASSERT_EQ(populate(p, len), 0);
	EXPECT_EQ(present(self->pagemap_fd, p, len), NR_PAGES);
	EXPECT_EQ(softdirty(self->pagemap_fd, p, len), 0);
	munmap(p, len);
	close(fd);
}

TEST_F(local, private_readonly_takes_read_faults)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_anon(len, PROT_READ, MAP_PRIVATE);

	if (!softdirty_supported())
		SKIP(return, "no soft-dirty tracking");

	ASSERT_NE(p, NULL);
	clear_softdirty();
	ASSERT_EQ(populate(p, len), 0);
	EXPECT_EQ(present(self->pagemap_fd, p, len), NR_PAGES);
	EXPECT_EQ(softdirty(self->pagemap_fd, p, len), 0);
	munmap(p, len);
}

/*
 * One call over four VMAs: private writable, private read-only, shared
 * memfd and a read-only tmpfs file.  Each gets its own kind of fault.
 */
TEST_F(local, mixed_protections_in_one_call)
{
	size_t part = 4 * page_size, len = 4 * part;
	int memfd = memfd_create("populate", 0);
	char *p = reserve_aligned(len, page_size);
	int file;

	if (!softdirty_supported())
		SKIP(return, "no soft-dirty tracking");

	ASSERT_NE(p, NULL);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(ftruncate(memfd, part), 0);
	ASSERT_EQ(tmpfs_dir(self->dir), 0);
	file = tmpfs_file(self->dir, part);
	ASSERT_GE(file, 0);
	ASSERT_NE(mmap(p, part, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		  MAP_FAILED);
	ASSERT_NE(mmap(p + part, part, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		  MAP_FAILED);
	ASSERT_NE(mmap(p + 2 * part, part, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, memfd, 0), MAP_FAILED);
	ASSERT_NE(mmap(p + 3 * part, part, PROT_READ, MAP_SHARED | MAP_FIXED,
		       file, 0), MAP_FAILED);
	clear_softdirty();

	ASSERT_EQ(populate(p, len), 0);
	EXPECT_EQ(softdirty(self->pagemap_fd, p, part), 4);
	EXPECT_EQ(softdirty(self->pagemap_fd, p + part, 3 * part), 0);
	EXPECT_EQ(touch(p, part, true), 0);
	EXPECT_EQ(touch(p + part, part, false), 0);
	/*
	 * Soft-dirty tracking write-protects the shared part: read it only,
	 * a write would take the write-notify fault, which allocates nothing.
	 */
	EXPECT_EQ(touch(p + 2 * part, part, false), 0);
	EXPECT_EQ(touch(p + 3 * part, part, false), 0);
	munmap(p, len);
	close(memfd);
	close(file);
}

#define KPF_MLOCKED	33

/* Pages of [p, p + len) whose folio is mlocked, from /proc/kpageflags. */
static size_t mlocked(int pagemap_fd, char *p, size_t len)
{
	int fd = open("/proc/kpageflags", O_RDONLY);
	size_t n = 0;

	if (fd < 0)
		return 0;
	for (size_t off = 0; off < len; off += page_size) {
		unsigned long pfn = pagemap_get_pfn(pagemap_fd, p + off);
		uint64_t flags;

		if (pfn != -1ul &&
		    pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) ==
		    sizeof(flags))
			n += !!(flags & (1ULL << KPF_MLOCKED));
	}
	close(fd);
	return n;
}

TEST_F(local, mlock_onfault_range_ends_up_locked)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	ASSERT_NE(p, NULL);
	if (access("/proc/kpageflags", R_OK))
		SKIP(return, "needs /proc/kpageflags");
	ASSERT_EQ(syscall(__NR_mlock2, p, len, MLOCK_ONFAULT), 0);
	ASSERT_EQ(present(self->pagemap_fd, p, len), 0);
	ASSERT_EQ(populate(p, len), 0);
	EXPECT_EQ(touch(p, len, true), 0);
	/* Populated pages of a VM_LOCKED VMA are mlocked, not just mapped. */
	EXPECT_EQ(mlocked(self->pagemap_fd, p, len), NR_PAGES);
	munlock(p, len);
	munmap(p, len);
}

TEST_F(local, unaligned_start_is_einval)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	ASSERT_NE(p, NULL);
	EXPECT_EQ(populate(p + 1, len - page_size), EINVAL);
	EXPECT_EQ(present(self->pagemap_fd, p, len), 0);
	munmap(p, len);
}

TEST_F(local, prot_none_in_range_is_einval_and_populates_nothing)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	ASSERT_NE(p, NULL);
	ASSERT_EQ(mprotect(p + len - page_size, page_size, PROT_NONE), 0);
	EXPECT_EQ(populate(p, len), EINVAL);
	EXPECT_EQ(present(self->pagemap_fd, p, len), 0);
	munmap(p, len);
}

TEST_F(local, hole_in_range_is_enomem_and_populates_nothing)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	ASSERT_NE(p, NULL);
	ASSERT_EQ(munmap(p + len / 2, page_size), 0);
	EXPECT_EQ(populate(p, len), ENOMEM);
	EXPECT_EQ(present(self->pagemap_fd, p, len / 2), 0);
	EXPECT_EQ(present(self->pagemap_fd, p + len / 2 + page_size,
			  len / 2 - page_size), 0);
	munmap(p, len);
}

TEST_F(local, hole_at_end_is_enomem_and_populates_nothing)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	ASSERT_NE(p, NULL);
	ASSERT_EQ(munmap(p + len - page_size, page_size), 0);
	EXPECT_EQ(populate(p, len), ENOMEM);
	EXPECT_EQ(present(self->pagemap_fd, p, len - page_size), 0);
	munmap(p, len);
}

/* Read faults need PROT_READ; the write-only shared mapping has none. */
TEST_F(local, shared_write_only_is_einval)
{
	size_t len = NR_PAGES * page_size;
	int fd = memfd_create("populate", 0);
	char *p;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(ftruncate(fd, len), 0);
	p = mmap(NULL, len, PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_EQ(populate(p, len), EINVAL);
	EXPECT_EQ(present(self->pagemap_fd, p, len), 0);
	munmap(p, len);
	close(fd);
}

/* Whether the VMA starting at @start shows @flag in its smaps VmFlags. */
static bool vma_has_flag(unsigned long start, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256], head[32], want[8];
	bool in_vma = false, found = false;

	if (!f)
		return false;
	snprintf(head, sizeof(head), "%lx-", start);
	snprintf(want, sizeof(want), " %s", flag);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, head, strlen(head))) {
			in_vma = true;
		} else if (in_vma && !strncmp(line, "VmFlags:", 8)) {
			found = strstr(line, want);
			break;
		}
	}
	fclose(f);
	return found;
}

/* [vvar] is VM_IO | VM_PFNMAP on x86. */
TEST_F(local, pfnmap_is_einval)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	unsigned long start = 0, end = 0;
	char line[256];

	ASSERT_NE(maps, NULL);
	while (fgets(line, sizeof(line), maps))
		if (strstr(line, "[vvar]") &&
		    sscanf(line, "%lx-%lx", &start, &end) == 2)
			break;
	fclose(maps);
	if (!start || !vma_has_flag(start, "pf"))
		SKIP(return, "no VM_PFNMAP [vvar] mapping");
	EXPECT_EQ(populate((void *)start, end - start), EINVAL);
}

TEST_F(local, secretmem_is_einval)
{
	size_t len = NR_PAGES * page_size;
	int fd = syscall(__NR_memfd_secret, 0);
	char *p;

	if (fd < 0)
		SKIP(return, "no memfd_secret: %s", strerror(errno));
	ASSERT_EQ(ftruncate(fd, len), 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_EQ(populate(p, len), EINVAL);
	munmap(p, len);
	close(fd);
}

TEST_F(local, hugetlb_pool_empty_is_efault)
{
	size_t hps = default_huge_page_size();
	char *p;

	if (!hps)
		SKIP(return, "no hugetlb");
	if (geteuid())
		SKIP(return, "needs root to empty the hugetlb pool");
	/* No pool page and no surplus page either. */
	self->old_nr_hugepages = read_long("/proc/sys/vm/nr_hugepages");
	self->old_overcommit = read_long("/proc/sys/vm/nr_overcommit_hugepages");
	ASSERT_EQ(write_str("/proc/sys/vm/nr_overcommit_hugepages", "0"), 0);
	ASSERT_EQ(write_str("/proc/sys/vm/nr_hugepages", "0"), 0);
	ASSERT_EQ(get_free_hugepages(), 0);
	p = mmap(NULL, hps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE,
		 -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_EQ(populate(p, hps), EFAULT);
	munmap(p, hps);
}

TEST_F(local, beyond_eof_is_efault)
{
	char *p;
	int fd;

	ASSERT_EQ(tmpfs_dir(self->dir), 0);
	fd = tmpfs_file(self->dir, page_size);
	ASSERT_GE(fd, 0);
	p = mmap(NULL, 2 * page_size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_EQ(populate(p, 2 * page_size), EFAULT);
	munmap(p, 2 * page_size);
	close(fd);
}

static int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F(local, uffd_sigbus_range_is_efault)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	int uffd = uffd_open(UFFD_FEATURE_SIGBUS);

	ASSERT_NE(p, NULL);
	if (uffd < 0)
		SKIP(return, "no userfaultfd with UFFD_FEATURE_SIGBUS");
	ASSERT_EQ(uffd_register(uffd, p, len, true, false, false), 0);
	EXPECT_EQ(populate(p, len), EFAULT);
	close(uffd);
	munmap(p, len);
}

struct monitor {
	int uffd;
	size_t page_size;
	bool done;
	int faults;
	int write_faults;
};

/* Resolve missing faults with zero pages until the uffd is closed. */
static void *monitor_run(void *arg)
{
	struct monitor *m = arg;
	struct pollfd pfd = { .fd = m->uffd, .events = POLLIN };
	struct uffd_msg msg;

	while (!__atomic_load_n(&m->done, __ATOMIC_ACQUIRE)) {
		struct uffdio_zeropage zp;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (read(m->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		m->faults++;
		if (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE)
			m->write_faults++;
		zp.range.start = msg.arg.pagefault.address &
				 ~(m->page_size - 1);
		zp.range.len = m->page_size;
		zp.mode = 0;
		if (ioctl(m->uffd, UFFDIO_ZEROPAGE, &zp) && errno != EEXIST)
			break;
	}
	return NULL;
}

/* Populate raises MISSING userfaults; a private writable range, writes. */
TEST_F(local, uffd_missing_faults_reach_the_monitor)
{
	size_t len = NR_PAGES * page_size;
	char *p = map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	struct monitor m = { .page_size = page_size };
	pthread_t thread;

	ASSERT_NE(p, NULL);
	m.uffd = uffd_open(0);
	if (m.uffd < 0)
		SKIP(return, "no userfaultfd");
	ASSERT_EQ(uffd_register(m.uffd, p, len, true, false, false), 0);
	ASSERT_EQ(pthread_create(&thread, NULL, monitor_run, &m), 0);
	EXPECT_EQ(populate(p, len), 0);
	__atomic_store_n(&m.done, true, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	close(m.uffd);
	EXPECT_EQ(m.faults, NR_PAGES);
	EXPECT_EQ(m.write_faults, NR_PAGES);
	munmap(p, len);
}

static sigjmp_buf hwpoison_jmp;

static void hwpoison_sigbus(int sig)
{
	siglongjmp(hwpoison_jmp, 1);
}

/*
 * MADV_HWPOISON kills the caller of a dirty page with SIGBUS
 * (MF_ACTION_REQUIRED); poison in a child that survives it.
 */
TEST_F(local, hwpoison_page_is_ehwpoison)
{
	size_t len = NR_PAGES * page_size;
	int status, r;
	pid_t pid;

	if (geteuid())
		SKIP(return, "MADV_HWPOISON needs CAP_SYS_ADMIN");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		char *p = map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);

		if (!p)
			_exit(100);
		memset(p, 1, len);
		signal(SIGBUS, hwpoison_sigbus);
		if (!sigsetjmp(hwpoison_jmp, 1) &&
		    sys_madvise(p + page_size, page_size, MADV_HWPOISON))
			_exit(errno == EINVAL ? 101 : 102);
		r = populate(p, len);
		_exit(r);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 101)
		SKIP(return, "no MADV_HWPOISON (CONFIG_MEMORY_FAILURE)");
	EXPECT_EQ(WEXITSTATUS(status), EHWPOISON);
}

/* A memory cgroup at /sys/fs/cgroup/@name.<pid>: 0 or -errno. */
static int cgroup_make(char path[64], const char *name)
{
	write_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	snprintf(path, 64, "/sys/fs/cgroup/%s.%d", name, getpid());
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static void cgroup_remove(const char path[64])
{
	cg_enter("/sys/fs/cgroup", getpid());
	rmdir(path);
}

/*
 * Fork a target that maps @len bytes of private anonymous memory with
 * @flags, applies @advice to it (if not 0), makes itself unkillable by
 * the OOM killer if @unkillable, enters the cgroup at @path and waits.
 * Returns the address of its mapping, NULL on failure; *@pid is the
 * target, which dies with its parent.
 */
static char *target_in_cgroup(const char *path, size_t len, int flags,
			      int advice, bool unkillable, pid_t *pid)
{
	char *p = NULL;
	int sync[2];

	if (pipe(sync))
		return NULL;
	*pid = fork();
	if (!*pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		p = map_anon(len, PROT_READ | PROT_WRITE, flags);
		if (!p || (advice && sys_madvise(p, len, advice)) ||
		    (unkillable &&
		     write_str("/proc/self/oom_score_adj", "-1000")) ||
		    cg_enter(path, getpid()) ||
		    write(sync[1], &p, sizeof(p)) != sizeof(p))
			_exit(1);
		pause();
		_exit(0);
	}
	close(sync[1]);
	if (*pid < 0 || read(sync[0], &p, sizeof(p)) != sizeof(p))
		p = NULL;
	close(sync[0]);
	return p;
}

/* Fork a target that only waits, dying with its parent. */
static pid_t paused_child(void)
{
	pid_t pid = fork();

	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	return pid;
}

/*
 * OOM with no process the OOM killer may choose: the charge fails and
 * MADV_POPULATE says ENOMEM instead of a later fault failing.  The
 * target, in a small memcg, only waits; another process populates its
 * memory, so that no fault of the target's needs a page once the memcg is
 * full (a user fault would retry for ever).
 */
TEST(oom_in_memcg_is_enomem)
{
	size_t len = 64UL << 20;
	struct iovec iov;
	char path[64];
	pid_t pid;
	int pidfd;

	page_size = getpagesize();
	if (!populate_supported())
		SKIP(return, "MADV_POPULATE not supported");
	if (geteuid())
		SKIP(return, "needs root for cgroups and oom_score_adj");
	if (!memcg_available())
		SKIP(return, "needs cgroup v2 with the memory controller");
	if (read_long("/proc/sys/vm/panic_on_oom") == 2)
		SKIP(return, "vm.panic_on_oom=2 panics on a memcg OOM");
	ASSERT_EQ(cgroup_make(path, "populate-oom"), 0);
	ASSERT_EQ(cg_write(path, "memory.max", "16M"), 0);
	if (cg_write(path, "memory.swap.max", "0") && swap_on()) {
		rmdir(path);
		SKIP(return, "swap is on and memory.swap.max cannot be set");
	}
	iov.iov_base = target_in_cgroup(path, len, MAP_PRIVATE, 0, true, &pid);
	ASSERT_NE(iov.iov_base, NULL);
	iov.iov_len = len;
	pidfd = sys_pidfd_open(pid);
	ASSERT_GE(pidfd, 0);
	EXPECT_EQ(sys_process_madvise(pidfd, &iov, 1, MADV_POPULATE), -1);
	EXPECT_EQ(errno, ENOMEM);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pidfd);
	rmdir(path);
}

/*
 * process_madvise() on a forked child.  The parent maps before the fork,
 * so the child has the same unpopulated memory at the same address; the
 * child touches it on request and answers with the faults that took.
 */
FIXTURE(remote)
{
	char *mem;
	size_t len;
	pid_t pid;
	int pidfd;
	int cmd_fd;
	int rsp_fd;
	int pagemap_fd;
};

static void target_loop(char *mem, size_t len, int cmd_fd, int rsp_fd)
{
	char c;

	while (read(cmd_fd, &c, 1) == 1) {
		long n = touch(mem, len, true);

		if (write(rsp_fd, &n, sizeof(n)) != sizeof(n))
			break;
	}
	_exit(0);
}

FIXTURE_SETUP(remote)
{
	int cmd[2], rsp[2];
	char path[64];

	page_size = getpagesize();
	self->pid = -1;
	if (!populate_supported())
		SKIP(return, "MADV_POPULATE not supported");
	self->len = NR_PAGES * page_size;
	self->mem = map_anon(self->len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(self->mem, NULL);
	ASSERT_EQ(pipe(cmd), 0);
	ASSERT_EQ(pipe(rsp), 0);
	self->pid = fork();
	ASSERT_GE(self->pid, 0);
	if (!self->pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(cmd[1]);
		close(rsp[0]);
		target_loop(self->mem, self->len, cmd[0], rsp[1]);
	}
	close(cmd[0]);
	close(rsp[1]);
	self->cmd_fd = cmd[1];
	self->rsp_fd = rsp[0];
	self->pidfd = sys_pidfd_open(self->pid);
	ASSERT_GE(self->pidfd, 0);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", self->pid);
	self->pagemap_fd = open(path, O_RDONLY);
	ASSERT_GE(self->pagemap_fd, 0);
}

FIXTURE_TEARDOWN(remote)
{
	if (self->pid <= 0)
		return;
	kill(self->pid, SIGKILL);
	waitpid(self->pid, NULL, 0);
	close(self->cmd_fd);
	close(self->rsp_fd);
	close(self->pidfd);
	close(self->pagemap_fd);
}

/* Faults the target takes touching its memory; -1 if it did not answer. */
static long target_touch(struct _test_data_remote *self)
{
	long n = -1;

	if (write(self->cmd_fd, "t", 1) != 1 ||
	    read(self->rsp_fd, &n, sizeof(n)) != sizeof(n))
		return -1;
	return n;
}

TEST_F(remote, populate_allocates_in_the_target)
{
	struct iovec iov = { self->mem, self->len };

	EXPECT_EQ(sys_process_madvise(self->pidfd, &iov, 1, MADV_POPULATE),
		  self->len);
	EXPECT_EQ(present(self->pagemap_fd, self->mem, self->len), NR_PAGES);
	EXPECT_EQ(target_touch(self), 0);
}

/* The measurement above can fail: unpopulated, the target faults. */
TEST_F(remote, target_faults_without_populate)
{
	EXPECT_GE(target_touch(self), NR_PAGES);
}

TEST_F(remote, populate_write_is_accepted)
{
	struct iovec iov = { self->mem, self->len };

	EXPECT_EQ(sys_process_madvise(self->pidfd, &iov, 1,
				      MADV_POPULATE_WRITE), self->len);
	EXPECT_EQ(target_touch(self), 0);
}

TEST_F(remote, populate_read_is_accepted)
{
	struct iovec iov = { self->mem, self->len };

	EXPECT_EQ(sys_process_madvise(self->pidfd, &iov, 1,
				      MADV_POPULATE_READ), self->len);
	EXPECT_EQ(present(self->pagemap_fd, self->mem, self->len), NR_PAGES);
}

TEST_F(remote, returns_bytes_of_the_completed_elements)
{
	/* The second element is a hole: nothing is mapped at one page. */
	struct iovec iov[2] = {
		{ self->mem, 4 * page_size },
		{ (void *)page_size, page_size },
	};

	EXPECT_EQ(sys_process_madvise(self->pidfd, iov, 2, MADV_POPULATE),
		  4 * page_size);
	EXPECT_EQ(present(self->pagemap_fd, self->mem, self->len), 4);
}

TEST_F(remote, error_of_the_first_element_is_returned)
{
	struct iovec iov[2] = {
		{ (void *)page_size, page_size },
		{ self->mem, self->len },
	};

	EXPECT_EQ(sys_process_madvise(self->pidfd, iov, 2, MADV_POPULATE), -1);
	EXPECT_EQ(errno, ENOMEM);
	EXPECT_EQ(present(self->pagemap_fd, self->mem, self->len), 0);
}

/* Drop capability @cap from the calling thread's effective set. */
static int drop_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(__NR_capget, &hdr, data))
		return -1;
	data[cap / 32].effective &= ~(1U << (cap % 32));
	return syscall(__NR_capset, &hdr, data);
}

struct advise_as {
	int pidfd;
	struct iovec *iov;
	int advice, cap, uid;
};

static long advise_as_child(void *arg)
{
	struct advise_as *a = arg;
	long r;

	if ((a->cap >= 0 && drop_cap(a->cap)) ||
	    (a->uid >= 0 && setresuid(a->uid, a->uid, a->uid)))
		return -1000;
	r = sys_process_madvise(a->pidfd, a->iov, 1, a->advice);
	return r == -1 ? -errno : r;
}

/*
 * Run process_madvise(@advice) on @iov of @pidfd's process from a child
 * that first drops capability @cap (if >= 0) and becomes @uid (if >= 0).
 * Returns the bytes or -errno.
 */
static long advise_as(int pidfd, struct iovec *iov, int advice, int cap,
		      int uid)
{
	struct advise_as a = {
		.pidfd = pidfd, .iov = iov, .advice = advice, .cap = cap,
		.uid = uid,
	};

	return run_in_child(advise_as_child, &a);
}

TEST_F(remote, without_cap_sys_nice_is_eperm)
{
	struct iovec iov = { self->mem, self->len };

	if (geteuid())
		SKIP(return, "needs root");
	EXPECT_EQ(advise_as(self->pidfd, &iov, MADV_POPULATE, CAP_SYS_NICE, -1),
		  -EPERM);
	EXPECT_EQ(present(self->pagemap_fd, self->mem, self->len), 0);
}

TEST_F(remote, other_uid_is_eacces)
{
	struct iovec iov = { self->mem, self->len };

	if (geteuid())
		SKIP(return, "needs root to change uids");
	EXPECT_EQ(advise_as(self->pidfd, &iov, MADV_POPULATE, -1, 1001),
		  -EACCES);
	EXPECT_EQ(present(self->pagemap_fd, self->mem, self->len), 0);
}

/*
 * Every populate advice needs PTRACE_MODE_ATTACH, the right a write to the
 * target needs: MADV_POPULATE_WRITE and MADV_POPULATE write-fault, and a
 * read fault allocates too (shmem, hugetlb), fills holes of files shared
 * with others and can drive the target's memcg into OOM.  Without an LSM
 * READ and ATTACH grant the same; Yama with ptrace_scope 1 (set for the
 * test if it is 0) refuses ATTACH to a process that is not a descendant
 * unless the caller has CAP_SYS_PTRACE, and never refuses READ.  Caller
 * and target are siblings here; the target holds no capabilities, so that
 * dropping CAP_SYS_PTRACE leaves READ granted.  The target maps, read-only
 * and shared, a memfd of holes: a refused call must leave it without a
 * block, and the target's private memory without a page.
 */
TEST(remote_populate_needs_ptrace_attach)
{
	int sync[2], pidfd, memfd, pagemap;
	struct iovec iov, file_iov;
	char path[64];
	struct stat st;
	long scope;
	size_t len;
	char *p, *f;
	pid_t pid;
	char c;

	page_size = getpagesize();
	len = NR_PAGES * page_size;
	if (!populate_supported())
		SKIP(return, "MADV_POPULATE not supported");
	scope = read_long(YAMA_SCOPE);
	if (scope < 0 || geteuid())
		SKIP(return, "needs root and Yama");
	if (scope > 1)
		SKIP(return, "Yama ptrace_scope %ld refuses the control case", scope);
	p = map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(p, NULL);
	memfd = memfd_create("populate", 0);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(ftruncate(memfd, len), 0);
	f = mmap(NULL, len, PROT_READ, MAP_SHARED, memfd, 0);
	ASSERT_NE(f, MAP_FAILED);
	ASSERT_EQ(pipe(sync), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct __user_cap_header_struct hdr = {
			.version = _LINUX_CAPABILITY_VERSION_3,
		};
		struct __user_cap_data_struct none[2] = {};

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = syscall(__NR_capset, &hdr, none) ? 'f' : 's';
		if (write(sync[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	pidfd = sys_pidfd_open(pid);
	ASSERT_GE(pidfd, 0);
	ASSERT_EQ(read(sync[0], &c, 1), 1);
	ASSERT_EQ(c, 's');
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pagemap = open(path, O_RDONLY);
	ASSERT_GE(pagemap, 0);
	iov.iov_base = p;
	iov.iov_len = len;
	file_iov.iov_base = f;
	file_iov.iov_len = len;

	if (!scope)
		ASSERT_EQ(write_str(YAMA_SCOPE, "1"), 0);
	EXPECT_EQ(advise_as(pidfd, &iov, MADV_POPULATE_WRITE, CAP_SYS_PTRACE,
			    -1), -EACCES);
	EXPECT_EQ(advise_as(pidfd, &iov, MADV_POPULATE, CAP_SYS_PTRACE, -1),
		  -EACCES);
	EXPECT_EQ(advise_as(pidfd, &iov, MADV_POPULATE_READ, CAP_SYS_PTRACE,
			    -1), -EACCES);
	EXPECT_EQ(advise_as(pidfd, &file_iov, MADV_POPULATE_READ,
			    CAP_SYS_PTRACE, -1), -EACCES);
	EXPECT_EQ(present(pagemap, p, len), 0);
	EXPECT_EQ(present(pagemap, f, len), 0);
	ASSERT_EQ(fstat(memfd, &st), 0);
	EXPECT_EQ(st.st_blocks, 0);
	/* The control: with CAP_SYS_PTRACE, Yama grants ATTACH. */
	EXPECT_EQ(advise_as(pidfd, &file_iov, MADV_POPULATE_READ, -1, -1), len);
	EXPECT_EQ(present(pagemap, f, len), NR_PAGES);
	if (!scope)
		EXPECT_EQ(write_str(YAMA_SCOPE, "0"), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pagemap);
	close(pidfd);
	munmap(f, len);
	close(memfd);
	munmap(p, len);
}

/*
 * The target's memcg pays, page tables included, and the caller's does not:
 * page tables are what the caller's memcg would pay for without the
 * switch to the target's memcg.  One page per PTE table's span makes page
 * tables as large as the memory: SPARSE of each.  memory.stat lags until
 * the next flush (at most 2 s apart), hence the polling and the margins.
 */
#define SPARSE	512

struct charge {
	long target_pt, target_anon, caller_pt, caller_anon;
};

static void charge_read(struct charge *c, const char *target,
			const char *caller)
{
	c->target_pt = cg_stat(target, "pagetables");
	c->target_anon = cg_stat(target, "anon");
	c->caller_pt = cg_stat(caller, "pagetables");
	c->caller_anon = cg_stat(caller, "anon");
}

TEST(remote_memory_is_charged_to_the_target_memcg)
{
	size_t stride, len, half;
	char target[64], caller[64];
	struct charge before, after;
	struct iovec *iov;
	int pidfd;
	char *p;
	pid_t pid;

	page_size = getpagesize();
	/* A PTE table maps page_size / 8 pages. */
	stride = page_size * (page_size / 8);
	len = SPARSE * stride;
	half = SPARSE * page_size / 2;
	if (!populate_supported())
		SKIP(return, "MADV_POPULATE not supported");
	if (geteuid())
		SKIP(return, "needs root for cgroups");
	if (!memcg_available())
		SKIP(return, "needs cgroup v2 with the memory controller");
	iov = calloc(SPARSE, sizeof(*iov));
	ASSERT_NE(iov, NULL);
	ASSERT_EQ(cgroup_make(target, "populate-target"), 0);
	ASSERT_EQ(cgroup_make(caller, "populate-caller"), 0);
	ASSERT_EQ(cg_enter(caller, getpid()), 0);
	/* One base page per stride, not a THP. */
	p = target_in_cgroup(target, len, MAP_PRIVATE | MAP_NORESERVE,
			     MADV_NOHUGEPAGE, false, &pid);
	ASSERT_NE(p, NULL);
	for (int i = 0; i < SPARSE; i++) {
		iov[i].iov_base = p + i * stride;
		iov[i].iov_len = page_size;
	}
	pidfd = sys_pidfd_open(pid);
	ASSERT_GE(pidfd, 0);

	charge_read(&before, target, caller);
	EXPECT_EQ(sys_process_madvise(pidfd, iov, SPARSE, MADV_POPULATE),
		  SPARSE * page_size);
	for (int i = 0; i < 100; i++) {
		charge_read(&after, target, caller);
		if (after.target_pt - before.target_pt >= half &&
		    after.target_anon - before.target_anon >= half)
			break;
		usleep(100000);
	}
	/* One more flush period, for the caller's side to show too. */
	sleep(2);
	charge_read(&after, target, caller);
	EXPECT_GE(after.target_anon - before.target_anon, half);
	EXPECT_GE(after.target_pt - before.target_pt, half);
	EXPECT_LT(after.caller_anon - before.caller_anon, half);
	EXPECT_LT(after.caller_pt - before.caller_pt, half);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pidfd);
	free(iov);
	cgroup_remove(caller);
	rmdir(target);
}

/* NUMA placement: mbind() to node 1 holds, whoever populates. */
FIXTURE(numa)
{
	char *mem;
	size_t len;
};

FIXTURE_SETUP(numa)
{
	unsigned long node1 = 1UL << 1;

	page_size = getpagesize();
	self->len = NR_PAGES * page_size;
	self->mem = MAP_FAILED;
	if (!populate_supported())
		SKIP(return, "MADV_POPULATE not supported");
	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "needs 2 NUMA nodes");
	self->mem = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	if (syscall(__NR_mbind, self->mem, self->len, MPOL_BIND, &node1,
		    sizeof(node1) * 8, 0)) {
		ASSERT_EQ(errno, EINVAL);
		SKIP(return, "node 1 has no memory");
	}
}

FIXTURE_TEARDOWN(numa)
{
	if (self->mem != MAP_FAILED)
		munmap(self->mem, self->len);
}

/* Pages of @pid's [p, p + len) on node @node, by move_pages() query. */
static int pages_on_node(pid_t pid, char *p, size_t len, int node)
{
	int n = len / page_size, count = 0;
	void *pages[NR_PAGES];
	int status[NR_PAGES];

	if (n > NR_PAGES)
		return -1;
	for (int i = 0; i < n; i++)
		pages[i] = p + i * page_size;
	if (syscall(__NR_move_pages, pid, n, pages, NULL, status, 0))
		return -1;
	for (int i = 0; i < n; i++)
		count += status[i] == node;
	return count;
}

/* The caller's own task policy says node 0; the VMA's says node 1. */
static int bind_self_to_node0(void)
{
	unsigned long node0 = 1UL << 0;

	return syscall(__NR_set_mempolicy, MPOL_BIND, &node0,
		       sizeof(node0) * 8);
}

TEST_F(numa, local_populate_follows_the_vma_policy)
{
	ASSERT_EQ(bind_self_to_node0(), 0);
	ASSERT_EQ(populate(self->mem, self->len), 0);
	EXPECT_EQ(pages_on_node(0, self->mem, self->len, 1), NR_PAGES);
}

TEST_F(numa, remote_populate_follows_the_targets_vma_policy)
{
	struct iovec iov = { self->mem, self->len };
	int pidfd, status;
	pid_t pid;

	pid = paused_child();
	ASSERT_GE(pid, 0);
	pidfd = sys_pidfd_open(pid);
	ASSERT_GE(pidfd, 0);
	ASSERT_EQ(bind_self_to_node0(), 0);
	EXPECT_EQ(sys_process_madvise(pidfd, &iov, 1, MADV_POPULATE),
		  self->len);
	EXPECT_EQ(pages_on_node(pid, self->mem, self->len, 1), NR_PAGES);
	/* And the caller's memory, untouched by the call, stays empty. */
	EXPECT_EQ(pages_on_node(0, self->mem, self->len, -ENOENT), NR_PAGES);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(pidfd);
}

#ifdef LOCAL_CONFIG_HAVE_LIBURING
/* MADV_POPULATE through IORING_OP_MADVISE: the CQE's res. */
static int uring_populate(struct io_uring *ring, void *addr, size_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_madvise(sqe, addr, len, MADV_POPULATE);
	if (io_uring_submit(ring) != 1)
		return -EIO;
	if (io_uring_wait_cqe(ring, &cqe))
		return -EIO;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}
#endif

FIXTURE(uring)
{
#ifdef LOCAL_CONFIG_HAVE_LIBURING
	struct io_uring ring;
#endif
	bool ready;
	char *mem;
	size_t len;
};

FIXTURE_SETUP(uring)
{
	page_size = getpagesize();
	self->ready = false;
	self->len = NR_PAGES * page_size;
	self->mem = map_anon(self->len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(self->mem, NULL);
	if (!populate_supported())
		SKIP(return, "MADV_POPULATE not supported");
#ifdef LOCAL_CONFIG_HAVE_LIBURING
	if (io_uring_queue_init(4, &self->ring, 0))
		SKIP(return, "no io_uring");
	self->ready = true;
#else
	SKIP(return, "built without liburing");
#endif
}

FIXTURE_TEARDOWN(uring)
{
#ifdef LOCAL_CONFIG_HAVE_LIBURING
	if (self->ready)
		io_uring_queue_exit(&self->ring);
#endif
	munmap(self->mem, self->len);
}

/* Without liburing the setup skips and the bodies are never run. */
TEST_F(uring, madvise_populate_populates)
{
#ifdef LOCAL_CONFIG_HAVE_LIBURING
	EXPECT_EQ(uring_populate(&self->ring, self->mem, self->len), 0);
	EXPECT_EQ(touch(self->mem, self->len, true), 0);
#endif
}

TEST_F(uring, madvise_populate_reports_enomem_for_a_hole)
{
#ifdef LOCAL_CONFIG_HAVE_LIBURING
	ASSERT_EQ(munmap(self->mem + page_size, page_size), 0);
	EXPECT_EQ(uring_populate(&self->ring, self->mem, self->len), -ENOMEM);
#endif
}

/*
 * EINTR, observed: a child submits MADV_POPULATE on a range whose
 * userfaults no one answers, so its io_uring worker waits in the fault;
 * once the fault is pending on the userfaultfd, SIGKILL ends the wait,
 * populate returns -EINTR, and the completion lands in the ring the
 * parent shares.
 */
TEST_F(uring, fatal_signal_is_eintr)
{
#ifdef LOCAL_CONFIG_HAVE_LIBURING
	struct __kernel_timespec ts = { .tv_sec = 10 };
	struct io_uring_cqe *cqe;
	int sync[2];
	pid_t pid;
	char c;

	ASSERT_EQ(pipe(sync), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int uffd = uffd_open(0);
		struct pollfd pfd = { .fd = uffd, .events = POLLIN };
		struct io_uring_sqe *sqe;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* 'n': no userfaultfd here; 'f': setup failed; 's': ready. */
		c = uffd < 0 ? 'n' : 'f';
		sqe = io_uring_get_sqe(&self->ring);
		if (uffd >= 0 && sqe &&
		    !uffd_register(uffd, self->mem, self->len, true, false,
				   false)) {
			io_uring_prep_madvise(sqe, self->mem, self->len,
					      MADV_POPULATE);
			if (io_uring_submit(&self->ring) == 1 &&
			    poll(&pfd, 1, 10000) == 1)
				c = 's';
		}
		if (write(sync[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ASSERT_EQ(read(sync[0], &c, 1), 1);
	if (c == 'n') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		SKIP(return, "no userfaultfd");
	}
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	ASSERT_EQ(waitpid(pid, NULL, 0), pid);
	ASSERT_EQ(c, 's');
	ASSERT_EQ(io_uring_wait_cqe_timeout(&self->ring, &cqe, &ts), 0);
	EXPECT_EQ(cqe->res, -EINTR);
	io_uring_cqe_seen(&self->ring, cqe);
#endif
}

/*
 * A remote MADV_POPULATE read-faults the target's shared mapping: the
 * pages are present and not soft-dirty (not written) in the target.
 */
TEST_F(remote, shared_memory_is_not_dirtied)
{
	struct iovec iov;
	char path[64];
	char *p;
	int fd;

	if (!softdirty_supported())
		SKIP(return, "no soft-dirty tracking");
	fd = memfd_create("populate", 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(ftruncate(fd, self->len), 0);
	/* Map it in the parent; the child sees it once it is forked anew. */
	p = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	kill(self->pid, SIGKILL);
	waitpid(self->pid, NULL, 0);
	close(self->pagemap_fd);
	close(self->pidfd);
	self->pid = paused_child();
	ASSERT_GE(self->pid, 0);
	self->pidfd = sys_pidfd_open(self->pid);
	ASSERT_GE(self->pidfd, 0);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", self->pid);
	self->pagemap_fd = open(path, O_RDONLY);
	ASSERT_GE(self->pagemap_fd, 0);
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", self->pid);
	ASSERT_EQ(write_str(path, "4"), 0);

	iov.iov_base = p;
	iov.iov_len = self->len;
	EXPECT_EQ(sys_process_madvise(self->pidfd, &iov, 1, MADV_POPULATE),
		  self->len);
	EXPECT_EQ(present(self->pagemap_fd, p, self->len), NR_PAGES);
	EXPECT_EQ(softdirty(self->pagemap_fd, p, self->len), 0);
	munmap(p, self->len);
	close(fd);
}

/*
 * A target that goes away while a remote populate waits in one of its
 * userfaults.  It maps a private anonymous page registered for MISSING
 * faults and, right after it, a read-only shared mapping of @memfd (holes
 * only, @len bytes), tells the parent where and which userfaultfd, and
 * waits; on 'x' from the parent it execs this program, whose constructor
 * reports on @report_fd and waits.
 */
struct gone_target {
	pid_t pid;
	int pidfd;
	int cmd_fd;
	int report_fd;
	int uffd;	/* the target's userfaultfd, in the parent */
	char *page;	/* the target's MISSING-registered page */
	char *file;	/* the memfd mapping, right after it */
};

static int gone_target_start(struct gone_target *t, int memfd, size_t len)
{
	int cmd[2], info[2], report[2];
	struct { char *page; int uffd; } msg;

	if (pipe(cmd) || pipe(info) || pipe(report))
		return -1;
	t->pid = fork();
	if (t->pid < 0)
		return -1;
	if (!t->pid) {
		char fd[16], *argv[] = { "populate", NULL };
		char *area;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		area = mmap(NULL, page_size + len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		msg.page = area;
		msg.uffd = uffd_open(0);
		if (area == MAP_FAILED || msg.uffd < 0 ||
		    uffd_register(msg.uffd, area, page_size, true, false, false) ||
		    mmap(area + page_size, len, PROT_READ, MAP_SHARED | MAP_FIXED,
			 memfd, 0) != area + page_size)
			msg.page = NULL;
		if (write(info[1], &msg, sizeof(msg)) != sizeof(msg) ||
		    read(cmd[0], fd, 1) != 1)
			_exit(1);
		snprintf(fd, sizeof(fd), "%d", report[1]);
		setenv("POPULATE_EXEC_TARGET", fd, 1);
		execv("/proc/self/exe", argv);
		_exit(1);
	}
	close(cmd[0]);
	close(info[1]);
	close(report[1]);
	t->cmd_fd = cmd[1];
	t->report_fd = report[0];
	if (read(info[0], &msg, sizeof(msg)) != sizeof(msg) || !msg.page)
		return -1;
	close(info[0]);
	t->page = msg.page;
	t->file = msg.page + page_size;
	t->pidfd = sys_pidfd_open(t->pid);
	if (t->pidfd < 0)
		return -1;
	t->uffd = syscall(__NR_pidfd_getfd, t->pidfd, msg.uffd, 0);
	return t->uffd < 0 ? -1 : 0;
}

static void gone_target_stop(struct gone_target *t)
{
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
	close(t->cmd_fd);
	close(t->report_fd);
	close(t->pidfd);
	close(t->uffd);
}

/* A process_madvise() call made from a thread, to be parked. */
struct bg_call {
	int pidfd;
	struct iovec iov[2];
	int vlen;
	long ret;
	int err;
};

static void *bg_call_run(void *arg)
{
	struct bg_call *c = arg;

	c->ret = sys_process_madvise(c->pidfd, c->iov, c->vlen,
				     MADV_POPULATE_READ);
	c->err = errno;
	return NULL;
}

/*
 * Remote MADV_POPULATE_READ of @c's vector (starting at the target's
 * userfault page) waits in that userfault; the target exits (!@exec) or
 * execs meanwhile; then the fault is resolved and the call goes on.
 * Returns the call's bytes or -errno; 1 if userfaultfd is missing.
 */
static long populate_across_goodbye(struct __test_metadata *_metadata,
				    struct gone_target *t, struct bg_call *c,
				    bool exec)
{
	struct uffdio_zeropage zero = {
		.range = { .start = (unsigned long)t->page, .len = page_size },
	};
	struct pollfd pfd = { .fd = t->uffd, .events = POLLIN };
	struct uffd_msg msg;
	pthread_t thread;
	char e;

	c->pidfd = t->pidfd;
	ASSERT_EQ(pthread_create(&thread, NULL, bg_call_run, c), 0);
	ASSERT_EQ(poll(&pfd, 1, 30000), 1) TH_LOG("no userfault");
	ASSERT_EQ(read(t->uffd, &msg, sizeof(msg)), sizeof(msg));
	ASSERT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
	if (exec) {
		ASSERT_EQ(write(t->cmd_fd, "x", 1), 1);
		ASSERT_EQ(read(t->report_fd, &e, 1), 1);
	} else {
		ASSERT_EQ(kill(t->pid, SIGKILL), 0);
		/* Reaped or not, a process that exited has left its mm. */
		ASSERT_EQ(waitid(P_PIDFD, t->pidfd, NULL, WEXITED | WNOWAIT), 0);
	}
	/* The call holds the old mm: the monitor can still resolve it. */
	ASSERT_EQ(ioctl(t->uffd, UFFDIO_ZEROPAGE, &zero), 0);
	pthread_join(thread, NULL);
	return c->ret < 0 ? -c->err : c->ret;
}

/* Bytes allocated to @memfd. */
static long memfd_bytes(int memfd)
{
	struct stat st;

	return fstat(memfd, &st) ? -1 : st.st_blocks * 512;
}

/*
 * Once the target's last task has exited or exec'd, its mm has no owner
 * and what a populate charges would go to the root memcg, shmem and page
 * cache for good.  A remote populate stops there: at the next element,
 * with the bytes of the elements done; within an element, before the
 * next PMD-sized step, with ESRCH if no element was done.  The target's
 * read-only mapping of a memfd of holes shows what was populated.
 */
static void populate_stops_when_target_goes(struct __test_metadata *_metadata,
					    bool exec, bool one_element)
{
	size_t len = 8UL << 20;
	struct gone_target t;
	struct bg_call c = { 0 };
	int memfd;
	long ret;

	page_size = getpagesize();
	if (!populate_supported())
		SKIP(return, "MADV_POPULATE not supported");
	if (geteuid())
		SKIP(return, "needs root for CAP_SYS_NICE");
	memfd = memfd_create("populate", 0);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(ftruncate(memfd, len), 0);
	if (gone_target_start(&t, memfd, len))
		SKIP(return, "no userfaultfd or no target");
	if (one_element) {
		c.iov[0] = (struct iovec){ t.page, page_size + len };
		c.vlen = 1;
	} else {
		c.iov[0] = (struct iovec){ t.page, page_size };
		c.iov[1] = (struct iovec){ t.file, len };
		c.vlen = 2;
	}
	ret = populate_across_goodbye(_metadata, &t, &c, exec);
	if (one_element) {
		EXPECT_EQ(ret, -ESRCH);
		EXPECT_LE(memfd_bytes(memfd), 2L << 20);
	} else {
		EXPECT_EQ(ret, page_size);
		EXPECT_EQ(memfd_bytes(memfd), 0);
	}
	gone_target_stop(&t);
	close(memfd);
}

TEST(remote_populate_stops_when_the_target_exits)
{
	populate_stops_when_target_goes(_metadata, false, false);
}

TEST(remote_populate_stops_when_the_target_execs)
{
	populate_stops_when_target_goes(_metadata, true, false);
}

TEST(remote_populate_stops_within_an_element_when_the_target_exits)
{
	populate_stops_when_target_goes(_metadata, false, true);
}

TEST_HARNESS_MAIN
