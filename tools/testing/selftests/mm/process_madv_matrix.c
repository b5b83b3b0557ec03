// SPDX-License-Identifier: GPL-2.0
/*
 * The permission matrix of process_madvise() on another process: every
 * advice it accepts remotely, from callers in every relation to the
 * target, on every kind of memory.  Each call must fail with the errno
 * the rules give, and a call that fails must leave the target's memory
 * exactly as it was: the same page table entries (pagemap, frame numbers
 * included), the same data, no blocks added to a file, no huge page
 * taken, no userfault or event sent to the target's monitor.
 *
 * The rules under test:
 * - a process that exited has no mm: ESRCH;
 * - the hints (MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED, MADV_COLLAPSE)
 *   need PTRACE_MODE_READ_FSCREDS and CAP_SYS_NICE;
 * - the populate advice needs PTRACE_MODE_ATTACH_REALCREDS, as a write
 *   with process_vm_writev() does, and CAP_SYS_NICE;
 * - MADV_DONTNEED and MADV_FREE need PTRACE_MODE_ATTACH_REALCREDS only,
 *   and apply only where process_vm_writev() could write: EPERM on
 *   memory that is not writable, and on sealed memory;
 * - a failed access check is EACCES, a missing CAP_SYS_NICE EPERM;
 * - past those, a remote call gets what the target's own madvise() gets
 *   on the same kind of memory (the "oracle": the target applies the
 *   advice to a twin of the range first), except that a remote
 *   MADV_PAGEOUT never purges volatile memory.
 *
 * A populate that waits in the target's userfaultfd while the target
 * exits or execs stops at the next element (the midcall tests).
 *
 * Yama's ptrace_scope is set per relation and restored after each test
 * (in the harness's process, FIXTURE_TEARDOWN_PARENT) and when the
 * harness exits.  ptrace_scope 3 cannot be undone until reboot: the yama3
 * relation only runs when the scope is 3 already, and is skipped otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
#include <linux/capability.h>
#include <linux/mman.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"
#include "vm_util.h"

#ifndef MADV_POPULATE
#define MADV_POPULATE 26
#endif
#ifndef MADV_VOLATILE
#define MADV_VOLATILE 27
#define MADV_NONVOLATILE 28
#endif
#ifndef __NR_mseal
#define __NR_mseal 462
#endif

#define NR_PAGES 4		/* of each kind but hugetlb */
#define MAX_PAGES 512		/* a 2 MiB huge page */
#define UID 1000		/* the target's */
#define OTHER_UID 1001

static size_t page_size;

/* The advice process_madvise() accepts on another process. */
static const struct {
	int advice;
	const char *name;
	enum { HINT, POPULATE, DESTRUCTIVE } class;
} advices[] = {
	{ MADV_COLD, "MADV_COLD", HINT },
	{ MADV_PAGEOUT, "MADV_PAGEOUT", HINT },
	{ MADV_WILLNEED, "MADV_WILLNEED", HINT },
	{ MADV_COLLAPSE, "MADV_COLLAPSE", HINT },
	{ MADV_POPULATE_READ, "MADV_POPULATE_READ", POPULATE },
	{ MADV_POPULATE_WRITE, "MADV_POPULATE_WRITE", POPULATE },
	{ MADV_POPULATE, "MADV_POPULATE", POPULATE },
	{ MADV_DONTNEED, "MADV_DONTNEED", DESTRUCTIVE },
	{ MADV_FREE, "MADV_FREE", DESTRUCTIVE },
};

#define NR_ADVICES ARRAY_SIZE(advices)

/* The memory kinds, each mapped twice in the target: twin 0 and twin 1. */
enum mem_kind {
	PRIVATE_RW,	/* private anonymous, written */
	PRIVATE_RO,	/* the same, then mprotect(PROT_READ) */
	SEALED,		/* private anonymous read-write, mseal()ed */
	MLOCKED,	/* private anonymous, mlock()ed */
	SHMEM,		/* MAP_SHARED | MAP_ANONYMOUS, written */
	MEMFD,		/* a memfd of a third process, mapped shared read-only */
	HUGETLB,	/* private hugetlb, one huge page, written */
	VOLATILE,	/* private anonymous, written, MADV_VOLATILE */
	/* private anonymous, never touched, userfaultfd MISSING + REMOVE */
	UFFD,
};

