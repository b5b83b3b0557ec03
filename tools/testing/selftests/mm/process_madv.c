// SPDX-License-Identifier: GPL-2.0
/*
 * process_madvise() on another process: MADV_DONTNEED and MADV_FREE, as a
 * userspace memory manager uses them, their permissions and their errors.
 *
 * The target is a forked child.  Memory the parent maps before the fork
 * sits at the same address in the child; memory the child must own (an
 * mlock, a cgroup charge, a userfaultfd) it maps on request through a
 * command pipe.  The parent reads the child's memory with
 * process_vm_readv() and its page tables through /proc/<pid>/pagemap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/mman.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"
#include "vm_util.h"

#define NR_PAGES	16

#ifndef __NR_mseal
#define __NR_mseal 462
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif

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
	CMD_MLOCK,	/* mlock(addr, len) */
	CMD_MAP,	/* map len bytes of private anon, fill; returns address */
	CMD_UFFD,	/* userfaultfd on [addr, len), MISSING + EVENT_REMOVE */
	CMD_WRITE,	/* write byte arg to every page of [addr, len) */
	CMD_UNMAP,	/* munmap(addr, len) */
	CMD_READ,	/* read every page of [addr, len) */
	CMD_NODUMP,	/* prctl(PR_SET_DUMPABLE, 0) */
	CMD_SETUID,	/* setresuid(arg) */
	CMD_SEAL,	/* mprotect(addr, len, PROT_READ), then mseal() it */
	CMD_PAGED,	/* userfaultfd MISSING + WP on [addr, len); returns fd */
	CMD_SCRIBBLE,	/* arg random counter bumps in [addr, len), then check */
	CMD_REPLACE,	/* munmap(addr, len), map fresh private anon there, fill */
	CMD_PROTECT,	/* mprotect(addr, len, PROT_READ) */
	CMD_MAP_FILE,	/* private map of a new file of 'F's, write arg, make RO */
};

