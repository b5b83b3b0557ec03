// SPDX-License-Identifier: GPL-2.0
/*
 * userfaultfd and memory whose faults end in SIGBUS.
 *
 * Part 1: UFFD_FEATURE_SIGBUS over anonymous memory, shmem, THP on a tmpfs
 * mounted with huge=always, and hugetlb: missing and write-protect faults
 * raise exactly one SIGBUS (BUS_ADRERR at the address accessed) per page
 * accessed and queue nothing, also in a child after fork with
 * UFFD_FEATURE_EVENT_FORK; a child without it is not registered at all; and
 * kernel accesses (read(2), write(2), MADV_POPULATE_*) fail with EFAULT.
 *
 * Part 2: purged volatile pages (MADV_VOLATILE) and a userfaultfd monitor.
 * With UFFD_FEATURE_MISSING_PURGED, a user access to a page that reclaim
 * purged, in a range registered for missing faults, is reported to the
 * monitor as a missing fault instead of raising SIGBUS; UFFDIO_COPY or
 * UFFDIO_ZEROPAGE regenerate the page, which is then no longer reported by
 * MADV_NONVOLATILE nor shown as purged by pagemap.  With UFFD_FEATURE_SIGBUS
 * as well, the access raises SIGBUS and nothing is queued.  Without the
 * feature a purged page raises SIGBUS as before, and a kernel access to it
 * fails with EFAULT and queues nothing in every case.
 *
 * Purges are forced by memory.reclaim of a memory cgroup made for the test,
 * without swap (its memory.swap.max is 0), until pagemap shows the pages
 * gone.  Each page holds a non-zero pattern of its index and a generation:
 * generation 0 is the data that was purged, generation 1 what the monitor
 * regenerates, so that every page read says where its data came from.
 *
 * Every test counts: the signals raised, the events a monitor thread read,
 * the pages holding each generation.  A monitor thread runs in every test,
 * also where no event is expected: a wrongly queued event then shows in its
 * count instead of blocking the test until its timeout.  Waits are bounded;
 * no verdict depends on how fast anything ran.
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
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"
#include "vm_util.h"
#include "volatile_util.h"

#ifndef MADV_POPULATE
#define MADV_POPULATE			26
#endif
#ifndef UFFD_FEATURE_MISSING_PURGED
#define UFFD_FEATURE_MISSING_PURGED	BIT_ULL(24)
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB			0x0004U
#endif

#define NR_PURGED	16	/* purged pages per test, as many present */
#define NR_THREADS	4
#define MAX_UNITS	2048	/* pages (or huge pages) a test maps */
#define MAX_CTX		4	/* userfaultfds a monitor reads */
#define CG_PREFIX	"uffd-volatile-test-"

static size_t page_size;

static long sys_madvise(void *addr, size_t len, int advice)
{
	return syscall(__NR_madvise, addr, len, advice);
}

static int sys_userfaultfd(int flags)
{
	return syscall(__NR_userfaultfd, flags);
}

static int sys_memfd_create(const char *name, unsigned int flags)
{
	return syscall(__NR_memfd_create, name, flags);
}

static int sys_fsopen(const char *fsname, unsigned int flags)
{
	return syscall(__NR_fsopen, fsname, flags);
}

static int sys_fsconfig(int fd, unsigned int cmd, const char *key,
			const void *value, int aux)
{
	return syscall(__NR_fsconfig, fd, cmd, key, value, aux);
}

static int sys_fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
	return syscall(__NR_fsmount, fd, flags, attr_flags);
}

/* Whether the page at @addr is resident (mapped, or in the page cache). */
static bool resident(void *addr)
{
	unsigned char vec = 0;

	return !mincore(addr, page_size, &vec) && (vec & 1);
}

/*
 * userfaultfd
 */

/* A non-blocking userfaultfd with @features, or -errno (-EOPNOTSUPP: absent). */
static int uffd_open(int flags, uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = sys_userfaultfd(O_CLOEXEC | O_NONBLOCK | flags);
	int err;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		err = errno == EINVAL ? -EOPNOTSUPP : -errno;
		close(fd);
		return err;
	}
	if ((api.features & features) != features) {
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

static int uffd_copy(int uffd, void *dst, const void *src, size_t len)
{
	struct uffdio_copy copy = {
		.dst = (uintptr_t)dst,
		.src = (uintptr_t)src,
		.len = len,
	};

	if (ioctl(uffd, UFFDIO_COPY, &copy))
		return -errno;
	return copy.copy == (int64_t)len ? 0 : -EIO;
}

static int uffd_zeropage(int uffd, void *dst, size_t len)
{
	struct uffdio_zeropage zero = {
		.range = { .start = (uintptr_t)dst, .len = len },
	};

	if (ioctl(uffd, UFFDIO_ZEROPAGE, &zero))
		return -errno;
	return zero.zeropage == (int64_t)len ? 0 : -EIO;
}

static int uffd_wake(int uffd, void *addr, size_t len)
{
	struct uffdio_range range = { .start = (uintptr_t)addr, .len = len };

	return ioctl(uffd, UFFDIO_WAKE, &range) ? -errno : 0;
}

/* Write-protect [@addr, @addr + @len) if @wp, else lift it (and wake). */
static int uffd_protect(int uffd, void *addr, size_t len, bool wp)
{
	struct uffdio_writeprotect prm = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &prm) ? -errno : 0;
}

/*
 * What resolves a fault, in a SIGBUS handler or in a monitor thread: a
 * missing fault is filled with UFFDIO_COPY of pattern (unit index, @gen),
 * or with UFFDIO_ZEROPAGE; a write-protect fault is lifted.
 */
enum resolve { RESOLVE_COPY, RESOLVE_ZERO, RESOLVE_WP };

struct resolver {
	char *base;		/* first unit of the range */
	size_t unit;		/* page size of the memory */
	long nunits;
	unsigned int gen;
	enum resolve how;
	char *src;		/* one unit, the data to copy */
};