static int libc_sys_pidfd_open(pid_t pid)
{
	return syscall(__NR_pidfd_open, pid, 0);
}

/* The exec'd image of a midcall target reports, then waits. */
static void __attribute__((constructor)) matrix_init(void)
{
	exec_target_wait("MATRIX_EXEC_TARGET");
	yama_restore_at_exit();
}

/*
 * A relation between caller and target.  The caller and the target are
 * siblings, children of the test, and start as root.
 */
struct relation {
	int yama;		/* ptrace_scope for the test */
	int caller_ruid, caller_euid;	/* -1: stays root */
	bool caller_nice;	/* keeps CAP_SYS_NICE when not root */
	int target_ruid, target_euid;
	bool target_nondumpable;
	bool target_exited;
	/* What the rules grant: the expected outcome of the access checks. */
	bool read, attach, nice;
};

/* Snapshot of twin 1, mostly taken by the target (Yama never refuses). */
struct snapshot {
	uint64_t pagemap[MAX_PAGES];
	uint64_t hash;		/* of the present pages' data */
	long file_bytes;	/* MEMFD: bytes allocated to the memfd */
	uint64_t file_hash;	/* MEMFD: of the memfd's data */
	long free_huge;		/* HugePages_Free */
	int events;		/* userfaults and events for the twin (UFFD) */
};

struct target {
	pid_t pid;
	int pidfd;
	int cmd_fd, rsp_fd;
	char *twin[2];
	size_t len;
	int memfd[2];		/* MEMFD: the third process's, in the test */
	char *third;		/* MEMFD: the test's own mapping of memfd[1] */
	/*
	 * UFFD: the target's monitor, a thread of the target's, or the test
	 * (midcall), which then holds a copy of the target's userfaultfd.
	 */
	bool test_monitors;
	int uffd;
	pthread_t monitor;
	bool monitor_running;
	int events[2];		/* __atomic */
	bool stop;		/* __atomic */
};

enum { CMD_ORACLE, CMD_CREDS, CMD_SNAPSHOT, CMD_NONVOLATILE, CMD_EXEC };

struct cmd {
	int op;
	int arg;
};

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static long free_huge_pages(void)
{
	return get_free_hugepages();
}

/* The target side. */
static void target_snapshot(struct target *t, int pagemap, struct snapshot *s)
{
	size_t n = t->len / page_size;

	memset(s, 0, sizeof(*s));
	s->hash = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		char *p = t->twin[1] + i * page_size;

		s->pagemap[i] = pagemap_get_entry(pagemap, p);
		/* Only a present page can be read without a fault. */
		if (s->pagemap[i] & (1ULL << 63))
			s->hash = fnv(s->hash, (unsigned char *)p, page_size);
	}
	s->events = __atomic_load_n(&t->events[1], __ATOMIC_ACQUIRE);
}

static int map_kind(enum mem_kind kind, int memfd, size_t len, char **out)
{
	int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS;
	char *p;

	switch (kind) {
	case SHMEM:
		flags = MAP_SHARED | MAP_ANONYMOUS;
		break;
	case MEMFD:
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, memfd, 0);
		*out = p;
		return p == MAP_FAILED ? -errno : 0;
	case HUGETLB:
		flags |= MAP_HUGETLB;
		break;
	default:
		break;
	}
	p = mmap(NULL, len, prot, flags, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	if (kind == UFFD)
		return 0;
	for (size_t i = 0; i < len; i += page_size)
		memset(p + i, 'a' + (i / page_size) % 26, page_size);
	switch (kind) {
	case PRIVATE_RO:
		return mprotect(p, len, PROT_READ) ? -errno : 0;
	case SEALED:
		return syscall(__NR_mseal, p, len, 0) ? -errno : 0;
	case MLOCKED:
		return mlock(p, len) ? -errno : 0;
	case VOLATILE:
		return madvise(p, len, MADV_VOLATILE) ? -errno : 0;
	default:
		return 0;
	}
}

static int target_creds(const struct relation *rel)
{
	if (setresuid(rel->target_ruid, rel->target_euid, rel->target_euid))
		return -errno;
	/* A change of uid clears dumpable: set it as the relation says. */
	if (prctl(PR_SET_DUMPABLE, rel->target_nondumpable ? 0 : 1))
		return -errno;
	return 0;
}