/* A page of the pager test: a counter, its index, then a fill pattern. */
struct paged_page {
	uint64_t count;
	uint64_t index;
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

static void fill(char *p, size_t npages, int base)
{
	for (size_t i = 0; i < npages; i++)
		memset(p + i * page_size, base + i, page_size);
}

/*
 * The target's side of the pager test: bump random page counters while the
 * manager evicts and restores pages under it, keeping the expected values
 * in memory the manager does not touch; then check every page.  Returns
 * the number of pages that came back wrong.
 */
static unsigned long scribble(char *area, size_t npages, int bumps)
{
	uint64_t *expect = calloc(npages, sizeof(*expect));
	unsigned long bad = 0;

	if (!expect)
		return npages;
	for (size_t i = 0; i < npages; i++)
		expect[i] = ((struct paged_page *)(area + i * page_size))->count;
	srand(getpid());
	for (int k = 0; k < bumps; k++) {
		size_t i = rand() % npages;

		((struct paged_page *)(area + i * page_size))->count++;
		expect[i]++;
		if (!(k % 64))
			usleep(200);
	}
	for (size_t i = 0; i < npages; i++) {
		struct paged_page *pp = (void *)(area + i * page_size);

		if (pp->count != expect[i] || pp->index != i ||
		    area[i * page_size + page_size - 1] != (char)i)
			bad++;
	}
	free(expect);
	return bad;
}

/*
 * Read-only private file memory the process wrote before, as the dynamic
 * linker leaves RELRO: a new file of c->len bytes of 'F', mapped private,
 * every page written with c->arg (copy on write), then made read-only.
 * Sets c->addr; 0 or -errno.
 */
static long map_file_readonly(struct cmd *c)
{
	int fd = memfd_create("process_madv", 0);
	char *p;

	if (fd < 0)
		return -errno;
	p = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ftruncate(fd, c->len) || p == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	memset(p, 'F', c->len);
	munmap(p, c->len);
	c->addr = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (c->addr == MAP_FAILED)
		return -errno;
	memset(c->addr, c->arg, c->len);
	return mprotect(c->addr, c->len, PROT_READ) ? -errno : 0;
}

static void target_loop(int cmd_fd, int rsp_fd)
{
	struct uffdio_api api = {
		.api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE,
	};
	struct cmd c;
	struct rsp r;
	int fd;

	while (read(cmd_fd, &c, sizeof(c)) == sizeof(c)) {
		memset(&r, 0, sizeof(r));
		switch (c.op) {
		case CMD_MLOCK:
			r.ret = mlock(c.addr, c.len) ? -errno : 0;
			break;
		case CMD_MAP:
			c.addr = mmap(NULL, c.len, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (c.addr == MAP_FAILED) {
				r.ret = -errno;
				break;
			}
			fill(c.addr, c.len / page_size, c.arg);
			r.val = (unsigned long)c.addr;
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
		case CMD_WRITE:
			for (size_t i = 0; i < c.len; i += page_size)
				c.addr[i] = c.arg;
			break;
		case CMD_READ:
			for (size_t i = 0; i < c.len; i += page_size)
				r.val += __atomic_load_n(c.addr + i, __ATOMIC_RELAXED);
			break;
		case CMD_UNMAP:
			r.ret = munmap(c.addr, c.len) ? -errno : 0;
			break;
		case CMD_NODUMP:
			r.ret = prctl(PR_SET_DUMPABLE, 0) ? -errno : 0;
			break;
		case CMD_SETUID:
			/*
			 * Changing uid clears dumpable: set it back.  Let any
			 * process of the uid attach, also under Yama's
			 * ptrace_scope 1 (EINVAL without Yama: ignored).
			 */
			if (setresuid(c.arg, c.arg, c.arg) ||
			    prctl(PR_SET_DUMPABLE, 1))
				r.ret = -errno;
			prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
			break;
		case CMD_PAGED:
			api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
			fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
			if (fd < 0 || ioctl(fd, UFFDIO_API, &api) ||
			    uffd_register(fd, c.addr, c.len, true, true, false)) {
				r.ret = -errno;
				break;
			}
			r.val = fd;
			break;
		case CMD_SCRIBBLE:
			r.val = scribble(c.addr, c.len / page_size, c.arg);
			break;
		case CMD_SEAL:
			if (mprotect(c.addr, c.len, PROT_READ) ||
			    syscall(__NR_mseal, c.addr, c.len, 0))
				r.ret = -errno;
			break;
		case CMD_REPLACE:
			if (munmap(c.addr, c.len) ||
			    mmap(c.addr, c.len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				 0) != c.addr) {
				r.ret = -errno;
				break;
			}
			memset(c.addr, c.arg, c.len);
			break;
		case CMD_PROTECT:
			r.ret = mprotect(c.addr, c.len, PROT_READ) ? -errno : 0;
			break;
		case CMD_MAP_FILE:
			r.ret = map_file_readonly(&c);
			r.val = (unsigned long)c.addr;
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

static void target_stop(struct target *t)
{
	/* It may sit in a userfault no one answers any more. */
	kill(t->pid, SIGKILL);
	close(t->cmd_fd);
	close(t->rsp_fd);
	close(t->pidfd);
	close(t->pagemap_fd);
	waitpid(t->pid, NULL, 0);
}

/* Why remote MADV_DONTNEED cannot be tested on @t, or NULL if it can. */
static const char *remote_dontneed_missing(struct target *t)
{
	if (!sys_process_madvise(t->pidfd, NULL, 0, MADV_DONTNEED, 0))
		return NULL;
	if (errno == EINVAL)
		return "no process_madvise(MADV_DONTNEED) on another process";
	if (errno == EACCES || errno == EPERM)
		return "may not attach to the target (not root? Yama?)";
	return NULL;
}

/* The target's byte at @addr, read with process_vm_readv(). */
static int target_byte(struct target *t, char *addr)
{
	char c;
	struct iovec local = { .iov_base = &c, .iov_len = 1 };
	struct iovec remote = { .iov_base = addr, .iov_len = 1 };

	if (syscall(__NR_process_vm_readv, t->pid, &local, 1, &remote, 1, 0) != 1)
		return -1;
	return (unsigned char)c;
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

FIXTURE(remote)
{
	struct target t;
	char *mem;		/* NR_PAGES private anon pages, page i = i + 1 */
	char cg[64];		/* a cgroup made for the target, or "" */
};

FIXTURE_SETUP(remote)
{
	const char *why;

	page_size = getpagesize();
	self->cg[0] = 0;
	self->mem = mmap(NULL, NR_PAGES * page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	fill(self->mem, NR_PAGES, 1);
	ASSERT_EQ(target_start(&self->t), 0);

	why = remote_dontneed_missing(&self->t);
	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(remote)
{
	target_stop(&self->t);
	/* The target is gone: its cgroup is empty. */
	if (self->cg[0])
		rmdir(self->cg);
	munmap(self->mem, NR_PAGES * page_size);
}

static struct iovec page_iov(char *base, int i, int n)
{
	return (struct iovec){ .iov_base = base + i * page_size,
			       .iov_len = n * page_size };
}

TEST_F(remote, dontneed_zeroes_only_the_given_pages)
{
	struct iovec iov[] = {
		page_iov(self->mem, 1, 1),
		page_iov(self->mem, 3, 2),
		page_iov(self->mem, 9, 1),
	};
	char *m = self->mem;

	ASSERT_EQ(sys_process_madvise(self->t.pidfd, iov, 3, MADV_DONTNEED, 0),
		  4 * page_size);
	for (int i = 0; i < NR_PAGES; i++) {
		bool zapped = i == 1 || i == 3 || i == 4 || i == 9;

		EXPECT_EQ(pagemap_is_populated(self->t.pagemap_fd,
					       m + i * page_size), !zapped)
			TH_LOG("page %d", i);
		EXPECT_TRUE(target_page_is(&self->t, m, i, zapped ? 0 : i + 1))
			TH_LOG("page %d", i);
		/* The parent's copy is its own: untouched. */
		EXPECT_EQ(m[i * page_size], i + 1);
	}
}

TEST_F(remote, dontneed_stops_at_a_hole_and_counts_completed_bytes)
{
	char *m = self->mem;
	struct iovec iov[3] = {
		page_iov(m, 2, 1),
		page_iov(m, 5, 3),	/* page 6 is a hole in the target */
		page_iov(m, 10, 1),
	};

	ASSERT_EQ(target_call(&self->t, CMD_UNMAP, m + 6 * page_size,
			      page_size, 0).ret, 0);
	/* Only the first element completes: ENOMEM ends the call there. */
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, 3, MADV_DONTNEED, 0),
		  page_size);
	EXPECT_TRUE(target_page_is(&self->t, m, 2, 0));
	EXPECT_TRUE(target_page_is(&self->t, m, 10, 11));
	/* As with madvise(), the failed element was applied around its hole. */
	EXPECT_TRUE(target_page_is(&self->t, m, 5, 0));
	EXPECT_TRUE(target_page_is(&self->t, m, 7, 0));

	/* Alone, the element with the hole fails with ENOMEM. */
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov[1], 1,
				      MADV_DONTNEED, 0), -1);
	EXPECT_EQ(errno, ENOMEM);
}

TEST_F(remote, free_keeps_content_until_reclaim)
{
	struct iovec iov = page_iov(self->mem, 0, NR_PAGES);

	ASSERT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_FREE, 0),
		  NR_PAGES * page_size);
	for (int i = 0; i < NR_PAGES; i++) {
		EXPECT_TRUE(target_page_is(&self->t, self->mem, i, i + 1))
			TH_LOG("page %d", i);
	}
}

/* A memory cgroup holding only the target, to reclaim from it alone. */
static int target_cgroup(struct target *t, char path[64])
{
	char procs[128];
	int fd, n;

	snprintf(path, 64, "/sys/fs/cgroup/process_madv.%d", t->pid);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	fd = open(procs, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = dprintf(fd, "%d", t->pid);
	close(fd);
	return n > 0 ? 0 : -EIO;
}

static void cgroup_reclaim(const char path[64])
{
	char file[128];
	int fd;

	snprintf(file, sizeof(file), "%s/memory.reclaim", path);
	fd = open(file, O_WRONLY);
	if (fd < 0)
		return;
	/* EAGAIN when less than asked could be reclaimed: fine. */
	for (int i = 0; i < 3; i++)
		if (write(fd, "64M", 3) < 0 && errno != EAGAIN)
			break;
	close(fd);
}

/* Run @pid (0: the caller) on the first CPU the caller may use. */
static int pin_to_one_cpu(pid_t pid)
{
	cpu_set_t all, one;

	if (sched_getaffinity(0, sizeof(all), &all))
		return -errno;
	CPU_ZERO(&one);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &all)) {
			CPU_SET(cpu, &one);
			break;
		}
	}
	return sched_setaffinity(pid, sizeof(one), &one) ? -errno : 0;
}