static int resolver_init(struct resolver *r, char *base, size_t unit,
			 long nunits, unsigned int gen, enum resolve how)
{
	r->base = base;
	r->unit = unit;
	r->nunits = nunits;
	r->gen = gen;
	r->how = how;
	r->src = mmap(NULL, unit, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return r->src == MAP_FAILED ? -ENOMEM : 0;
}

/* The index of the unit holding @addr, or -1 if outside the range. */
static long resolver_index(struct resolver *r, uintptr_t addr)
{
	uintptr_t base = (uintptr_t)r->base;

	if (addr < base || addr >= base + r->nunits * r->unit)
		return -1;
	return (addr - base) / r->unit;
}

/* Resolve the fault of unit @idx through @uffd: 0 or -errno. */
static int resolve(struct resolver *r, int uffd, long idx, bool wp)
{
	char *unit = r->base + idx * r->unit;

	if (wp || r->how == RESOLVE_WP)
		return uffd_protect(uffd, unit, r->unit, false);
	if (r->how == RESOLVE_ZERO)
		return uffd_zeropage(uffd, unit, r->unit);
	unit_fill(r->src, r->unit, idx, r->gen);
	return uffd_copy(uffd, unit, r->src, r->unit);
}

/*
 * The monitor thread: reads the events of its userfaultfds (the test's, and
 * those that UFFD_EVENT_FORK hands over), counts them, and resolves each
 * fault, so that a toucher never stays blocked.  A fault on a unit that is
 * present already (UFFDIO_COPY: EEXIST) is one another thread's fault
 * resolved first: it wakes the range instead.
 */
struct monitor {
	pthread_t thread;
	bool running;
	int efd;			/* eventfd: stop */
	int fds[MAX_CTX];		/* [0]: the test's; then fork children's */
	int nfds;
	struct resolver res;
	/* What it saw; read after monitor_stop(). */
	long faults[MAX_CTX];		/* UFFD_EVENT_PAGEFAULT per fd */
	long write_faults;		/* ... with UFFD_PAGEFAULT_FLAG_WRITE */
	long wp_faults;			/* ... with UFFD_PAGEFAULT_FLAG_WP */
	long outside;			/* ... outside the range */
	long eexist;			/* duplicates woken */
	long forks;			/* UFFD_EVENT_FORK */
	long others;			/* any other event */
	long leftover;			/* messages still queued at the end */
	int err;			/* first unexpected errno */
	int per_unit[MAX_UNITS];	/* faults per unit, all fds */
};

static void monitor_error(struct monitor *m, int err, const char *what)
{
	if (!m->err) {
		m->err = err;
		ksft_print_msg("monitor: %s: %s\n", what, strerror(err));
	}
}

static void monitor_fault(struct monitor *m, int i, struct uffd_msg *msg)
{
	uintptr_t addr = msg->arg.pagefault.address;
	uint64_t flags = msg->arg.pagefault.flags;
	long idx = resolver_index(&m->res, addr);
	int ret;

	m->faults[i]++;
	m->write_faults += !!(flags & UFFD_PAGEFAULT_FLAG_WRITE);
	m->wp_faults += !!(flags & UFFD_PAGEFAULT_FLAG_WP);
	if (idx < 0) {
		m->outside++;
		uffd_wake(m->fds[i], (void *)(addr & ~(page_size - 1)),
			  page_size);
		return;
	}
	m->per_unit[idx]++;
	ret = resolve(&m->res, m->fds[i], idx,
		      flags & UFFD_PAGEFAULT_FLAG_WP);
	if (ret == -EEXIST) {
		m->eexist++;
		ret = uffd_wake(m->fds[i], m->res.base + idx * m->res.unit,
				m->res.unit);
	}
	if (ret) {
		monitor_error(m, -ret, "resolving a fault");
		uffd_wake(m->fds[i], m->res.base + idx * m->res.unit,
			  m->res.unit);
	}
}

static void monitor_msg(struct monitor *m, int i, struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_PAGEFAULT:
		monitor_fault(m, i, msg);
		break;
	case UFFD_EVENT_FORK:
		m->forks++;
		if (m->nfds < MAX_CTX)
			m->fds[m->nfds++] = msg->arg.fork.ufd;
		else
			close(msg->arg.fork.ufd);
		break;
	default:
		m->others++;
		break;
	}
}

static void *monitor_thread(void *arg)
{
	struct monitor *m = arg;
	struct pollfd pfd[1 + MAX_CTX];
	struct uffd_msg msg[16];
	bool dead[MAX_CTX] = { false };

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = m->efd, .events = POLLIN };
		for (int i = 0; i < m->nfds; i++)
			pfd[1 + i] = (struct pollfd){
				.fd = dead[i] ? -1 : m->fds[i],
				.events = POLLIN,
			};
		if (poll(pfd, 1 + m->nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			monitor_error(m, errno, "poll");
			return NULL;
		}
		if (pfd[0].revents)
			return NULL;
		for (int i = 0; i < m->nfds; i++) {
			ssize_t n;

			if (pfd[1 + i].revents & (POLLERR | POLLNVAL)) {
				monitor_error(m, EIO, "poll error on a uffd");
				dead[i] = true;
				continue;
			}
			if (!(pfd[1 + i].revents & POLLIN))
				continue;
			n = read(m->fds[i], msg, sizeof(msg));
			if (n < 0) {
				if (errno != EAGAIN)
					monitor_error(m, errno, "read");
				continue;
			}
			for (ssize_t k = 0; k < n / (ssize_t)sizeof(*msg); k++)
				monitor_msg(m, i, &msg[k]);
		}
	}
}

/* Monitor @uffd, resolving faults in [@base, @base + @nunits * @unit). */
static int monitor_start(struct monitor *m, int uffd, char *base,
			 size_t unit, long nunits, unsigned int gen,
			 enum resolve how)
{
	memset(m, 0, sizeof(*m));
	if (nunits > MAX_UNITS ||
	    resolver_init(&m->res, base, unit, nunits, gen, how))
		return -ENOMEM;
	m->fds[0] = uffd;
	m->nfds = 1;
	m->efd = eventfd(0, EFD_CLOEXEC);
	if (m->efd < 0)
		return -errno;
	if (pthread_create(&m->thread, NULL, monitor_thread, m)) {
		close(m->efd);
		return -EAGAIN;
	}
	m->running = true;
	return 0;
}

/*
 * Stop the thread, then count what is still queued: nothing may be, once
 * every access the test made has returned.  Closes the fds that fork
 * events handed over, not the test's own.
 */
static void monitor_stop(struct monitor *m)
{
	struct uffd_msg msg;
	uint64_t one = 1;

	if (!m->running)
		return;
	if (write(m->efd, &one, sizeof(one)) != sizeof(one))
		monitor_error(m, errno, "eventfd write");
	pthread_join(m->thread, NULL);
	m->running = false;
	for (int i = 0; i < m->nfds; i++) {
		while (read(m->fds[i], &msg, sizeof(msg)) == sizeof(msg))
			m->leftover++;
		if (errno != EAGAIN)
			monitor_error(m, errno, "final read");
		if (i)
			close(m->fds[i]);
	}
	close(m->efd);
	munmap(m->res.src, m->res.unit);
}

/* All faults the monitor read, on every fd. */
static long monitor_faults(struct monitor *m)
{
	long n = 0;

	for (int i = 0; i < MAX_CTX; i++)
		n += m->faults[i];
	return n;
}

/*
 * SIGBUS: the handler of volatile_util.c, which resolves a fault through
 * the resolver the process set (bus_res, bus_uffd), if any, and then has
 * the access retried.
 */
static struct resolver *bus_res;
static int bus_uffd = -1;

static int bus_resolve_uffd(void *addr)
{
	long idx = resolver_index(bus_res, (uintptr_t)addr);

	return idx < 0 ? -EFAULT : resolve(bus_res, bus_uffd, idx, false);
}

/* Resolve SIGBUS in the handler through @uffd and @r; NULL: jump out. */
static void bus_resolve_with(int uffd, struct resolver *r)
{
	bus_uffd = uffd;
	bus_res = r;
	bus_resolve = r ? bus_resolve_uffd : NULL;
}

/*
 * Part 1: UFFD_FEATURE_SIGBUS over each kind of memory.
 *
 * The fixture maps the memory and fills every unit (page, or huge page for
 * hugetlb) with generation 0.  Tests of missing faults then punch holes in
 * it (MADV_DONTNEED for anonymous memory, FALLOC_FL_PUNCH_HOLE for files):
 * every odd unit; for THP, the second huge page of three gets a hole in
 * every odd page (which splits it) and the third is punched whole, while
 * the first stays mapped by its PMD.  Tests of write-protect faults
 * protect the whole populated range.
 *
 * shmem is filled with write(2), so that its pages are in the page cache
 * but not mapped: every access then faults through the registered mapping
 * (only the holes may raise SIGBUS), and write protection is held by PTE
 * markers, where the other kinds have present PTEs.
 */
enum mem_type { ANON, SHMEM, THP_TMPFS, HUGETLB };

struct mem {
	char *p;
	size_t len;
	size_t unit;		/* the page size of the memory */
	long nunits;
	size_t thp;		/* THP_TMPFS: the PMD size */
	int fd;			/* the file, or -1 */
	int mnt;		/* THP_TMPFS: the detached tmpfs mount */
	char *buf;		/* SHMEM: one page, for write(2) */
	int uffd;
	struct monitor mon;
	struct resolver res;	/* the SIGBUS handler's */
	bool hole[MAX_UNITS];
	long nholes;
};

FIXTURE(sigbus)
{
	struct mem m;
};

FIXTURE_VARIANT(sigbus)
{
	enum mem_type type;
};

FIXTURE_VARIANT_ADD(sigbus, anon) { .type = ANON };
FIXTURE_VARIANT_ADD(sigbus, shmem) { .type = SHMEM };
FIXTURE_VARIANT_ADD(sigbus, thp_tmpfs) { .type = THP_TMPFS };
FIXTURE_VARIANT_ADD(sigbus, hugetlb) { .type = HUGETLB };