/*
 * The target's userfaultfd monitor: it answers userfaults with the zero
 * page and counts userfaults and events per twin.  A thread of the
 * target's own, so that no access check stands between it and the
 * userfaultfd (pidfd_getfd() needs PTRACE_MODE_ATTACH, which Yama's
 * ptrace_scope 3 refuses even to root).
 */
static void *monitor(void *arg)
{
	struct target *t = arg;
	struct pollfd pfd = { .fd = t->uffd, .events = POLLIN };
	struct uffd_msg msg;

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		unsigned long addr;
		int twin;

		if (poll(&pfd, 1, 10) <= 0 ||
		    read(t->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			addr = msg.arg.pagefault.address;
		else if (msg.event == UFFD_EVENT_REMOVE)
			addr = msg.arg.remove.start;
		else
			continue;
		twin = addr >= (unsigned long)t->twin[1] &&
		       addr < (unsigned long)t->twin[1] + t->len;
		__atomic_add_fetch(&t->events[twin], 1, __ATOMIC_RELEASE);
		if (msg.event == UFFD_EVENT_PAGEFAULT) {
			struct uffdio_zeropage zero = {
				.range = { .start = addr & ~(page_size - 1),
					   .len = page_size },
			};

			ioctl(t->uffd, UFFDIO_ZEROPAGE, &zero);
		}
	}
	return NULL;
}

/*
 * Map both twins of @kind, open a userfaultfd on them for UFFD and start
 * its monitor (unless the test is to be it), tell the test, then serve its
 * commands.  Never returns.
 */
static void target_main(struct target *t, enum mem_kind kind,
			const struct relation *rel, int cmd_fd, int rsp_fd)
{
	struct uffdio_api api = {
		.api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE,
	};
	int pagemap = open("/proc/self/pagemap", O_RDONLY);
	struct snapshot s;
	struct cmd c;
	long r = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	t->uffd = -1;
	for (int i = 0; i < 2 && !r; i++)
		r = map_kind(kind, t->memfd[i], t->len, &t->twin[i]);
	if (!r && kind == UFFD) {
		t->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		if (t->uffd < 0 || ioctl(t->uffd, UFFDIO_API, &api))
			r = -EOPNOTSUPP;
		for (int i = 0; i < 2 && !r; i++)
			if (uffd_register(t->uffd, t->twin[i], t->len, true,
					  false, false))
				r = -EOPNOTSUPP;
		if (!r && !t->test_monitors &&
		    pthread_create(&t->monitor, NULL, monitor, t))
			r = -EAGAIN;
	}
	if (pagemap < 0)
		r = -errno;
	if (write(rsp_fd, &r, sizeof(r)) != sizeof(r) ||
	    write(rsp_fd, t, sizeof(*t)) != sizeof(*t))
		_exit(1);
	while (read(cmd_fd, &c, sizeof(c)) == sizeof(c)) {
		switch (c.op) {
		case CMD_ORACLE:
			r = madvise(t->twin[0], t->len, c.arg) ? -errno : 0;
			break;
		case CMD_CREDS:
			r = target_creds(rel);
			break;
		case CMD_SNAPSHOT:
			target_snapshot(t, pagemap, &s);
			if (write(rsp_fd, &s, sizeof(s)) != sizeof(s))
				_exit(1);
			continue;
		case CMD_NONVOLATILE:
			r = madvise(t->twin[1], t->len, MADV_NONVOLATILE);
			r = r < 0 ? -errno : r;
			break;
		case CMD_EXEC: {
			char fd[16], *argv[] = { "process_madv_matrix", NULL };

			/* The new image reports on descriptor arg. */
			snprintf(fd, sizeof(fd), "%d", c.arg);
			setenv("MATRIX_EXEC_TARGET", fd, 1);
			execv("/proc/self/exe", argv);
			_exit(1);
		}
		}
		if (write(rsp_fd, &r, sizeof(r)) != sizeof(r))
			_exit(1);
	}
	_exit(0);
}

static long target_call(struct target *t, int op, int arg)
{
	struct cmd c = { .op = op, .arg = arg };
	long r = -EPIPE;

	if (write(t->cmd_fd, &c, sizeof(c)) != sizeof(c) ||
	    read(t->rsp_fd, &r, sizeof(r)) != sizeof(r))
		return -EPIPE;
	return r;
}

/* 0, or -errno; 1 if the kind cannot be set up here (skip). */
static int target_start(struct target *t, enum mem_kind kind,
			const struct relation *rel, bool test_monitors)
{
	int cmd[2], rsp[2];
	long r;

	memset(t, 0, sizeof(*t));
	t->test_monitors = test_monitors;
	t->uffd = -1;
	t->pidfd = -1;
	t->cmd_fd = -1;
	t->rsp_fd = -1;
	t->memfd[0] = -1;
	t->memfd[1] = -1;
	t->len = NR_PAGES * page_size;
	if (kind == HUGETLB) {
		t->len = default_huge_page_size();
		if (!t->len || t->len > MAX_PAGES * page_size ||
		    free_huge_pages() < 2)
			return 1;
	}
	if (kind == MEMFD) {
		/* Two pages of data, then holes. */
		for (int i = 0; i < 2; i++) {
			t->memfd[i] = memfd_create("matrix", 0);
			if (t->memfd[i] < 0 || ftruncate(t->memfd[i], t->len))
				return -errno;
			for (size_t off = 0; off < 2 * page_size; off += page_size)
				if (pwrite(t->memfd[i], "m", 1, off) != 1)
					return -errno;
		}
		/* The third process, the test, maps twin 1's file too. */
		t->third = mmap(NULL, t->len, PROT_READ | PROT_WRITE,
				MAP_SHARED, t->memfd[1], 0);
		if (t->third == MAP_FAILED)
			return -errno;
		if (t->third[0] != 'm')
			return -EIO;
	}
	if (pipe(cmd) || pipe(rsp))
		return -errno;
	t->pid = fork();
	if (t->pid < 0)
		return -errno;
	if (!t->pid) {
		close(cmd[1]);
		close(rsp[0]);
		target_main(t, kind, rel, cmd[0], rsp[1]);
	}
	close(cmd[0]);
	close(rsp[1]);
	t->cmd_fd = cmd[1];
	t->rsp_fd = rsp[0];
	if (read(t->rsp_fd, &r, sizeof(r)) != sizeof(r))
		return -EPIPE;
	if (r == -EOPNOTSUPP || (kind == VOLATILE && r == -EINVAL))
		return 1;
	if (r)
		return r;
	{
		struct target copy;

		if (read(t->rsp_fd, &copy, sizeof(copy)) != sizeof(copy))
			return -EPIPE;
		t->twin[0] = copy.twin[0];
		t->twin[1] = copy.twin[1];
		t->uffd = copy.uffd;
	}
	t->pidfd = libc_sys_pidfd_open(t->pid);
	if (t->pidfd < 0)
		return -errno;
	if (kind == UFFD && test_monitors) {
		t->uffd = syscall(__NR_pidfd_getfd, t->pidfd, t->uffd, 0);
		if (t->uffd < 0)
			return -errno;
	} else {
		t->uffd = -1;
	}
	return 0;
}

static void target_stop(struct target *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
	}
	if (t->uffd >= 0)
		close(t->uffd);
	for (int i = 0; i < 2; i++)
		if (t->memfd[i] >= 0)
			close(t->memfd[i]);
	if (t->third && t->third != MAP_FAILED)
		munmap(t->third, t->len);
	if (t->pidfd >= 0)
		close(t->pidfd);
	if (t->cmd_fd >= 0)
		close(t->cmd_fd);
	if (t->rsp_fd >= 0)
		close(t->rsp_fd);
}