TEST_F(remote, free_then_reclaim_reads_zero_unless_written)
{
	char *cg = self->cg, file[128];
	struct iovec iov;
	char *m, c = 42;
	struct iovec local = { .iov_base = &c, .iov_len = 1 };
	struct iovec remote;
	struct rsp r;

	if (target_cgroup(&self->t, cg)) {
		cg[0] = 0;
		SKIP(return, "no cgroup v2 to put the target in");
	}
	snprintf(file, sizeof(file), "%s/memory.reclaim", cg);
	if (access(file, W_OK))
		SKIP(return, "no memory.reclaim (memory controller off?)");
	/*
	 * MADV_FREE skips folios still in a per-CPU LRU batch; the call
	 * drains only its own CPU's, as madvise() does.  Run the target's
	 * faults, the call and the reclaim on one CPU, so that its drain
	 * reaches them all and nothing depends on where tasks ran.
	 */
	ASSERT_EQ(pin_to_one_cpu(0), 0);
	ASSERT_EQ(pin_to_one_cpu(self->t.pid), 0);
	/* Memory the target faults in itself is charged to its cgroup. */
	r = target_call(&self->t, CMD_MAP, NULL, NR_PAGES * page_size, 1);
	ASSERT_EQ(r.ret, 0);
	m = (char *)r.val;

	iov = page_iov(m, 0, NR_PAGES);
	ASSERT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_FREE, 0),
		  NR_PAGES * page_size);
	/* A write after MADV_FREE cancels it for that page. */
	remote = (struct iovec){ .iov_base = m + 3 * page_size, .iov_len = 1 };
	ASSERT_EQ(syscall(__NR_process_vm_writev, self->t.pid, &local, 1,
			  &remote, 1, 0), 1);

	cgroup_reclaim(cg);
	for (int i = 0; i < NR_PAGES; i++) {
		if (i == 3) {
			EXPECT_EQ(target_byte(&self->t, m + i * page_size), 42);
			continue;
		}
		EXPECT_TRUE(target_page_is(&self->t, m, i, 0))
			TH_LOG("page %d was not reclaimed", i);
	}
}

TEST_F(remote, dontneed_locked_is_refused)
{
	struct iovec iov = page_iov(self->mem, 0, 1);

	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1,
				      MADV_DONTNEED_LOCKED, 0), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_TRUE(target_page_is(&self->t, self->mem, 0, 1));
}

TEST_F(remote, dontneed_on_mlocked_memory_is_einval)
{
	struct iovec iov = page_iov(self->mem, 0, NR_PAGES);

	ASSERT_EQ(target_call(&self->t, CMD_MLOCK, self->mem,
			      NR_PAGES * page_size, 0).ret, 0);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED, 0),
		  -1);
	EXPECT_EQ(errno, EINVAL);
	for (int i = 0; i < NR_PAGES; i++) {
		EXPECT_TRUE(target_page_is(&self->t, self->mem, i, i + 1))
			TH_LOG("page %d", i);
	}
}

TEST_F(remote, unknown_flags_are_einval)
{
	struct iovec iov = page_iov(self->mem, 0, 1);

	/* Bit 0 is PMADV_ANON_ONLY now: the top bit is no flag yet. */
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED,
				      1u << 31), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_TRUE(target_page_is(&self->t, self->mem, 0, 1));
}

TEST_F(remote, vlen_over_iov_max_is_einval)
{
	static struct iovec iov[IOV_MAX + 1];

	for (int i = 0; i <= IOV_MAX; i++)
		iov[i] = page_iov(self->mem, 0, 1);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, IOV_MAX + 1,
				      MADV_DONTNEED, 0), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_TRUE(target_page_is(&self->t, self->mem, 0, 1));
}

TEST_F(remote, bad_iovec_pointer_is_efault)
{
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, (struct iovec *)8, 1,
				      MADV_DONTNEED, 0), -1);
	EXPECT_EQ(errno, EFAULT);
}

TEST_F(remote, unaligned_start_is_einval_after_earlier_elements)
{
	struct iovec iov[2] = {
		page_iov(self->mem, 0, 1),
		{ .iov_base = self->mem + 2 * page_size + 1, .iov_len = 10 },
	};

	/* The first element completes, the second fails: its bytes only. */
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, 2, MADV_DONTNEED, 0),
		  page_size);
	EXPECT_TRUE(target_page_is(&self->t, self->mem, 0, 0));
	EXPECT_TRUE(target_page_is(&self->t, self->mem, 2, 3));

	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov[1], 1,
				      MADV_DONTNEED, 0), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(remote, pfnmap_is_einval)
{
	char line[256], *vvar = NULL;
	unsigned long start, end;
	struct iovec iov;
	FILE *maps;

	/* [vvar] is VM_PFNMAP | VM_IO; the child has it where we do. */
	maps = fopen("/proc/self/maps", "r");
	ASSERT_NE(maps, NULL);
	while (fgets(line, sizeof(line), maps))
		if (strstr(line, "[vvar]") &&
		    sscanf(line, "%lx-%lx", &start, &end) == 2)
			vvar = (char *)start;
	fclose(maps);
	if (!vvar)
		SKIP(return, "no [vvar] mapping");
	iov = (struct iovec){ .iov_base = vvar, .iov_len = page_size };
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED, 0),
		  -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(remote, exited_target_is_esrch)
{
	struct iovec iov = page_iov(self->mem, 0, 1);

	/* A zombie has no mm left. */
	close(self->t.cmd_fd);
	self->t.cmd_fd = open("/dev/null", O_WRONLY);
	ASSERT_EQ(waitid(P_PIDFD, self->t.pidfd, NULL, WEXITED | WNOWAIT), 0);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED, 0),
		  -1);
	EXPECT_EQ(errno, ESRCH);
}

struct call_as {
	int ruid, euid;
	pid_t pid;
	int pidfd;
	struct iovec *iov;
	int advice;
	bool vm_writev;
};

static long call_as_child(void *arg)
{
	struct call_as *a = arg;
	struct iovec one = { .iov_base = a->iov->iov_base, .iov_len = 1 };
	char c = 0x55;
	struct iovec local = { .iov_base = &c, .iov_len = 1 };
	long r;

	if (setresuid(a->ruid, a->euid, a->euid))
		return -1000 - errno;
	if (a->vm_writev)
		r = syscall(__NR_process_vm_writev, a->pid, &local, 1, &one, 1,
			    0);
	else
		r = sys_process_madvise(a->pidfd, a->iov, 1, a->advice, 0);
	return r == -1 ? -errno : r;
}

