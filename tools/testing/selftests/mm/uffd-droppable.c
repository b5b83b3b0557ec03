// SPDX-License-Identifier: GPL-2.0
/*
 * userfaultfd must refuse MAP_DROPPABLE memory: the kernel may drop such
 * pages at any time, without the bookkeeping userfaultfd relies on.
 * Registration of a droppable range, or of a range that includes one, fails
 * with EINVAL and leaves every VMA in the range unregistered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/mman.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"
#include "vm_util.h"

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

/* A userfaultfd with the API handshake done, or -errno. */
static int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

FIXTURE(droppable)
{
	size_t page_size;
	char *area;	/* [0, 4 pages): private anon, [4, 8 pages): droppable */
	int uffd;
};

FIXTURE_SETUP(droppable)
{
	char *drop;

	self->page_size = getpagesize();
	self->uffd = -1;
	self->area = mmap(NULL, 8 * self->page_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->area, MAP_FAILED);

	drop = mmap(self->area + 4 * self->page_size, 4 * self->page_size,
		    PROT_READ | PROT_WRITE,
		    MAP_FIXED | MAP_ANONYMOUS | MAP_DROPPABLE, -1, 0);
	if (drop == MAP_FAILED)
		SKIP(return, "MAP_DROPPABLE not supported (errno %d)", errno);

	/* Without CONFIG_USERFAULTFD, or when not permitted to use it. */
	self->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (self->uffd < 0)
		SKIP(return, "userfaultfd() unavailable: %s", strerror(errno));
	close(self->uffd);

	self->uffd = uffd_open(0);
	ASSERT_GE(self->uffd, 0);
}

FIXTURE_TEARDOWN(droppable)
{
	if (self->uffd >= 0)
		close(self->uffd);
	munmap(self->area, 8 * self->page_size);
}

TEST_F(droppable, register_missing_is_einval)
{
	char *drop = self->area + 4 * self->page_size;

	EXPECT_EQ(uffd_register(self->uffd, drop, 4 * self->page_size,
				true, false, false), -EINVAL);
}

TEST_F(droppable, register_wp_is_einval)
{
	char *drop = self->area + 4 * self->page_size;

	EXPECT_EQ(uffd_register(self->uffd, drop, 4 * self->page_size,
				false, true, false), -EINVAL);
}

TEST_F(droppable, register_wp_async_is_einval)
{
	char *drop = self->area + 4 * self->page_size;
	int uffd = uffd_open(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_HUGETLBFS_SHMEM);

	if (uffd < 0)
		SKIP(return, "UFFD_FEATURE_WP_ASYNC not available (%d)", uffd);
	/* WP_ASYNC accepts any memory type, but not droppable memory. */
	EXPECT_EQ(uffd_register(uffd, drop, 4 * self->page_size,
				false, true, false), -EINVAL);
	close(uffd);
}

TEST_F(droppable, register_private_anon_works)
{
	/* The control: the same uffd registers ordinary anonymous memory. */
	EXPECT_EQ(uffd_register(self->uffd, self->area, 4 * self->page_size,
				true, false, false), 0);
}

TEST_F(droppable, register_spanning_droppable_registers_nothing)
{
	int other;

	EXPECT_EQ(uffd_register(self->uffd, self->area, 8 * self->page_size,
				true, false, false), -EINVAL);

	/*
	 * Nothing may have been registered: a second userfaultfd can take
	 * the anonymous part (it would get EBUSY had the first one kept it).
	 */
	other = uffd_open(0);
	ASSERT_GE(other, 0);
	EXPECT_EQ(uffd_register(other, self->area, 4 * self->page_size,
				true, false, false), 0);
	close(other);
}

TEST_HARNESS_MAIN