/*
 * Snapshot twin 1: its page table entries and data, taken by the target
 * (unless @ask_target is false: it has exited), and what the test sees.
 */
static int snapshot(struct target *t, enum mem_kind kind, struct snapshot *s,
		    bool ask_target)
{
	struct cmd c = { .op = CMD_SNAPSHOT };

	if (ask_target &&
	    (write(t->cmd_fd, &c, sizeof(c)) != sizeof(c) ||
	     read(t->rsp_fd, s, sizeof(*s)) != sizeof(*s)))
		return -EPIPE;
	if (kind == MEMFD) {
		static char buf[NR_PAGES * 4096];
		struct stat st;
		ssize_t n;

		if (fstat(t->memfd[1], &st))
			return -errno;
		s->file_bytes = st.st_blocks * 512;
		n = pread(t->memfd[1], buf, sizeof(buf), 0);
		s->file_hash = fnv(0xcbf29ce484222325ULL, (unsigned char *)buf,
				   n > 0 ? n : 0);
	}
	s->free_huge = free_huge_pages();
	return 0;
}

/* Set the caller's credentials for @rel: keep CAP_SYS_NICE if it says so. */
static int caller_creds(const struct relation *rel)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = {};

	if (rel->caller_ruid < 0)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 1) ||
	    setresuid(rel->caller_ruid, rel->caller_euid, rel->caller_euid))
		return -errno;
	if (rel->caller_nice) {
		data[0].effective = 1U << CAP_SYS_NICE;
		data[0].permitted = 1U << CAP_SYS_NICE;
	}
	/* Drops every other capability, from all sets. */
	return syscall(__NR_capset, &hdr, data) ? -errno : 0;
}