/*
 * Run process_madvise() on one range in a child whose real uid is @ruid
 * and whose effective (and so filesystem) uid is @euid: bytes or -errno.
 * With @vm_writev, write one byte there with process_vm_writev() instead:
 * 1 or -errno.
 */
static long call_as(int ruid, int euid, pid_t pid, int pidfd,
		    struct iovec *iov, int advice, bool vm_writev)
{
	struct call_as a = {
		.ruid = ruid, .euid = euid, .pid = pid, .pidfd = pidfd,
		.iov = iov, .advice = advice, .vm_writev = vm_writev,
	};

	return run_in_child(call_as_child, &a);
}

/* Run process_madvise() on one range as @uid in a child: bytes or -errno. */
static long madvise_as(int uid, int pidfd, struct iovec *iov, int advice)
{
	return call_as(uid, uid, 0, pidfd, iov, advice, false);
}

TEST_F(remote, same_uid_needs_no_cap_sys_nice_for_dontneed)
{
	struct iovec iov = page_iov(self->mem, 0, 1);

	if (geteuid())
		SKIP(return, "needs root to change uids");
	ASSERT_EQ(target_call(&self->t, CMD_SETUID, NULL, 0, 1000).ret, 0);
	/* Destructive advice: the write right (ptrace attach) is enough. */
	EXPECT_EQ(madvise_as(1000, self->t.pidfd, &iov, MADV_DONTNEED),
		  page_size);
	EXPECT_TRUE(target_page_is(&self->t, self->mem, 0, 0));
}

TEST_F(remote, same_uid_hints_still_need_cap_sys_nice)
{
	struct iovec iov = page_iov(self->mem, 0, 1);

	if (geteuid())
		SKIP(return, "needs root to change uids");
	ASSERT_EQ(target_call(&self->t, CMD_SETUID, NULL, 0, 1000).ret, 0);
	EXPECT_EQ(madvise_as(1000, self->t.pidfd, &iov, MADV_COLD), -EPERM);
}

TEST_F(remote, other_uid_is_eacces)
{
	struct iovec iov = page_iov(self->mem, 0, 1);

	if (geteuid())
		SKIP(return, "needs root to change uids");
	ASSERT_EQ(target_call(&self->t, CMD_SETUID, NULL, 0, 1000).ret, 0);
	EXPECT_EQ(madvise_as(1001, self->t.pidfd, &iov, MADV_DONTNEED),
		  -EACCES);
	EXPECT_TRUE(target_page_is(&self->t, self->mem, 0, 1));
}

TEST_F(remote, nondumpable_target_is_eacces)
{
	struct iovec iov = page_iov(self->mem, 0, 1);

	if (geteuid())
		SKIP(return, "needs root to change uids");
	ASSERT_EQ(target_call(&self->t, CMD_SETUID, NULL, 0, 1000).ret, 0);
	ASSERT_EQ(target_call(&self->t, CMD_NODUMP, NULL, 0, 0).ret, 0);
	EXPECT_EQ(madvise_as(1000, self->t.pidfd, &iov, MADV_DONTNEED),
		  -EACCES);
	EXPECT_TRUE(target_page_is(&self->t, self->mem, 0, 1));
}

TEST_F(remote, sealed_readonly_anon_is_eperm)
{
	struct iovec iov;
	struct rsp r;
	char *m;

	r = target_call(&self->t, CMD_MAP, NULL, page_size, 7);
	ASSERT_EQ(r.ret, 0);
	m = (char *)r.val;
	/* mseal() exists on every 64-bit 6.10+ kernel this test runs on. */
	ASSERT_EQ(target_call(&self->t, CMD_SEAL, m, page_size, 0).ret, 0);
	iov = page_iov(m, 0, 1);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED, 0),
		  -1);
	EXPECT_EQ(errno, EPERM);
	EXPECT_TRUE(target_page_is(&self->t, m, 0, 7));
}

/* Write byte @c at @addr of the target with process_vm_writev(): 0 or -errno. */
static int vm_write_byte(struct target *t, char *addr, char c)
{
	struct iovec local = { .iov_base = &c, .iov_len = 1 };
	struct iovec remote = { .iov_base = addr, .iov_len = 1 };

	if (syscall(__NR_process_vm_writev, t->pid, &local, 1, &remote, 1, 0) != 1)
		return -errno;
	return 0;
}

/*
 * The write right is checked as process_vm_writev() checks it, with the
 * caller's real uid (PTRACE_MODE_ATTACH_REALCREDS), not its filesystem
 * uid: a caller whose effective uid is the target's but whose real uid is
 * not may do neither, and one whose real uid is the target's may do both.
 */
TEST_F(remote, dontneed_checks_the_real_uid_as_process_vm_writev_does)
{
	struct iovec iov = page_iov(self->mem, 0, 1);
	pid_t pid = self->t.pid;
	int pidfd = self->t.pidfd;

	if (geteuid())
		SKIP(return, "needs root to change uids");
	ASSERT_EQ(target_call(&self->t, CMD_SETUID, NULL, 0, 1000).ret, 0);
	EXPECT_EQ(call_as(2000, 1000, pid, pidfd, &iov, 0, true), -EPERM);
	EXPECT_EQ(call_as(2000, 1000, pid, pidfd, &iov, MADV_DONTNEED, false),
		  -EACCES);
	EXPECT_EQ(call_as(2000, 1000, pid, pidfd, &iov, MADV_FREE, false),
		  -EACCES);
	EXPECT_TRUE(target_page_is(&self->t, self->mem, 0, 1));

	EXPECT_EQ(call_as(1000, 2000, pid, pidfd, &iov, 0, true), 1);
	EXPECT_EQ(call_as(1000, 2000, pid, pidfd, &iov, MADV_DONTNEED, false),
		  page_size);
	EXPECT_TRUE(target_page_is(&self->t, self->mem, 0, 0));
}

/*
 * Destructive advice from another process applies only to memory that
 * process_vm_writev() could write: not to read-only private memory, such
 * as RELRO, read-only data or JIT code, which the process relies on.
 */