/* A tmpfs mounted with huge=always, detached: its fd, or -errno. */
static int tmpfs_huge_always(void)
{
	int fs = sys_fsopen("tmpfs", FSOPEN_CLOEXEC), mnt, err;

	if (fs < 0)
		return -errno;
	if (sys_fsconfig(fs, FSCONFIG_SET_STRING, "huge", "always", 0) ||
	    sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		err = -errno;
		close(fs);
		return err;
	}
	mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, 0);
	err = -errno;
	close(fs);
	return mnt < 0 ? err : mnt;
}

static bool is_hole(struct mem *m, enum mem_type type, long i)
{
	long thp;

	if (type != THP_TMPFS)
		return i & 1;
	thp = i / (m->thp / page_size);
	return thp == 2 || (thp == 1 && (i & 1));
}

FIXTURE_SETUP(sigbus)
{
	struct mem *m = &self->m;
	int mfd_flags = MFD_CLOEXEC;
	char *at = NULL;

	page_size = getpagesize();
	m->fd = -1;
	m->mnt = -1;
	m->uffd = -1;
	m->unit = page_size;
	m->nunits = 32;
	ASSERT_EQ(catch_sigbus(), 0);

	switch (variant->type) {
	case ANON:
		break;
	case SHMEM:
		m->fd = sys_memfd_create("uffd-sigbus", mfd_flags);
		ASSERT_GE(m->fd, 0);
		m->buf = malloc(page_size);
		ASSERT_NE(m->buf, NULL);
		break;
	case THP_TMPFS:
		m->thp = read_pmd_pagesize();
		if (!m->thp)
			SKIP(return, "no THP on this kernel");
		m->mnt = tmpfs_huge_always();
		if (m->mnt < 0)
			SKIP(return, "cannot mount tmpfs huge=always: %s",
			     strerror(-m->mnt));
		m->fd = openat(m->mnt, ".", O_TMPFILE | O_RDWR, 0600);
		ASSERT_GE(m->fd, 0);
		m->nunits = 3 * m->thp / page_size;
		break;
	case HUGETLB:
		m->unit = default_huge_page_size();
		m->nunits = 4;
		if (!m->unit || get_free_hugepages() < 2 * m->nunits)
			SKIP(return, "needs %ld free huge pages",
			     2 * m->nunits);
		m->fd = sys_memfd_create("uffd-sigbus", mfd_flags | MFD_HUGETLB);
		ASSERT_GE(m->fd, 0);
		break;
	}
	m->len = m->nunits * m->unit;
	if (m->fd < 0) {
		m->p = mmap(NULL, m->len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(m->p, MAP_FAILED);
		/* One SIGBUS per 4 KiB page: no THP here. */
		ASSERT_EQ(sys_madvise(m->p, m->len, MADV_NOHUGEPAGE), 0);
	} else {
		ASSERT_EQ(ftruncate(m->fd, m->len), 0);
		if (variant->type == THP_TMPFS) {
			at = reserve_aligned(m->len, m->thp);
			ASSERT_NE(at, NULL);
		}
		m->p = mmap(at, m->len, PROT_READ | PROT_WRITE,
			    MAP_SHARED | (at ? MAP_FIXED : 0), m->fd, 0);
		ASSERT_NE(m->p, MAP_FAILED);
	}
	for (long i = 0; i < m->nunits; i++) {
		char *u = m->p + i * m->unit;

		if (variant->type == SHMEM) {
			/* In the page cache, not mapped: see above. */
			unit_fill(m->buf, m->unit, i, 0);
			ASSERT_EQ(pwrite(m->fd, m->buf, m->unit, i * m->unit),
				  (ssize_t)m->unit);
		} else {
			unit_fill(u, m->unit, i, 0);
		}
		m->hole[i] = is_hole(m, variant->type, i);
		m->nholes += m->hole[i];
	}
	if (variant->type == THP_TMPFS &&
	    !check_huge_shmem(m->p, 3, m->thp))
		SKIP(return, "tmpfs huge=always gave no PMD-mapped THP");
}

FIXTURE_TEARDOWN(sigbus)
{
	struct mem *m = &self->m;

	monitor_stop(&m->mon);
	if (m->uffd >= 0)
		close(m->uffd);
	if (m->p && m->p != MAP_FAILED)
		munmap(m->p, m->len);
	if (m->fd >= 0)
		close(m->fd);
	if (m->mnt >= 0)
		close(m->mnt);
}

static char *unit_addr(struct mem *m, long i)
{
	/* Not the unit's first byte: si_addr must be the address accessed. */
	return m->p + i * m->unit + m->unit / 2 + 8;
}

/* Punch the holes, and check that they are holes and nothing else is. */
static void make_holes(struct __test_metadata *_metadata,
		       struct mem *m)
{
	for (long i = 0; i < m->nunits; i++) {
		char *u = m->p + i * m->unit;

		if (!m->hole[i])
			continue;
		if (m->fd < 0) {
			ASSERT_EQ(sys_madvise(u, m->unit, MADV_DONTNEED), 0);
		} else {
			ASSERT_EQ(fallocate(m->fd, FALLOC_FL_PUNCH_HOLE |
					    FALLOC_FL_KEEP_SIZE,
					    i * m->unit, m->unit), 0);
		}
	}
	for (long i = 0; i < m->nunits; i++) {
		ASSERT_EQ(resident(m->p + i * m->unit), !m->hole[i])
			TH_LOG("unit %ld: hole %d", i, m->hole[i]);
	}
}

/*
 * A userfaultfd with UFFD_FEATURE_SIGBUS and @features, the range
 * registered for missing or write-protect faults (and write-protected),
 * the monitor started, and the SIGBUS handler set to resolve faults as
 * the monitor would.  False if the test was skipped.
 */
static bool sigbus_register(struct __test_metadata *_metadata,
			    struct mem *m, uint64_t features,
			    bool wp)
{
	enum resolve how = wp ? RESOLVE_WP : RESOLVE_COPY;

	if (wp)
		features |= UFFD_FEATURE_PAGEFAULT_FLAG_WP |
			    UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	m->uffd = uffd_open(0, UFFD_FEATURE_SIGBUS | features);
	if (m->uffd == -EPERM)
		SKIP(return false, "UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE");
	if (m->uffd < 0)
		SKIP(return false, "userfaultfd features %#llx: %s",
		     (unsigned long long)features, strerror(-m->uffd));
	ASSERT_EQ(uffd_register(m->uffd, m->p, m->len, !wp, wp,
				false), 0);
	if (wp)
		ASSERT_EQ(uffd_protect(m->uffd, m->p, m->len, true), 0);
	ASSERT_EQ(monitor_start(&m->mon, m->uffd, m->p, m->unit,
				m->nunits, 1, how), 0);
	ASSERT_EQ(resolver_init(&m->res, m->p, m->unit, m->nunits,
				1, how), 0);
	bus_resolve_with(m->uffd, &m->res);
	return true;
}

/* Access every unit; how many accesses did not complete. */
static long touch_all(struct mem *m, bool write)
{
	long incomplete = 0;

	for (long i = 0; i < m->nunits; i++)
		incomplete += touch(unit_addr(m, i), write) != 0;
	return incomplete;
}

/*
 * Missing faults on the holes, resolved by the handler with UFFDIO_COPY:
 * one SIGBUS per hole, none for the other pages, no event, every access
 * completes, and each unit holds what it should: generation 1 in the holes,
 * 0 elsewhere (a hole filled twice, or a page filled that was not a hole,
 * would show).
 */
static void missing_one_sigbus_per_hole(struct __test_metadata *_metadata,
					struct mem *m, bool write)
{
	make_holes(_metadata, m);
	if (!sigbus_register(_metadata, m, 0, false))
		return;

	EXPECT_EQ(touch_all(m, write), 0);
	EXPECT_EQ(bus.err, 0);
	EXPECT_EQ(bus.count, m->nholes);
	EXPECT_EQ(bus.bad, 0);

	monitor_stop(&m->mon);
	EXPECT_EQ(monitor_faults(&m->mon), 0);
	EXPECT_EQ(m->mon.leftover, 0);
	for (long i = 0; i < m->nunits; i++) {
		EXPECT_EQ(unit_state(m->p + i * m->unit, m->unit, i,
				     m->hole[i]), UNIT_DATA)
			TH_LOG("unit %ld (hole %d)", i, m->hole[i]);
	}
}

TEST_F(sigbus, missing_read_raises_one_sigbus_per_hole)
{
	struct mem *m = &self->m;

	missing_one_sigbus_per_hole(_metadata, m, false);
}

TEST_F(sigbus, missing_write_raises_one_sigbus_per_hole)
{
	struct mem *m = &self->m;

	missing_one_sigbus_per_hole(_metadata, m, true);
}

/* Every write to a protected unit raises one SIGBUS; lifted, it completes. */
TEST_F(sigbus, wp_write_raises_one_sigbus_per_page)
{
	struct mem *m = &self->m;

	if (!sigbus_register(_metadata, m, 0, true))
		return;

	EXPECT_EQ(touch_all(m, true), 0);
	EXPECT_EQ(bus.err, 0);
	EXPECT_EQ(bus.count, m->nunits);
	EXPECT_EQ(bus.bad, 0);

	monitor_stop(&m->mon);
	EXPECT_EQ(monitor_faults(&m->mon), 0);
	EXPECT_EQ(m->mon.leftover, 0);
	EXPECT_EQ(count_state(m->p, m->unit, 0, m->nunits, 0,
			      UNIT_DATA), m->nunits);
}

TEST_F(sigbus, wp_read_raises_nothing)
{
	struct mem *m = &self->m;

	if (!sigbus_register(_metadata, m, 0, true))
		return;
	bus_resolve_with(-1, NULL);

	EXPECT_EQ(touch_all(m, false), 0);
	EXPECT_EQ(bus.count, 0);
	/* Still protected: the first write raises SIGBUS. */
	EXPECT_EQ(touch(unit_addr(m, 0), true), SIGBUS);
	EXPECT_EQ(bus.count, 1);

	monitor_stop(&m->mon);
	EXPECT_EQ(monitor_faults(&m->mon), 0);
}

/* What a forked child saw, in memory it shares with the parent. */
struct child_report {
	long sigbus;		/* signals raised */
	long bad;		/* ... not BUS_ADRERR at the address accessed */
	long incomplete;	/* accesses the handler jumped out of */
	long data;		/* units holding generation 0 */
	long zero;		/* units reading zeroes */
	long done;
};

/*
 * Fork a child that accesses every unit (writes if @write) without
 * resolving anything, and checks what the completed accesses read.
 */
static void fork_and_touch(struct __test_metadata *_metadata,
			   struct mem *m, bool write,
			   struct child_report *r)
{
	pid_t pid;
	int status;

	memset(r, 0, sizeof(*r));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		bus_resolve_with(-1, NULL);
		bus.count = 0;
		bus.bad = 0;
		for (long i = 0; i < m->nunits; i++) {
			char *u = m->p + i * m->unit;

			if (touch(unit_addr(m, i), write)) {
				r->incomplete++;
				continue;
			}
			r->data += unit_state(u, m->unit, i, 0) == UNIT_DATA;
			r->zero += unit_state(u, m->unit, i, 0) == UNIT_ZERO;
		}
		r->sigbus = bus.count;
		r->bad = bus.bad;
		r->done = 1;
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("child status %#x", status);
	ASSERT_EQ(r->done, 1);
}

static struct child_report *report_map(void)
{
	struct child_report *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return r == MAP_FAILED ? NULL : r;
}

/*
 * With UFFD_FEATURE_EVENT_FORK the child's copy of the range is registered
 * with a new userfaultfd that inherits UFFD_FEATURE_SIGBUS: its holes raise
 * SIGBUS, one each; its other pages hold the parent's data.  The monitor
 * reads the fork event (the parent's fork() waits for that) and no fault.
 */
TEST_F(sigbus, fork_with_event_fork_child_gets_sigbus_on_holes)
{
	struct mem *m = &self->m;
	struct child_report *r = report_map();

	ASSERT_NE(r, NULL);
	make_holes(_metadata, m);
	if (!sigbus_register(_metadata, m, UFFD_FEATURE_EVENT_FORK, false))
		return;
	fork_and_touch(_metadata, m, false, r);

	EXPECT_EQ(r->sigbus, m->nholes);
	EXPECT_EQ(r->bad, 0);
	EXPECT_EQ(r->incomplete, m->nholes);
	EXPECT_EQ(r->data, m->nunits - m->nholes);
	monitor_stop(&m->mon);
	EXPECT_EQ(m->mon.forks, 1);
	EXPECT_EQ(monitor_faults(&m->mon), 0);
	EXPECT_EQ(m->mon.others, 0);
	EXPECT_EQ(m->mon.leftover, 0);
}

/* Without it the child's range is not registered: holes fill with zeroes. */
TEST_F(sigbus, fork_without_event_fork_child_fills_holes)
{
	struct mem *m = &self->m;
	struct child_report *r = report_map();

	ASSERT_NE(r, NULL);
	make_holes(_metadata, m);
	if (!sigbus_register(_metadata, m, 0, false))
		return;
	fork_and_touch(_metadata, m, false, r);

	EXPECT_EQ(r->sigbus, 0);
	EXPECT_EQ(r->incomplete, 0);
	EXPECT_EQ(r->data, m->nunits - m->nholes);
	EXPECT_EQ(r->zero, m->nholes);
	monitor_stop(&m->mon);
	EXPECT_EQ(m->mon.forks, 0);
	EXPECT_EQ(monitor_faults(&m->mon), 0);
	EXPECT_EQ(m->mon.leftover, 0);
}

/* The child's copy keeps the write protection: one SIGBUS per write. */
TEST_F(sigbus, fork_with_event_fork_child_gets_sigbus_on_wp_writes)
{
	struct mem *m = &self->m;
	struct child_report *r = report_map();

	ASSERT_NE(r, NULL);
	if (!sigbus_register(_metadata, m, UFFD_FEATURE_EVENT_FORK, true))
		return;
	fork_and_touch(_metadata, m, true, r);

	EXPECT_EQ(r->sigbus, m->nunits);
	EXPECT_EQ(r->bad, 0);
	EXPECT_EQ(r->incomplete, m->nunits);
	monitor_stop(&m->mon);
	EXPECT_EQ(m->mon.forks, 1);
	EXPECT_EQ(monitor_faults(&m->mon), 0);
	EXPECT_EQ(m->mon.leftover, 0);
}

TEST_F(sigbus, fork_without_event_fork_child_writes_wp_pages)
{
	struct mem *m = &self->m;
	struct child_report *r = report_map();

	ASSERT_NE(r, NULL);
	if (!sigbus_register(_metadata, m, 0, true))
		return;
	fork_and_touch(_metadata, m, true, r);

	EXPECT_EQ(r->sigbus, 0);
	EXPECT_EQ(r->incomplete, 0);
	EXPECT_EQ(r->data, m->nunits);
	monitor_stop(&m->mon);
	EXPECT_EQ(monitor_faults(&m->mon), 0);
	EXPECT_EQ(m->mon.leftover, 0);
}

/* The first hole punched by make_holes(). */
static char *first_hole(struct mem *m)
{
	for (long i = 0; i < m->nunits; i++)
		if (m->hole[i])
			return m->p + i * m->unit;
	return NULL;
}

/*
 * A kernel access, @how: write(2) from @addr into a pipe, read(2) from a
 * pipe into @addr, or an madvise() populate advice over the whole range.
 * Must fail with EFAULT, raise no signal and queue nothing.
 */
enum kaccess { KREAD, KWRITE, KPOPULATE };

static void kernel_access_is_efault(struct __test_metadata *_metadata,
				    struct mem *m, char *addr,
				    enum kaccess how, int advice)
{
	static char buf[4096];
	int fds[2];

	ASSERT_EQ(pipe(fds), 0);
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(write(fds[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	errno = 0;
	switch (how) {
	case KREAD:	/* the kernel reads @addr */
		EXPECT_EQ(write(fds[1], addr, sizeof(buf)), -1);
		break;
	case KWRITE:	/* the kernel writes @addr */
		EXPECT_EQ(read(fds[0], addr, sizeof(buf)), -1);
		break;
	case KPOPULATE:
		EXPECT_EQ(sys_madvise(m->p, m->len, advice), -1);
		break;
	}
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(bus.count, 0);
	close(fds[0]);
	close(fds[1]);
	monitor_stop(&m->mon);
	EXPECT_EQ(monitor_faults(&m->mon), 0);
	EXPECT_EQ(m->mon.leftover, 0);
}

TEST_F(sigbus, kernel_read_of_a_hole_is_efault)
{
	struct mem *m = &self->m;

	make_holes(_metadata, m);
	if (!sigbus_register(_metadata, m, 0, false))
		return;
	kernel_access_is_efault(_metadata, m, first_hole(m), KREAD, 0);
	EXPECT_FALSE(resident(first_hole(m)));
}

TEST_F(sigbus, kernel_write_into_a_hole_is_efault)
{
	struct mem *m = &self->m;

	make_holes(_metadata, m);
	if (!sigbus_register(_metadata, m, 0, false))
		return;
	kernel_access_is_efault(_metadata, m, first_hole(m), KWRITE, 0);
	EXPECT_FALSE(resident(first_hole(m)));
}

TEST_F(sigbus, kernel_write_into_a_wp_page_is_efault)
{
	struct mem *m = &self->m;

	if (!sigbus_register(_metadata, m, 0, true))
		return;
	kernel_access_is_efault(_metadata, m, m->p, KWRITE, 0);
	EXPECT_EQ(unit_state(m->p, m->unit, 0, 0), UNIT_DATA);
}

TEST_F(sigbus, populate_read_of_a_hole_is_efault)
{
	struct mem *m = &self->m;

	make_holes(_metadata, m);
	if (!sigbus_register(_metadata, m, 0, false))
		return;
	kernel_access_is_efault(_metadata, m, NULL, KPOPULATE,
				MADV_POPULATE_READ);
	EXPECT_FALSE(resident(first_hole(m)));
}

TEST_F(sigbus, populate_write_of_a_hole_is_efault)
{
	struct mem *m = &self->m;

	make_holes(_metadata, m);
	if (!sigbus_register(_metadata, m, 0, false))
		return;
	kernel_access_is_efault(_metadata, m, NULL, KPOPULATE,
				MADV_POPULATE_WRITE);
	EXPECT_FALSE(resident(first_hole(m)));
}

/* Whether the kernel knows MADV_POPULATE (EINVAL on a plain page if not). */
static bool madv_populate_supported(void)
{
	char *p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ret;

	if (p == MAP_FAILED)
		return false;
	ret = !sys_madvise(p, page_size, MADV_POPULATE);
	munmap(p, page_size);
	return ret;
}

/* MADV_POPULATE documents EFAULT for a range with UFFD_FEATURE_SIGBUS. */
TEST_F(sigbus, madv_populate_of_a_hole_is_efault)
{
	struct mem *m = &self->m;

	if (!madv_populate_supported())
		SKIP(return, "no MADV_POPULATE");
	make_holes(_metadata, m);
	if (!sigbus_register(_metadata, m, 0, false))
		return;
	kernel_access_is_efault(_metadata, m, NULL, KPOPULATE,
				MADV_POPULATE);
	EXPECT_FALSE(resident(first_hole(m)));
}

TEST_F(sigbus, populate_write_of_wp_pages_is_efault)
{
	struct mem *m = &self->m;

	if (!sigbus_register(_metadata, m, 0, true))
		return;
	kernel_access_is_efault(_metadata, m, NULL, KPOPULATE,
				MADV_POPULATE_WRITE);
	EXPECT_EQ(count_state(m->p, m->unit, 0, m->nunits, 0,
			      UNIT_DATA), m->nunits);
}

/*
 * Part 2: purged volatile pages.
 */

/* Probed once, in the harness's process, before it forks the tests. */
static bool purged_supported;

static void __attribute__((constructor)) probe(void)
{
	int fd;

	volatile_supported();
	fd = uffd_open(0, UFFD_FEATURE_MISSING_PURGED);
	purged_supported = fd >= 0;
	if (fd >= 0)
		close(fd);
}

/*
 * Write memory.reclaim of @cg until no page of [p, p + len) is present, at
 * most @rounds times (and for at most 10 s): whether they are all gone.
 */
static bool reclaim_until_gone(const char *cg, char *p, size_t len,
			       int rounds)
{
	return !reclaim_until(cg, p, len, 0, rounds);
}

/*
 * Each test runs in a memory cgroup of its own, without swap, made by the
 * setup and removed by a teardown in the harness's process, so that it is
 * also removed when the test dies.  @buf: 2 * NR_PURGED pages; the first
 * NR_PURGED were made volatile and purged, the others made volatile after
 * that and are present.
 */
struct pbuf {
	char cg[128];
	char *buf;
	size_t len;		/* of each half */
	int uffd;
	struct monitor mon;
	struct resolver res;	/* the SIGBUS handler's */
};

FIXTURE(purged)
{
	struct pbuf b;
};

static void purged_fini(struct pbuf *b)
{
	cg_destroy(b->cg);
}

static void purged_init(struct __test_metadata *_metadata, struct pbuf *b)
{
	const char *missing;

	page_size = getpagesize();
	b->len = NR_PURGED * page_size;
	b->uffd = -1;
	missing = volatile_cg_missing();
	if (missing)
		SKIP(return, "%s", missing);
	cg_reap_stale(CG_PREFIX);
	ASSERT_EQ(cg_create(b->cg, sizeof(b->cg), CG_PREFIX), 0);
	if (cg_write(b->cg, "memory.swap.max", "0") && swap_on()) {
		purged_fini(b);
		SKIP(return, "swap on, memory.swap.max not settable");
	}
	ASSERT_EQ(cg_enter(b->cg, getpid()), 0);
	ASSERT_EQ(catch_sigbus(), 0);

	b->buf = mmap(NULL, 2 * b->len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(b->buf, MAP_FAILED);
	ASSERT_EQ(sys_madvise(b->buf, 2 * b->len, MADV_NOHUGEPAGE), 0);
	for (long i = 0; i < 2 * NR_PURGED; i++)
		unit_fill(b->buf + i * page_size, page_size, i, 0);
	ASSERT_EQ(set_volatile(b->buf, b->len), 0);
	ASSERT_TRUE(reclaim_until_gone(b->cg, b->buf, b->len, 1000))
		TH_LOG("volatile pages not purged");
	ASSERT_EQ(set_volatile(b->buf + b->len, b->len), 0);
	ASSERT_EQ(pagemap_count(b->buf + b->len, b->len, PM_PRESENT),
		  NR_PURGED);
}

FIXTURE_SETUP(purged)
{
	purged_init(_metadata, &self->b);
}

FIXTURE_TEARDOWN_PARENT(purged)
{
	purged_fini(&self->b);
}

static char *page_addr(struct pbuf *b, long i)
{
	/* Not the page's first byte: si_addr must be the address accessed. */
	return b->buf + i * page_size + 8 * (i % 64);
}

/*
 * A userfaultfd (@flags, @features) for the range [@start, @start + @n)
 * (pages of buf), registered for missing or write-protect faults, and the
 * monitor started, resolving missing faults with @how.  False if skipped.
 */
static bool purged_register(struct __test_metadata *_metadata,
			    struct pbuf *b, int flags,
			    uint64_t features, long start, long n, bool wp,
			    enum resolve how)
{
	if ((features & UFFD_FEATURE_MISSING_PURGED) && !purged_supported)
		SKIP(return false, "no UFFD_FEATURE_MISSING_PURGED");
	b->uffd = uffd_open(flags, features);
	if (b->uffd < 0)
		SKIP(return false, "userfaultfd flags %#x features %#llx: %s",
		     flags, (unsigned long long)features,
		     strerror(-b->uffd));
	ASSERT_EQ(uffd_register(b->uffd, b->buf + start * page_size,
				n * page_size, !wp, wp, false), 0);
	ASSERT_EQ(monitor_start(&b->mon, b->uffd, b->buf, page_size,
				2 * NR_PURGED, 1, how), 0);
	return true;
}

/* The whole buffer, with UFFD_FEATURE_MISSING_PURGED, resolved by copy. */
static bool purged_register_all(struct __test_metadata *_metadata,
				struct pbuf *b)
{
	return purged_register(_metadata, b, 0,
			       UFFD_FEATURE_MISSING_PURGED, 0, 2 * NR_PURGED,
			       false, RESOLVE_COPY);
}

/* Purged pages hold generation 1 (regenerated), the others generation 0. */
static void expect_regenerated(struct __test_metadata *_metadata,
			       struct pbuf *b)
{
	EXPECT_EQ(count_state(b->buf, page_size, 0, NR_PURGED, 1,
			      UNIT_DATA), NR_PURGED);
	EXPECT_EQ(count_state(b->buf, page_size, NR_PURGED, NR_PURGED, 0,
			      UNIT_DATA), NR_PURGED);
}

/* One event per purged page and none for the others, in unit order. */
static void expect_one_event_per_purged_page(struct __test_metadata *_metadata,
					     struct pbuf *b)
{
	EXPECT_EQ(monitor_faults(&b->mon), NR_PURGED);
	for (long i = 0; i < 2 * NR_PURGED; i++) {
		EXPECT_EQ(b->mon.per_unit[i], i < NR_PURGED)
			TH_LOG("page %ld", i);
	}
	EXPECT_EQ(b->mon.wp_faults, 0);
	EXPECT_EQ(b->mon.outside, 0);
	EXPECT_EQ(b->mon.others, 0);
	EXPECT_EQ(b->mon.leftover, 0);
	EXPECT_EQ(b->mon.err, 0);
}

/*
 * Access every page once, purged and present ones in turn; each purged
 * page is reported once and comes back with the monitor's data.
 */
TEST_F_TIMEOUT(purged, each_purged_page_read_gives_one_event, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register_all(_metadata, b))
		return;
	for (long i = 0; i < NR_PURGED; i++) {
		EXPECT_EQ(touch(page_addr(b, i), false), 0);
		EXPECT_EQ(touch(page_addr(b, NR_PURGED + i), false), 0);
	}
	monitor_stop(&b->mon);
	EXPECT_EQ(bus.count, 0);
	expect_one_event_per_purged_page(_metadata, b);
	EXPECT_EQ(b->mon.write_faults, 0);
	expect_regenerated(_metadata, b);
}

TEST_F_TIMEOUT(purged, each_purged_page_write_gives_one_write_event, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register_all(_metadata, b))
		return;
	for (long i = 0; i < 2 * NR_PURGED; i++)
		EXPECT_EQ(touch(page_addr(b, i), true), 0);
	monitor_stop(&b->mon);
	EXPECT_EQ(bus.count, 0);
	expect_one_event_per_purged_page(_metadata, b);
	EXPECT_EQ(b->mon.write_faults, NR_PURGED);
	expect_regenerated(_metadata, b);
}

struct toucher {
	pthread_t thread;
	struct pbuf *b;
	void *crowd;		/* the struct crowd it is part of */
	int id;
	long incomplete;	/* accesses that did not complete */
	long sigbus;
	long bad_data;		/* pages that read wrong after the access */
};

/* Thread @id reads pages id, id + NR_THREADS, ... of the buffer. */
static void *touch_some(void *arg)
{
	struct toucher *t = arg;
	struct pbuf *b = t->b;

	for (long i = t->id; i < 2 * NR_PURGED; i += NR_THREADS) {
		t->incomplete += touch(page_addr(b, i), false) != 0;
		t->bad_data += unit_state(b->buf + i * page_size, page_size,
					  i, i < NR_PURGED) != UNIT_DATA;
	}
	t->sigbus = bus.count;
	return NULL;
}

/* The same with the pages shared out among threads: still one event each. */
TEST_F_TIMEOUT(purged, purged_pages_read_by_several_threads_give_one_event_each, 60)
{
	struct pbuf *b = &self->b;
	struct toucher t[NR_THREADS] = { 0 };

	if (!purged_register_all(_metadata, b))
		return;
	for (int i = 0; i < NR_THREADS; i++) {
		t[i].b = b;
		t[i].id = i;
		ASSERT_EQ(pthread_create(&t[i].thread, NULL, touch_some, &t[i]), 0);
	}
	for (int i = 0; i < NR_THREADS; i++) {
		ASSERT_EQ(pthread_join(t[i].thread, NULL), 0);
		EXPECT_EQ(t[i].incomplete, 0);
		EXPECT_EQ(t[i].sigbus, 0);
		EXPECT_EQ(t[i].bad_data, 0);
	}
	monitor_stop(&b->mon);
	expect_one_event_per_purged_page(_metadata, b);
	expect_regenerated(_metadata, b);
}

/*
 * Several threads fault the same purged page at once, page after page.
 * Every thread that finds the page purged before the monitor's copy has
 * landed queues an event of its own (handle_userfault() does not merge
 * them), so each page gets between 1 and NR_THREADS events: how many
 * depends on the timing and is only printed.  The monitor's copy for a
 * later duplicate finds the page present (EEXIST) and wakes instead.
 * Verdicts: every thread reads the regenerated data and no SIGBUS; after a
 * second barrier each thread writes a word of its own in the page, and
 * all those words are there at the end, so a duplicate copy that replaced
 * the page instead of failing with EEXIST would show.
 */
struct crowd {
	struct pbuf *b;
	pthread_barrier_t barrier;
	struct toucher t[NR_THREADS];
};

static uint64_t thread_word(long page, int id)
{
	return pattern(page, 100 + id);
}

static void *crowd_thread(void *arg)
{
	struct toucher *t = arg;
	struct crowd *c = t->crowd;
	struct pbuf *b = c->b;

	for (long i = 0; i < NR_PURGED; i++) {
		char *page = b->buf + i * page_size;

		pthread_barrier_wait(&c->barrier);
		t->incomplete += touch(page_addr(b, i), false) != 0;
		t->bad_data += unit_state(page, page_size, i, 1) != UNIT_DATA;
		pthread_barrier_wait(&c->barrier);
		((uint64_t *)page)[t->id] = thread_word(i, t->id);
	}
	t->sigbus = bus.count;
	return NULL;
}

TEST_F_TIMEOUT(purged, threads_faulting_one_purged_page_all_see_its_data, 60)
{
	struct pbuf *b = &self->b;
	struct crowd c = { .b = b };
	long dup_pages = 0, words = 0, rest = 0;

	if (!purged_register_all(_metadata, b))
		return;
	ASSERT_EQ(pthread_barrier_init(&c.barrier, NULL, NR_THREADS), 0);
	for (int i = 0; i < NR_THREADS; i++) {
		c.t[i].id = i;
		c.t[i].crowd = &c;
		ASSERT_EQ(pthread_create(&c.t[i].thread, NULL, crowd_thread,
					 &c.t[i]), 0);
	}
	for (int i = 0; i < NR_THREADS; i++) {
		ASSERT_EQ(pthread_join(c.t[i].thread, NULL), 0);
		EXPECT_EQ(c.t[i].incomplete, 0);
		EXPECT_EQ(c.t[i].sigbus, 0);
		EXPECT_EQ(c.t[i].bad_data, 0);
	}
	monitor_stop(&b->mon);
	for (long i = 0; i < NR_PURGED; i++) {
		uint64_t *w = (uint64_t *)(b->buf + i * page_size);

		EXPECT_GE(b->mon.per_unit[i], 1) TH_LOG("page %ld", i);
		EXPECT_LE(b->mon.per_unit[i], NR_THREADS) TH_LOG("page %ld", i);
		dup_pages += b->mon.per_unit[i] > 1;
		for (int k = 0; k < NR_THREADS; k++)
			words += w[k] == thread_word(i, k);
		for (size_t k = NR_THREADS; k < page_size / sizeof(*w); k++)
			rest += w[k] == pattern(i, 1);
	}
	EXPECT_EQ(words, NR_PURGED * NR_THREADS);
	EXPECT_EQ(rest, NR_PURGED * (page_size / sizeof(uint64_t) - NR_THREADS));
	EXPECT_EQ(b->mon.err, 0);
	EXPECT_EQ(b->mon.leftover, 0);
	EXPECT_EQ(set_nonvolatile(b->buf, 2 * b->len), 0);
	ksft_print_msg("%ld events for %d pages; %ld pages with duplicates, %ld woken\n",
		       monitor_faults(&b->mon), NR_PURGED, dup_pages,
		       b->mon.eexist);
}

/*
 * A regenerated page is no longer purged: MADV_NONVOLATILE does not report
 * it.  One purged page is left alone, and is reported: the answer is per
 * page, not "anything ever purged here".
 */
TEST_F_TIMEOUT(purged, regenerated_pages_are_not_reported_by_nonvolatile, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register_all(_metadata, b))
		return;
	for (long i = 0; i < NR_PURGED - 1; i++)
		EXPECT_EQ(touch(page_addr(b, i), false), 0);
	monitor_stop(&b->mon);
	EXPECT_EQ(monitor_faults(&b->mon), NR_PURGED - 1);
	EXPECT_EQ(set_nonvolatile(b->buf, b->len - page_size), 0);
	EXPECT_EQ(set_nonvolatile(b->buf + b->len, b->len), 0);
	EXPECT_EQ(set_nonvolatile(b->buf + b->len - page_size,
				  page_size), 1);
}

TEST_F_TIMEOUT(purged, regenerated_pages_clear_pm_purged, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register_all(_metadata, b))
		return;
	EXPECT_EQ(pagemap_count(b->buf, b->len, PM_PURGED), NR_PURGED);
	EXPECT_EQ(pagemap_count(b->buf + b->len, b->len, PM_PURGED), 0);
	for (long i = 0; i < NR_PURGED; i++)
		EXPECT_EQ(touch(page_addr(b, i), false), 0);
	monitor_stop(&b->mon);
	EXPECT_EQ(monitor_faults(&b->mon), NR_PURGED);
	EXPECT_EQ(pagemap_count(b->buf, 2 * b->len, PM_PURGED), 0);
	EXPECT_EQ(pagemap_count(b->buf, 2 * b->len, PM_PRESENT),
		  2 * NR_PURGED);
}

TEST_F_TIMEOUT(purged, regenerated_pages_clear_page_is_purged, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register_all(_metadata, b))
		return;
	EXPECT_EQ(scan_pages(b->buf, 2 * NR_PURGED, PAGE_IS_PURGED, 0, NULL),
		  NR_PURGED);
	for (long i = 0; i < NR_PURGED; i++)
		EXPECT_EQ(touch(page_addr(b, i), false), 0);
	monitor_stop(&b->mon);
	EXPECT_EQ(monitor_faults(&b->mon), NR_PURGED);
	EXPECT_EQ(scan_pages(b->buf, 2 * NR_PURGED, PAGE_IS_PURGED, 0, NULL),
		  0);
}