struct call_as {
	const struct relation *rel;
	int pidfd;
	struct iovec *iov;
	int vlen, advice;
};

static long call_as_child(void *arg)
{
	struct call_as *a = arg;
	long r = caller_creds(a->rel);

	if (r)
		return -1000 + r;
	r = syscall(__NR_process_madvise, a->pidfd, a->iov, a->vlen,
		    a->advice, 0);
	return r < 0 ? -errno : r;
}

/* process_madvise(@advice) on @iov of @t, by a caller in relation @rel. */
static long call_as(const struct relation *rel, int pidfd, struct iovec *iov,
		    int vlen, int advice)
{
	struct call_as a = {
		.rel = rel, .pidfd = pidfd, .iov = iov, .vlen = vlen,
		.advice = advice,
	};

	return run_in_child(call_as_child, &a);
}

/* What a remote call must return, given what the target's own call got. */
static long expected(const struct relation *rel, int a, enum mem_kind kind,
		     long local, size_t len)
{
	bool attach = advices[a].class != HINT;
	bool nice = advices[a].class != DESTRUCTIVE;

	if (rel->target_exited)
		return -ESRCH;
	if (attach ? !rel->attach : !rel->read)
		return -EACCES;
	if (nice && !rel->nice)
		return -EPERM;
	/* Only where process_vm_writev() could write; never sealed. */
	if (advices[a].class == DESTRUCTIVE &&
	    (kind == PRIVATE_RO || kind == MEMFD || kind == SEALED))
		return -EPERM;
	return local ? local : (long)len;
}

static bool same_snapshot(struct __test_metadata *_metadata,
			  const struct snapshot *a, const struct snapshot *b,
			  size_t npages, const char *what)
{
	bool same = true;

	for (size_t i = 0; i < npages; i++) {
		if (a->pagemap[i] != b->pagemap[i]) {
			TH_LOG("%s: page %zu: pagemap %#llx -> %#llx", what, i,
			       (unsigned long long)a->pagemap[i],
			       (unsigned long long)b->pagemap[i]);
			same = false;
			break;
		}
	}
	if (a->hash != b->hash) {
		TH_LOG("%s: data changed", what);
		same = false;
	}
	if (a->file_bytes != b->file_bytes || a->file_hash != b->file_hash) {
		TH_LOG("%s: memfd %ld -> %ld bytes, data %s", what,
		       a->file_bytes, b->file_bytes,
		       a->file_hash == b->file_hash ? "same" : "changed");
		same = false;
	}
	if (a->free_huge != b->free_huge) {
		TH_LOG("%s: free huge pages %ld -> %ld", what, a->free_huge,
		       b->free_huge);
		same = false;
	}
	if (a->events != b->events) {
		TH_LOG("%s: %d userfaults or events sent to the monitor", what,
		       b->events - a->events);
		same = false;
	}
	return same;
}