TEST_F(remote, dontneed_on_readonly_private_anon_is_eperm)
{
	struct iovec iov;
	struct rsp r;
	char *m;

	r = target_call(&self->t, CMD_MAP, NULL, 2 * page_size, 7);
	ASSERT_EQ(r.ret, 0);
	m = (char *)r.val;
	ASSERT_EQ(target_call(&self->t, CMD_PROTECT, m, 2 * page_size, 0).ret, 0);
	iov = page_iov(m, 0, 2);
	EXPECT_EQ(vm_write_byte(&self->t, m, 0), -EFAULT);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED, 0),
		  -1);
	EXPECT_EQ(errno, EPERM);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_FREE, 0), -1);
	EXPECT_EQ(errno, EPERM);
	EXPECT_TRUE(target_page_is(&self->t, m, 0, 7));
	EXPECT_TRUE(target_page_is(&self->t, m, 1, 8));
	EXPECT_TRUE(pagemap_is_populated(self->t.pagemap_fd, m));
}

TEST_F(remote, dontneed_on_readonly_private_file_is_eperm)
{
	struct iovec iov;
	struct rsp r;
	char *m;

	/* The file holds 'F', the process's own copies 'P'. */
	r = target_call(&self->t, CMD_MAP_FILE, NULL, 2 * page_size, 'P');
	ASSERT_EQ(r.ret, 0);
	m = (char *)r.val;
	iov = page_iov(m, 0, 2);
	EXPECT_EQ(vm_write_byte(&self->t, m, 0), -EFAULT);
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED, 0),
		  -1);
	EXPECT_EQ(errno, EPERM);
	EXPECT_TRUE(target_page_is(&self->t, m, 0, 'P'));
	EXPECT_TRUE(target_page_is(&self->t, m, 1, 'P'));
}

/* A process_madvise() call made from a thread, to be parked. */
struct bg_call {
	pthread_t thread;
	int pidfd;
	struct iovec iov;
	int advice;
	long ret;
	int err;
};

static void *bg_call_run(void *arg)
{
	struct bg_call *c = arg;

	c->ret = sys_process_madvise(c->pidfd, &c->iov, 1, c->advice, 0);
	c->err = errno;
	return NULL;
}

/*
 * Park a remote MADV_DONTNEED of one page in userfaultfd_remove(): we are
 * the target's monitor and leave its UFFD_EVENT_REMOVE unread, so the call
 * waits with the target's mmap_lock dropped.  Meanwhile the target unmaps
 * the page, maps fresh memory filled with 'R' at its address, and applies
 * @op to it.  Then we read the event and the call goes on with the VMA it
 * finds there.  Returns the call's bytes or -errno, or 1 if the target
 * has no userfaultfd; *@addr is the page.
 */
static long dontneed_across_remap(struct __test_metadata *_metadata,
				  struct target *t, int op, char **addr)
{
	struct bg_call c = { .pidfd = t->pidfd, .advice = MADV_DONTNEED };
	struct pollfd pfd = { .events = POLLIN };
	struct uffd_msg msg;
	struct rsp r;
	int pending;

	r = target_call(t, CMD_MAP, NULL, page_size, 'A');
	ASSERT_EQ(r.ret, 0);
	*addr = (char *)r.val;
	r = target_call(t, CMD_UFFD, *addr, page_size, 0);
	if (r.ret)
		return 1;
	pfd.fd = syscall(__NR_pidfd_getfd, t->pidfd, (int)r.val, 0);
	ASSERT_GE(pfd.fd, 0);
	c.iov = page_iov(*addr, 0, 1);
	ASSERT_EQ(pthread_create(&c.thread, NULL, bg_call_run, &c), 0);
	/* The event is pending once the call waits without mmap_lock. */
	pending = poll(&pfd, 1, 30000);
	if (pending == 1) {
		EXPECT_EQ(target_call(t, CMD_REPLACE, *addr, page_size, 'R').ret, 0);
		EXPECT_EQ(target_call(t, op, *addr, page_size, 0).ret, 0);
		EXPECT_EQ(read(pfd.fd, &msg, sizeof(msg)), sizeof(msg));
		EXPECT_EQ(msg.event, UFFD_EVENT_REMOVE);
	}
	/* Closing the monitor's last descriptor releases a stuck call. */
	close(pfd.fd);
	pthread_join(c.thread, NULL);
	EXPECT_EQ(pending, 1) TH_LOG("the call never reached the monitor");
	return c.ret < 0 ? -c.err : c.ret;
}

/*
 * The reviewed hole: a remote MADV_DONTNEED looked the VMA up again after
 * userfaultfd_remove() and zapped what it found there, sealed or not.
 * Every rule holds for the VMA actually zapped: its seal, the rules for
 * another process's memory (writable), and its kind (not mlocked).
 */
TEST_F(remote, dontneed_checks_the_seal_of_the_vma_it_zaps)
{
	char *m;
	long ret = dontneed_across_remap(_metadata, &self->t, CMD_SEAL, &m);

	if (ret == 1)
		SKIP(return, "no userfaultfd with EVENT_REMOVE");
	EXPECT_EQ(ret, -EPERM);
	EXPECT_TRUE(target_page_is(&self->t, m, 0, 'R'));
}

TEST_F(remote, dontneed_checks_the_protection_of_the_vma_it_zaps)
{
	char *m;
	long ret = dontneed_across_remap(_metadata, &self->t, CMD_PROTECT, &m);

	if (ret == 1)
		SKIP(return, "no userfaultfd with EVENT_REMOVE");
	EXPECT_EQ(ret, -EPERM);
	EXPECT_TRUE(target_page_is(&self->t, m, 0, 'R'));
}

TEST_F(remote, dontneed_checks_the_mlock_of_the_vma_it_zaps)
{
	char *m;
	long ret = dontneed_across_remap(_metadata, &self->t, CMD_MLOCK, &m);

	if (ret == 1)
		SKIP(return, "no userfaultfd with EVENT_REMOVE");
	EXPECT_EQ(ret, -EINVAL);
	EXPECT_TRUE(target_page_is(&self->t, m, 0, 'R'));
}

struct remove_events {
	int uffd;
	int nr;
	unsigned long start[8], end[8];
	bool stop;	/* set and read with __atomic builtins */
};

static void *read_remove_events(void *arg)
{
	struct remove_events *ev = arg;
	struct uffd_msg msg;

	while (!__atomic_load_n(&ev->stop, __ATOMIC_ACQUIRE)) {
		if (read(ev->uffd, &msg, sizeof(msg)) != sizeof(msg)) {
			usleep(1000);
			continue;
		}
		if (msg.event == UFFD_EVENT_REMOVE && ev->nr < 8) {
			ev->start[ev->nr] = msg.arg.remove.start;
			ev->end[ev->nr] = msg.arg.remove.end;
			ev->nr++;
		}
	}
	return NULL;
}