TEST_F_TIMEOUT(purged, zeropage_regenerates_purged_pages_as_zeroes, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register(_metadata, b, 0, UFFD_FEATURE_MISSING_PURGED,
			     0, 2 * NR_PURGED, false, RESOLVE_ZERO))
		return;
	for (long i = 0; i < 2 * NR_PURGED; i++)
		EXPECT_EQ(touch(page_addr(b, i), false), 0);
	monitor_stop(&b->mon);
	expect_one_event_per_purged_page(_metadata, b);
	EXPECT_EQ(count_state(b->buf, page_size, 0, NR_PURGED, 0,
			      UNIT_ZERO), NR_PURGED);
	EXPECT_EQ(set_nonvolatile(b->buf, 2 * b->len), 0);
}

/* A monitor that knows what was purged may regenerate it before any access. */
TEST_F_TIMEOUT(purged, copy_before_any_access_replaces_the_purged_marker, 60)
{
	struct pbuf *b = &self->b;
	char *src = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(src, MAP_FAILED);
	if (!purged_register_all(_metadata, b))
		return;
	for (long i = 0; i < NR_PURGED; i++) {
		unit_fill(src, page_size, i, 1);
		EXPECT_EQ(uffd_copy(b->uffd, b->buf + i * page_size, src,
				    page_size), 0) {
			TH_LOG("page %ld", i);
		}
	}
	for (long i = 0; i < 2 * NR_PURGED; i++)
		EXPECT_EQ(touch(page_addr(b, i), false), 0);
	monitor_stop(&b->mon);
	EXPECT_EQ(monitor_faults(&b->mon), 0);
	expect_regenerated(_metadata, b);
	EXPECT_EQ(set_nonvolatile(b->buf, 2 * b->len), 0);
}