static void run_kind(struct __test_metadata *_metadata,
		     const struct relation *rel, enum mem_kind kind)
{
	for (size_t a = 0; a < NR_ADVICES; a++) {
		struct snapshot before, after;
		struct target t;
		struct iovec iov;
		long local, want, got;
		int r;

		r = target_start(&t, kind, rel, false);
		if (r == 1) {
			target_stop(&t);
			SKIP(return, "memory kind not available here");
		}
		ASSERT_EQ(r, 0);
		/* The oracle: the target's own call, on twin 0. */
		local = target_call(&t, CMD_ORACLE, advices[a].advice);
		ASSERT_NE(local, -EPIPE);
		ASSERT_EQ(target_call(&t, CMD_CREDS, 0), 0);
		memset(&before, 0, sizeof(before));
		if (rel->target_exited) {
			/* Its memory is gone: only the file and pools are left. */
			ASSERT_EQ(kill(t.pid, SIGKILL), 0);
			ASSERT_EQ(waitid(P_PIDFD, t.pidfd, NULL,
					 WEXITED | WNOWAIT), 0);
		}
		ASSERT_EQ(snapshot(&t, kind, &before, !rel->target_exited), 0);
		iov = (struct iovec){ .iov_base = t.twin[1], .iov_len = t.len };
		got = call_as(rel, t.pidfd, &iov, 1, advices[a].advice);
		want = expected(rel, a, kind, local, t.len);
		EXPECT_EQ(got, want)
			TH_LOG("%s: got %ld (%s), want %ld (%s); own call: %ld",
			       advices[a].name, got,
			       got < 0 ? strerror(-got) : "bytes", want,
			       want < 0 ? strerror(-want) : "bytes", local);
		after = before;
		ASSERT_EQ(snapshot(&t, kind, &after, !rel->target_exited), 0);
		if (got < 0) {
			EXPECT_TRUE(same_snapshot(_metadata, &before, &after,
						  t.len / page_size,
						  advices[a].name));
		}
		/* A hint never purges: that is destructive advice's right. */
		if (kind == VOLATILE && got > 0)
			EXPECT_EQ(target_call(&t, CMD_NONVOLATILE, 0), 0)
				TH_LOG("%s purged volatile memory", advices[a].name);
		target_stop(&t);
	}
}

FIXTURE(matrix)
{
	long yama_before;	/* -1: not changed */
};

FIXTURE_VARIANT(matrix)
{
	struct relation rel;
};

/* The caller is root: every right. */
FIXTURE_VARIANT_ADD(matrix, root) {
	.rel = { .yama = 0, .caller_ruid = -1, .target_ruid = UID,
		 .target_euid = UID, .read = true, .attach = true,
		 .nice = true },
};

FIXTURE_VARIANT_ADD(matrix, same_uid_cap_sys_nice) {
	.rel = { .yama = 0, .caller_ruid = UID, .caller_euid = UID,
		 .caller_nice = true, .target_ruid = UID, .target_euid = UID,
		 .read = true, .attach = true, .nice = true },
};

FIXTURE_VARIANT_ADD(matrix, same_uid) {
	.rel = { .yama = 0, .caller_ruid = UID, .caller_euid = UID,
		 .target_ruid = UID, .target_euid = UID,
		 .read = true, .attach = true },
};

FIXTURE_VARIANT_ADD(matrix, other_uid) {
	.rel = { .yama = 0, .caller_ruid = OTHER_UID, .caller_euid = OTHER_UID,
		 .caller_nice = true, .target_ruid = UID, .target_euid = UID,
		 .nice = true },
};

FIXTURE_VARIANT_ADD(matrix, nondumpable_target) {
	.rel = { .yama = 0, .caller_ruid = UID, .caller_euid = UID,
		 .caller_nice = true, .target_ruid = UID, .target_euid = UID,
		 .target_nondumpable = true, .nice = true },
};

/* A process that ran a set-user-ID-root program: ruid the caller's. */
FIXTURE_VARIANT_ADD(matrix, setuid_target) {
	.rel = { .yama = 0, .caller_ruid = UID, .caller_euid = UID,
		 .caller_nice = true, .target_ruid = UID, .target_euid = 0,
		 .nice = true },
};

/* Filesystem uid the target's, real uid not: READ_FSCREDS only. */
FIXTURE_VARIANT_ADD(matrix, fsuid_only) {
	.rel = { .yama = 0, .caller_ruid = OTHER_UID, .caller_euid = UID,
		 .caller_nice = true, .target_ruid = UID, .target_euid = UID,
		 .read = true, .nice = true },
};

/* Siblings: Yama 1 grants ATTACH to ancestors only. */
FIXTURE_VARIANT_ADD(matrix, yama1) {
	.rel = { .yama = 1, .caller_ruid = UID, .caller_euid = UID,
		 .caller_nice = true, .target_ruid = UID, .target_euid = UID,
		 .read = true, .nice = true },
};