TEST_F(remote, dontneed_tells_the_targets_monitor_remove_events)
{
	struct remove_events ev = { 0 };
	char *m = self->mem;
	struct iovec iov[3] = {
		page_iov(m, 1, 1), page_iov(m, 4, 2), page_iov(m, 12, 1),
	};
	pthread_t reader;
	struct rsp r;

	r = target_call(&self->t, CMD_UFFD, m, NR_PAGES * page_size, 0);
	if (r.ret)
		SKIP(return, "no userfaultfd with EVENT_REMOVE: %s",
		     strerror(-r.ret));
	/* The monitor is us, with the target's userfaultfd. */
	ev.uffd = syscall(__NR_pidfd_getfd, self->t.pidfd, (int)r.val, 0);
	ASSERT_GE(ev.uffd, 0);
	ASSERT_EQ(pthread_create(&reader, NULL, read_remove_events, &ev), 0);

	/*
	 * userfaultfd_remove() drops the target's mmap_lock until we read
	 * each event: the call must survive that for every element.
	 */
	EXPECT_EQ(sys_process_madvise(self->t.pidfd, iov, 3, MADV_DONTNEED, 0),
		  4 * page_size);
	__atomic_store_n(&ev.stop, true, __ATOMIC_RELEASE);
	pthread_join(reader, NULL);
	close(ev.uffd);

	ASSERT_EQ(ev.nr, 3);
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(ev.start[i], (unsigned long)iov[i].iov_base);
		EXPECT_EQ(ev.end[i], (unsigned long)iov[i].iov_base +
				     iov[i].iov_len);
	}
	/* Reading a zapped page would wait for a monitor: use pagemap. */
	EXPECT_FALSE(pagemap_is_populated(self->t.pagemap_fd, m + 4 * page_size));
	EXPECT_TRUE(pagemap_is_populated(self->t.pagemap_fd, m + 2 * page_size));
}

/*
 * The memory types a manager meets.  What a page reads after DONTNEED
 * depends on it: zero for private anonymous and hugetlb memory, the
 * object's content for shared memory, the file's for a private file map.
 */
FIXTURE(types)
{
	struct target t;
	char *mem;
	size_t size;	/* two huge pages, or two PMDs for THP */
	size_t unit;	/* the page size of the mapping */
	int fd;
};

FIXTURE_VARIANT(types)
{
	int kind;
};

enum { ANON_THP, SHMEM, FILE_PRIVATE, HUGETLB };

FIXTURE_VARIANT_ADD(types, anon_thp) { .kind = ANON_THP };
FIXTURE_VARIANT_ADD(types, shmem) { .kind = SHMEM };
FIXTURE_VARIANT_ADD(types, file_private) { .kind = FILE_PRIVATE };
FIXTURE_VARIANT_ADD(types, hugetlb) { .kind = HUGETLB };

FIXTURE_SETUP(types)
{
	size_t pmd = read_pmd_pagesize();
	const char *why;
	char *area;

	page_size = getpagesize();
	self->fd = -1;
	self->unit = page_size;
	self->size = 2 * (pmd ? pmd : 2UL << 20);

	switch (variant->kind) {
	case ANON_THP:
		if (!pmd)
			SKIP(return, "no THP");
		/* Align to a PMD so that the range can be one huge page. */
		area = mmap(NULL, 2 * self->size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(area, MAP_FAILED);
		self->mem = (char *)(((unsigned long)area + pmd - 1) & ~(pmd - 1));
		ASSERT_EQ(madvise(self->mem, self->size, MADV_HUGEPAGE), 0);
		break;
	case SHMEM:
		self->mem = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(self->mem, MAP_FAILED);
		break;
	case FILE_PRIVATE:
		self->fd = memfd_create("process_madv", 0);
		ASSERT_GE(self->fd, 0);
		ASSERT_EQ(ftruncate(self->fd, self->size), 0);
		self->mem = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
				 MAP_SHARED, self->fd, 0);
		ASSERT_NE(self->mem, MAP_FAILED);
		fill(self->mem, self->size / page_size, 1);	/* the file */
		munmap(self->mem, self->size);
		self->mem = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE, self->fd, 0);
		ASSERT_NE(self->mem, MAP_FAILED);
		break;
	case HUGETLB:
		self->unit = default_huge_page_size();
		if (!self->unit || get_free_hugepages() < 4)
			SKIP(return, "not enough free huge pages");
		self->size = 2 * self->unit;
		self->mem = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		ASSERT_NE(self->mem, MAP_FAILED);
		break;
	}
	if (variant->kind != FILE_PRIVATE)
		fill(self->mem, self->size / page_size, 1);
	if (variant->kind == ANON_THP &&
	    !check_huge_anon(self->mem, self->size / pmd, pmd))
		SKIP(return, "no THP allocated");
	ASSERT_EQ(target_start(&self->t), 0);
	/*
	 * Private file and hugetlb: the child's pages become its own copies
	 * ('P').  THP and shmem stay shared with the parent: a write would
	 * split the child's huge PMD, and shmem has no private copy.
	 */
	if (variant->kind == FILE_PRIVATE || variant->kind == HUGETLB)
		ASSERT_EQ(target_call(&self->t, CMD_WRITE, self->mem,
				      self->size, 'P').ret, 0);
	/* fork() copies no page tables of shared memory: map it in. */
	if (variant->kind == SHMEM)
		ASSERT_EQ(target_call(&self->t, CMD_READ, self->mem,
				      self->size, 0).ret, 0);
	why = remote_dontneed_missing(&self->t);
	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(types)
{
	target_stop(&self->t);
	if (self->fd >= 0)
		close(self->fd);
}

/* What the first byte of page @i reads in the target after DONTNEED. */
static int byte_after_dontneed(int kind, int i)
{
	switch (kind) {
	case SHMEM:
		return (1 + i) & 0xff;		/* the object keeps it */
	case FILE_PRIVATE:
		return (1 + i) & 0xff;		/* the file's content */
	default:
		return 0;
	}
}