/* Regenerated or never purged, a present page is not overwritten. */
TEST_F_TIMEOUT(purged, copy_onto_a_present_page_is_eexist, 60)
{
	struct pbuf *b = &self->b;
	char *src = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *regenerated = b->buf, *never = b->buf + b->len;

	ASSERT_NE(src, MAP_FAILED);
	unit_fill(src, page_size, 0, 2);
	if (!purged_register_all(_metadata, b))
		return;
	ASSERT_EQ(touch(page_addr(b, 0), false), 0);
	EXPECT_EQ(uffd_copy(b->uffd, regenerated, src, page_size), -EEXIST);
	EXPECT_EQ(uffd_copy(b->uffd, never, src, page_size), -EEXIST);
	monitor_stop(&b->mon);
	EXPECT_EQ(monitor_faults(&b->mon), 1);
	EXPECT_EQ(unit_state(regenerated, page_size, 0, 1), UNIT_DATA);
	EXPECT_EQ(unit_state(never, page_size, NR_PURGED, 0), UNIT_DATA);
}

/* Purged after registration (for missing faults only): reported all the same. */
TEST_F_TIMEOUT(purged, pages_purged_while_registered_give_events, 60)
{
	struct pbuf *b = &self->b;
	char *p = b->buf + b->len;

	if (!purged_register_all(_metadata, b))
		return;
	/* The present half, purged now, after registration. */
	ASSERT_TRUE(reclaim_until_gone(b->cg, p, b->len, 1000));
	for (long i = NR_PURGED; i < 2 * NR_PURGED; i++)
		EXPECT_EQ(touch(page_addr(b, i), false), 0);
	monitor_stop(&b->mon);
	EXPECT_EQ(monitor_faults(&b->mon), NR_PURGED);
	for (long i = NR_PURGED; i < 2 * NR_PURGED; i++) {
		EXPECT_EQ(b->mon.per_unit[i], 1)
			TH_LOG("page %ld", i);
	}
	EXPECT_EQ(count_state(b->buf, page_size, NR_PURGED, NR_PURGED, 1,
			      UNIT_DATA), NR_PURGED);
}