FIXTURE_VARIANT_ADD(matrix, yama2) {
	.rel = { .yama = 2, .caller_ruid = UID, .caller_euid = UID,
		 .caller_nice = true, .target_ruid = UID, .target_euid = UID,
		 .read = true, .nice = true },
};

FIXTURE_VARIANT_ADD(matrix, yama2_cap_sys_ptrace) {
	.rel = { .yama = 2, .caller_ruid = -1, .target_ruid = UID,
		 .target_euid = UID, .read = true, .attach = true,
		 .nice = true },
};

/* Yama 3 refuses ATTACH to everyone, CAP_SYS_PTRACE or not. */
FIXTURE_VARIANT_ADD(matrix, yama3) {
	.rel = { .yama = 3, .caller_ruid = -1, .target_ruid = UID,
		 .target_euid = UID, .read = true, .nice = true },
};

FIXTURE_VARIANT_ADD(matrix, exited_target) {
	.rel = { .yama = 0, .caller_ruid = -1, .target_ruid = UID,
		 .target_euid = UID, .target_exited = true, .read = true,
		 .attach = true, .nice = true },
};

FIXTURE_SETUP(matrix)
{
	long scope = read_long(YAMA_SCOPE);

	page_size = getpagesize();
	self->yama_before = -1;
	if (geteuid())
		SKIP(return, "needs root to set up the relations");
	if (scope < 0)
		SKIP(return, "needs Yama (CONFIG_SECURITY_YAMA)");
	if (variant->rel.yama == 3 && scope != 3)
		SKIP(return, "ptrace_scope 3 is for good: run alone with it set");
	if (scope == 3 && variant->rel.yama != 3)
		SKIP(return, "ptrace_scope is 3: only the yama3 variant can run");
	if (scope != variant->rel.yama) {
		self->yama_before = scope;
		ASSERT_EQ(write_long(YAMA_SCOPE, variant->rel.yama), 0);
	}
}

FIXTURE_TEARDOWN_PARENT(matrix)
{
	if (self->yama_before >= 0)
		EXPECT_EQ(write_long(YAMA_SCOPE, self->yama_before), 0);
}

TEST_F(matrix, private_rw) { run_kind(_metadata, &variant->rel, PRIVATE_RW); }
TEST_F(matrix, private_ro) { run_kind(_metadata, &variant->rel, PRIVATE_RO); }
TEST_F(matrix, sealed) { run_kind(_metadata, &variant->rel, SEALED); }
TEST_F(matrix, mlocked) { run_kind(_metadata, &variant->rel, MLOCKED); }
TEST_F(matrix, shmem) { run_kind(_metadata, &variant->rel, SHMEM); }
TEST_F(matrix, memfd_of_a_third_process) { run_kind(_metadata, &variant->rel, MEMFD); }
TEST_F(matrix, hugetlb) { run_kind(_metadata, &variant->rel, HUGETLB); }
TEST_F(matrix, volatile_range) { run_kind(_metadata, &variant->rel, VOLATILE); }
TEST_F(matrix, uffd_registered) { run_kind(_metadata, &variant->rel, UFFD); }

/*
 * The target exits or execs while a remote populate waits in one of its
 * userfaults, the test being its monitor.  The call's vector has a second
 * element: a memfd of the test's, all holes, that the target maps shared.
 * Once no task uses the target's mm, what a populate faults in would be
 * charged to the root memcg, shmem and page cache for good: the call stops
 * at the next element, returns the first element's bytes, and the memfd
 * gets no block.  (The other advice has no such charge, and goes on.)
 */
FIXTURE(midcall)
{
	struct target t;
	int memfd;
	char *file;
	size_t file_len;
	int report_fd;
};

FIXTURE_VARIANT(midcall)
{
	bool exec;
};

FIXTURE_VARIANT_ADD(midcall, exit) { .exec = false };
FIXTURE_VARIANT_ADD(midcall, exec) { .exec = true };