TEST_F(types, dontneed_whole_range)
{
	struct iovec iov = { .iov_base = self->mem, .iov_len = self->size };
	size_t npages = self->size / page_size;

	ASSERT_TRUE(pagemap_is_populated(self->t.pagemap_fd, self->mem));
	ASSERT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED, 0),
		  self->size);
	/* Page tables first: reading faults whole huge pages back in. */
	for (size_t i = 0; i < npages; i += npages / 8) {
		EXPECT_FALSE(pagemap_is_populated(self->t.pagemap_fd,
						  self->mem + i * page_size))
			TH_LOG("page %zu", i);
	}
	for (size_t i = 0; i < npages; i += npages / 8) {
		EXPECT_EQ(target_byte(&self->t, self->mem + i * page_size),
			  byte_after_dontneed(variant->kind, i))
			TH_LOG("page %zu", i);
	}
}

TEST_F(types, dontneed_first_unit_keeps_the_rest)
{
	struct iovec iov = { .iov_base = self->mem, .iov_len = self->unit };
	size_t first = self->unit / page_size;
	int kept = variant->kind == SHMEM || variant->kind == ANON_THP ?
		   1 + first : 'P';

	ASSERT_TRUE(pagemap_is_populated(self->t.pagemap_fd, self->mem));
	ASSERT_EQ(sys_process_madvise(self->t.pidfd, &iov, 1, MADV_DONTNEED, 0),
		  self->unit);
	/* Page tables before any read, which could fault pages around in. */
	EXPECT_FALSE(pagemap_is_populated(self->t.pagemap_fd, self->mem));
	/* The next page (a THP split, not dropped) keeps its data. */
	EXPECT_TRUE(pagemap_is_populated(self->t.pagemap_fd,
					 self->mem + first * page_size));
	EXPECT_EQ(target_byte(&self->t, self->mem),
		  byte_after_dontneed(variant->kind, 0));
	EXPECT_EQ(target_byte(&self->t, self->mem + first * page_size),
		  kept & 0xff);
}

/*
 * The loop of a userspace memory manager (seed of this feature): it owns
 * the target's userfaultfd (taken with pidfd_getfd()), and in rounds
 * write-protects scattered resident pages, reads them with
 * process_vm_readv(), keeps them, and drops them with one
 * process_madvise(MADV_DONTNEED); a MISSING fault brings a page back with
 * UFFDIO_COPY.  The target writes all along; every page must come back
 * with exactly the data the target last wrote.
 */
#define PAGER_PAGES	64

struct pager {
	int uffd;
	struct target *t;
	char *area;			/* in the target */
	char *saved;			/* our copies, PAGER_PAGES pages */
	bool resident[PAGER_PAGES];
	pthread_mutex_t lock;
	bool stop;			/* __atomic */
	unsigned long restored;
	int error;
};