/*
 * Reclaim does not purge a range registered for write-protect faults: the
 * marker would lose the protection.  The same reclaim purges the pages once
 * the range is unregistered, so the first half of the test can fail.
 */
TEST_F_TIMEOUT(purged, wp_registered_pages_are_not_purged, 60)
{
	struct pbuf *b = &self->b;
	char *p = b->buf + b->len;

	if (!purged_register(_metadata, b, 0, UFFD_FEATURE_MISSING_PURGED |
			     UFFD_FEATURE_PAGEFAULT_FLAG_WP, NR_PURGED,
			     NR_PURGED, true, RESOLVE_COPY))
		return;
	EXPECT_FALSE(reclaim_until_gone(b->cg, p, b->len, 20));
	EXPECT_EQ(pagemap_count(p, b->len, PM_PRESENT), NR_PURGED);
	monitor_stop(&b->mon);
	ASSERT_EQ(uffd_unregister(b->uffd, p, b->len), 0);
	EXPECT_TRUE(reclaim_until_gone(b->cg, p, b->len, 1000));
	EXPECT_EQ(set_nonvolatile(p, b->len), 1);
}

/*
 * With UFFD_FEATURE_SIGBUS too: one SIGBUS per purged page, nothing queued;
 * the handler regenerates the page with UFFDIO_COPY and the access
 * completes.
 */