FIXTURE_SETUP(midcall)
{
	page_size = getpagesize();
	self->t.pid = -1;
	self->report_fd = -1;
	if (geteuid())
		SKIP(return, "needs root for CAP_SYS_NICE");
	self->file_len = NR_PAGES * page_size;
	self->memfd = memfd_create("midcall", 0);
	ASSERT_GE(self->memfd, 0);
	ASSERT_EQ(ftruncate(self->memfd, self->file_len), 0);
	/* Mapped before the target is forked: it has it at the same address. */
	self->file = mmap(NULL, self->file_len, PROT_READ | PROT_WRITE,
			  MAP_SHARED, self->memfd, 0);
	ASSERT_NE(self->file, MAP_FAILED);
}

FIXTURE_TEARDOWN(midcall)
{
	if (self->t.pid > 0)
		target_stop(&self->t);
	if (self->report_fd >= 0)
		close(self->report_fd);
	close(self->memfd);
}

struct bg_call {
	int pidfd;
	struct iovec iov[2];
	int advice;
	long ret;
};

static void *bg_call_run(void *arg)
{
	struct bg_call *c = arg;

	c->ret = syscall(__NR_process_madvise, c->pidfd, c->iov, 2, c->advice, 0);
	if (c->ret < 0)
		c->ret = -errno;
	return NULL;
}

/* Make the target go away: exit, or exec this program. */
static bool target_goes(struct _test_data_midcall *self, bool exec, int report_w)
{
	struct cmd c = { .op = CMD_EXEC, .arg = report_w };
	char e;

	if (exec)
		return write(self->t.cmd_fd, &c, sizeof(c)) == sizeof(c) &&
		       read(self->report_fd, &e, 1) == 1;
	/* Reaped or not, a process that exited has left its mm. */
	return !kill(self->t.pid, SIGKILL) &&
	       !waitid(P_PIDFD, self->t.pidfd, NULL, WEXITED | WNOWAIT);
}

static void midcall_run(struct __test_metadata *_metadata,
			struct _test_data_midcall *self, bool exec, int advice)
{
	static const struct relation root = { .caller_ruid = -1 };
	struct bg_call c = { .advice = advice };
	struct pollfd pfd = { .events = POLLIN };
	struct uffd_msg msg;
	pthread_t thread;
	int report[2], r;
	bool parked, ok = false;
	struct stat st;

	ASSERT_EQ(pipe(report), 0);
	r = target_start(&self->t, UFFD, &root, true);
	close(report[1]);
	self->report_fd = report[0];
	if (r == 1)
		SKIP(return, "no userfaultfd");
	ASSERT_EQ(r, 0);
	c.pidfd = self->t.pidfd;
	c.iov[0] = (struct iovec){ self->t.twin[1], page_size };
	c.iov[1] = (struct iovec){ self->file, self->file_len };
	ASSERT_EQ(pthread_create(&thread, NULL, bg_call_run, &c), 0);
	/* The userfault is pending: the call waits without mmap_lock. */
	pfd.fd = self->t.uffd;
	parked = poll(&pfd, 1, 30000) == 1;
	if (parked && target_goes(self, exec, report[1]) &&
	    read(self->t.uffd, &msg, sizeof(msg)) == sizeof(msg)) {
		ok = true;
		if (msg.event == UFFD_EVENT_PAGEFAULT) {
			/* The call holds the old mm: it can still be filled. */
			struct uffdio_zeropage zero = {
				.range = { .start = (unsigned long)self->t.twin[1],
					   .len = page_size },
			};

			ok = !ioctl(self->t.uffd, UFFDIO_ZEROPAGE, &zero);
		}
	}
	/* Closing the monitor's last descriptor releases a stuck call. */
	if (!ok) {
		close(self->t.uffd);
		self->t.uffd = -1;
	}
	pthread_join(thread, NULL);
	ASSERT_TRUE(parked) TH_LOG("the call never reached the monitor");
	ASSERT_TRUE(ok) TH_LOG("the target did not go, or no resolution");
	EXPECT_EQ(c.ret, page_size);
	ASSERT_EQ(fstat(self->memfd, &st), 0);
	EXPECT_EQ(st.st_blocks, 0);
}

TEST_F(midcall, populate_read)
{
	midcall_run(_metadata, self, variant->exec, MADV_POPULATE_READ);
}

TEST_F(midcall, populate_write)
{
	midcall_run(_metadata, self, variant->exec, MADV_POPULATE_WRITE);
}

TEST_F(midcall, populate)
{
	midcall_run(_metadata, self, variant->exec, MADV_POPULATE);
}

TEST_HARNESS_MAIN