static int pager_wp(struct pager *pg, int i, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (unsigned long)pg->area + i * page_size,
			   .len = page_size },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(pg->uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

static void *pager_faults(void *arg)
{
	struct pager *pg = arg;
	struct pollfd pfd = { .fd = pg->uffd, .events = POLLIN };
	struct uffd_msg msg;

	while (!__atomic_load_n(&pg->stop, __ATOMIC_ACQUIRE)) {
		unsigned long addr;
		int i;

		if (poll(&pfd, 1, 10) <= 0 ||
		    read(pg->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		/* A write to a page being evicted: the evictor wakes it. */
		if (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)
			continue;
		addr = msg.arg.pagefault.address & ~(page_size - 1);
		i = (addr - (unsigned long)pg->area) / page_size;
		pthread_mutex_lock(&pg->lock);
		if (!pg->resident[i]) {
			struct uffdio_copy copy = {
				.dst = addr, .len = page_size,
				.src = (unsigned long)pg->saved + i * page_size,
			};

			if (ioctl(pg->uffd, UFFDIO_COPY, &copy) && errno != EEXIST)
				pg->error = errno;
			pg->resident[i] = true;
			pg->restored++;
		} else {
			struct uffdio_range r = { .start = addr, .len = page_size };

			ioctl(pg->uffd, UFFDIO_WAKE, &r);
		}
		pthread_mutex_unlock(&pg->lock);
	}
	return NULL;
}

/* Evict the resident pages i with i % 4 == round % 4; returns pages evicted. */
static long pager_evict(struct pager *pg, int round)
{
	struct iovec local[PAGER_PAGES], remote[PAGER_PAGES];
	int idx[PAGER_PAGES], n = 0;
	long ret;

	pthread_mutex_lock(&pg->lock);
	for (int i = round % 4; i < PAGER_PAGES; i += 4) {
		if (!pg->resident[i] || pager_wp(pg, i, true))
			continue;
		idx[n] = i;
		local[n] = (struct iovec){ pg->saved + i * page_size, page_size };
		remote[n] = (struct iovec){ pg->area + i * page_size, page_size };
		n++;
	}
	ret = -1;
	if (n && syscall(__NR_process_vm_readv, pg->t->pid, local, n, remote,
			 n, 0) == (long)(n * page_size) &&
	    sys_process_madvise(pg->t->pidfd, remote, n, MADV_DONTNEED, 0) ==
	    (long)(n * page_size))
		ret = n;
	for (int k = 0; k < n; k++) {
		if (ret > 0)
			pg->resident[idx[k]] = false;
		/* Wakes a write that hit the protection; it faults in again. */
		pager_wp(pg, idx[k], false);
	}
	pthread_mutex_unlock(&pg->lock);
	return n ? ret : 0;
}

TEST_F_TIMEOUT(remote, pager_gets_every_page_back_byte_identical, 180)
{
	struct pager pg = { .t = &self->t, .lock = PTHREAD_MUTEX_INITIALIZER };
	struct pollfd done = { .fd = self->t.rsp_fd, .events = POLLIN };
	struct cmd c;
	struct rsp r;
	pthread_t faults;
	long evicted = 0;
	int rounds = 0;

	r = target_call(&self->t, CMD_MAP, NULL, PAGER_PAGES * page_size, 0);
	ASSERT_EQ(r.ret, 0);
	pg.area = (char *)r.val;
	for (int i = 0; i < PAGER_PAGES; i++) {
		struct paged_page pp = { .count = 0, .index = i };
		char last = i;
		struct iovec l[2] = { { &pp, sizeof(pp) }, { &last, 1 } };
		struct iovec rm[2] = {
			{ pg.area + i * page_size, sizeof(pp) },
			{ pg.area + (i + 1) * page_size - 1, 1 },
		};

		ASSERT_EQ(syscall(__NR_process_vm_writev, self->t.pid, l, 2,
				  rm, 2, 0), sizeof(pp) + 1);
		pg.resident[i] = true;
	}
	r = target_call(&self->t, CMD_PAGED, pg.area, PAGER_PAGES * page_size, 0);
	if (r.ret)
		SKIP(return, "no userfaultfd MISSING + WP: %s", strerror(-r.ret));
	pg.uffd = syscall(__NR_pidfd_getfd, self->t.pidfd, (int)r.val, 0);
	ASSERT_GE(pg.uffd, 0);
	pg.saved = malloc(PAGER_PAGES * page_size);
	ASSERT_NE(pg.saved, NULL);
	ASSERT_EQ(pthread_create(&faults, NULL, pager_faults, &pg), 0);

	/* The target scribbles while we page; its answer ends the rounds. */
	c = (struct cmd){ .op = CMD_SCRIBBLE, .addr = pg.area,
			  .len = PAGER_PAGES * page_size, .arg = 20000 };
	ASSERT_EQ(write(self->t.cmd_fd, &c, sizeof(c)), sizeof(c));
	while (poll(&done, 1, 0) == 0 || rounds < 4) {
		long n = pager_evict(&pg, rounds++);

		if (n < 0) {
			evicted = -1;
			break;
		}
		evicted += n;
		usleep(2000);
	}
	/* No ASSERT while the fault thread runs: it uses our stack. */
	if (evicted >= 0 && read(self->t.rsp_fd, &r, sizeof(r)) != sizeof(r))
		evicted = -2;
	__atomic_store_n(&pg.stop, true, __ATOMIC_RELEASE);
	pthread_join(faults, NULL);
	ASSERT_GE(evicted, 0) TH_LOG("round %d: eviction or target failed", rounds);
	TH_LOG("%d rounds, %ld pages evicted, %lu restored", rounds, evicted,
	       pg.restored);
	EXPECT_EQ(pg.error, 0);
	EXPECT_GT(evicted, 0);
	EXPECT_GT(pg.restored, 0);
	EXPECT_EQ(r.val, 0) TH_LOG("%lu pages came back wrong", r.val);
	close(pg.uffd);
	free(pg.saved);
}

/* On the caller's own mm, process_madvise() takes any advice. */
TEST(self_takes_any_advice)
{
	size_t ps = getpagesize();
	int pidfd = sys_pidfd_open(getpid());
	char *m = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iovec iov = { .iov_base = m, .iov_len = 4 * ps };
	int fd = open("/proc/self/pagemap", O_RDONLY);

	ASSERT_NE(m, MAP_FAILED);
	ASSERT_GE(pidfd, 0);
	ASSERT_GE(fd, 0);
	if (sys_process_madvise(pidfd, &iov, 1, MADV_POPULATE_WRITE, 0) < 0 &&
	    errno == EINVAL)
		SKIP(return, "process_madvise() restricts advice on self");
	EXPECT_TRUE(pagemap_is_populated(fd, m + 3 * ps));
	memset(m, 1, 4 * ps);
	ASSERT_EQ(mlock(m, 4 * ps), 0);
	EXPECT_EQ(sys_process_madvise(pidfd, &iov, 1, MADV_DONTNEED_LOCKED, 0),
		  4 * ps);
	EXPECT_EQ(m[0], 0);
	close(fd);
	close(pidfd);
	munmap(m, 4 * ps);
}

struct local_zap {
	char *addr;
	int ret;
	int err;
};

static void *local_zap_run(void *arg)
{
	struct local_zap *z = arg;

	z->ret = madvise(z->addr, page_size, MADV_DONTNEED);
	z->err = errno;
	return NULL;
}

/*
 * The same race on a process's own memory, which 6.12 has: madvise() waits
 * for the process's own monitor to read UFFD_EVENT_REMOVE while another
 * thread replaces the page with sealed read-only memory.  A seal taken
 * before the zap must hold.
 */
TEST(dontneed_checks_the_seal_of_the_vma_it_zaps_locally)
{
	struct uffdio_api api = {
		.api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE,
	};
	struct local_zap z = { 0 };
	struct pollfd pfd = { .events = POLLIN };
	struct uffd_msg msg;
	pthread_t thread;
	int pending;
	char *m;

	page_size = getpagesize();
	m = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(m, MAP_FAILED);
	memset(m, 'A', page_size);
	pfd.fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (pfd.fd < 0 || ioctl(pfd.fd, UFFDIO_API, &api) ||
	    uffd_register(pfd.fd, m, page_size, true, false, false))
		SKIP(return, "no userfaultfd with EVENT_REMOVE");
	z.addr = m;
	ASSERT_EQ(pthread_create(&thread, NULL, local_zap_run, &z), 0);
	pending = poll(&pfd, 1, 30000);
	if (pending == 1) {
		EXPECT_EQ(munmap(m, page_size), 0);
		EXPECT_EQ(mmap(m, page_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), m);
		memset(m, 'R', page_size);
		EXPECT_EQ(mprotect(m, page_size, PROT_READ), 0);
		EXPECT_EQ(syscall(__NR_mseal, m, page_size, 0), 0);
		EXPECT_EQ(read(pfd.fd, &msg, sizeof(msg)), sizeof(msg));
	}
	close(pfd.fd);
	pthread_join(thread, NULL);
	ASSERT_EQ(pending, 1) TH_LOG("madvise() never reached the monitor");
	EXPECT_EQ(z.ret, -1);
	EXPECT_EQ(z.err, EPERM);
	EXPECT_EQ(m[0], 'R');
}

/*
 * import_iovec() caps a vector at MAX_RW_COUNT bytes (INT_MAX rounded down
 * to a page): process_madvise() advises that much, cutting the element
 * that crosses it, and returns it; the caller calls again for the rest.
 */
TEST(vector_is_cut_at_max_rw_count)
{
	size_t ps = getpagesize(), half = 3UL << 29;
	long max_rw = INT_MAX & ~(ps - 1);
	int pidfd = sys_pidfd_open(getpid());
	char *m = mmap(NULL, 2 * half, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct iovec iov[2] = {
		{ .iov_base = m, .iov_len = half },
		{ .iov_base = m + half, .iov_len = half },
	};

	ASSERT_NE(m, MAP_FAILED);
	ASSERT_GE(pidfd, 0);
	/* MADV_COLD walks empty page tables here: nothing to do. */
	EXPECT_EQ(sys_process_madvise(pidfd, iov, 2, MADV_COLD, 0), max_rw);
	close(pidfd);
	munmap(m, 2 * half);
}

TEST_HARNESS_MAIN