TEST_F_TIMEOUT(purged, sigbus_mode_raises_one_sigbus_per_purged_page, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register(_metadata, b, 0, UFFD_FEATURE_MISSING_PURGED |
			     UFFD_FEATURE_SIGBUS, 0, 2 * NR_PURGED, false,
			     RESOLVE_COPY))
		return;
	ASSERT_EQ(resolver_init(&b->res, b->buf, page_size,
				2 * NR_PURGED, 1, RESOLVE_COPY), 0);
	bus_resolve_with(b->uffd, &b->res);
	for (long i = 0; i < 2 * NR_PURGED; i++)
		EXPECT_EQ(touch(page_addr(b, i), false), 0);
	EXPECT_EQ(bus.err, 0);
	EXPECT_EQ(bus.count, NR_PURGED);
	EXPECT_EQ(bus.bad, 0);
	monitor_stop(&b->mon);
	EXPECT_EQ(monitor_faults(&b->mon), 0);
	EXPECT_EQ(b->mon.leftover, 0);
	expect_regenerated(_metadata, b);
	EXPECT_EQ(set_nonvolatile(b->buf, 2 * b->len), 0);
}

/*
 * Access every page with the handler jumping out of faults: one SIGBUS
 * (BUS_ADRERR at the address) per purged page, none for the others, no
 * event, and the purges still reported by MADV_NONVOLATILE.
 */
static void expect_sigbus_not_event(struct __test_metadata *_metadata,
				    struct pbuf *b)
{
	long incomplete = 0;

	bus_resolve_with(-1, NULL);
	for (long i = 0; i < 2 * NR_PURGED; i++)
		incomplete += touch(page_addr(b, i), false) != 0;
	EXPECT_EQ(incomplete, NR_PURGED);
	EXPECT_EQ(bus.count, NR_PURGED);
	EXPECT_EQ(bus.bad, 0);
	monitor_stop(&b->mon);
	EXPECT_EQ(monitor_faults(&b->mon), 0);
	EXPECT_EQ(b->mon.leftover, 0);
	EXPECT_EQ(set_nonvolatile(b->buf, b->len), 1);
	EXPECT_EQ(count_state(b->buf, page_size, NR_PURGED, NR_PURGED, 0,
			      UNIT_DATA), NR_PURGED);
}

TEST_F_TIMEOUT(purged, without_the_feature_purged_pages_raise_sigbus, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register(_metadata, b, 0, 0, 0, 2 * NR_PURGED, false,
			     RESOLVE_COPY))
		return;
	expect_sigbus_not_event(_metadata, b);
}

TEST_F_TIMEOUT(purged, wp_only_registration_purged_pages_raise_sigbus, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register(_metadata, b, 0, UFFD_FEATURE_MISSING_PURGED |
			     UFFD_FEATURE_PAGEFAULT_FLAG_WP, 0, 2 * NR_PURGED,
			     true, RESOLVE_COPY))
		return;
	expect_sigbus_not_event(_metadata, b);
}

/* Only the present half is registered: the purged half is nobody's. */
TEST_F_TIMEOUT(purged, unregistered_purged_pages_raise_sigbus, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register(_metadata, b, 0, UFFD_FEATURE_MISSING_PURGED,
			     NR_PURGED, NR_PURGED, false, RESOLVE_COPY))
		return;
	expect_sigbus_not_event(_metadata, b);
}

/* UFFD_USER_MODE_ONLY leaves user faults to the monitor, as before. */
TEST_F_TIMEOUT(purged, user_mode_only_purged_page_read_gives_one_event, 60)
{
	struct pbuf *b = &self->b;

	if (!purged_register(_metadata, b, UFFD_USER_MODE_ONLY,
			     UFFD_FEATURE_MISSING_PURGED, 0, 2 * NR_PURGED,
			     false, RESOLVE_COPY))
		return;
	for (long i = 0; i < 2 * NR_PURGED; i++)
		EXPECT_EQ(touch(page_addr(b, i), false), 0);
	monitor_stop(&b->mon);
	EXPECT_EQ(bus.count, 0);
	expect_one_event_per_purged_page(_metadata, b);
	expect_regenerated(_metadata, b);
}

/*
 * Kernel accesses to a purged page fail with EFAULT and queue nothing, for
 * every kind of userfaultfd registered for missing faults over it; the
 * page stays purged, for MADV_NONVOLATILE to report.
 */
FIXTURE(purged_kernel)
{
	struct pbuf b;
};

FIXTURE_VARIANT(purged_kernel)
{
	int flags;
	uint64_t features;
};

FIXTURE_VARIANT_ADD(purged_kernel, without_the_feature) {
	.features = 0,
};

FIXTURE_VARIANT_ADD(purged_kernel, with_the_feature) {
	.features = UFFD_FEATURE_MISSING_PURGED,
};

FIXTURE_VARIANT_ADD(purged_kernel, user_mode_only) {
	.flags = UFFD_USER_MODE_ONLY,
	.features = UFFD_FEATURE_MISSING_PURGED,
};

FIXTURE_VARIANT_ADD(purged_kernel, sigbus_mode) {
	.features = UFFD_FEATURE_MISSING_PURGED | UFFD_FEATURE_SIGBUS,
};

FIXTURE_SETUP(purged_kernel)
{
	purged_init(_metadata, &self->b);
}

FIXTURE_TEARDOWN_PARENT(purged_kernel)
{
	purged_fini(&self->b);
}

static void kernel_access_to_purged_is_efault(struct __test_metadata *_metadata,
					      struct pbuf *b,
					      int flags, uint64_t features,
					      enum kaccess how)
{
	static char buf[4096];
	char *page = b->buf + 3 * page_size;
	int fds[2];

	if (!purged_register(_metadata, b, flags, features, 0, 2 * NR_PURGED,
			     false, RESOLVE_COPY))
		return;
	ASSERT_EQ(pipe(fds), 0);
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(write(fds[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	errno = 0;
	switch (how) {
	case KREAD:
		EXPECT_EQ(write(fds[1], page, page_size), -1);
		break;
	case KWRITE:
		EXPECT_EQ(read(fds[0], page, page_size), -1);
		break;
	case KPOPULATE:
		EXPECT_EQ(sys_madvise(page, page_size, MADV_POPULATE_READ), -1);
		break;
	}
	EXPECT_EQ(errno, EFAULT);
	close(fds[0]);
	close(fds[1]);
	monitor_stop(&b->mon);
	EXPECT_EQ(bus.count, 0);
	EXPECT_EQ(monitor_faults(&b->mon), 0);
	EXPECT_EQ(b->mon.leftover, 0);
	EXPECT_EQ(set_nonvolatile(page, page_size), 1);
}

TEST_F_TIMEOUT(purged_kernel, write_syscall_from_a_purged_page_is_efault, 60)
{
	kernel_access_to_purged_is_efault(_metadata, &self->b, variant->flags,
					  variant->features, KREAD);
}

TEST_F_TIMEOUT(purged_kernel, read_syscall_into_a_purged_page_is_efault, 60)
{
	kernel_access_to_purged_is_efault(_metadata, &self->b, variant->flags,
					  variant->features, KWRITE);
}

TEST_F_TIMEOUT(purged_kernel, populate_read_of_a_purged_page_is_efault, 60)
{
	kernel_access_to_purged_is_efault(_metadata, &self->b, variant->flags,
					  variant->features, KPOPULATE);
}

TEST_HARNESS_MAIN
