// SPDX-License-Identifier: GPL-2.0
/*
 * userfaultfd registration must refuse MAP_DROPPABLE memory: the kernel
 * may drop such pages at any time and never swaps them, which neither
 * fault tracking nor UFFDIO_COPY/UFFDIO_MOVE expect.  Registering or
 * unregistering a range that includes a droppable mapping fails with
 * EINVAL and changes no VMA of the range.
 *
 * Each test first registers the anonymous half of the fixture with the
 * same mode, so that the EINVAL it then expects can only come from the
 * droppable half.
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

/*
 * A userfaultfd after the UFFDIO_API handshake, or -errno.  User-mode-only
 * first, so that the test also runs where vm.unprivileged_userfaultfd is 0.
 */
static int uffd_open_api(uint64_t features, uint64_t *supported)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd, err;

	fd = syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (supported)
		*supported = api.features;
	return fd;
}

FIXTURE(droppable)
{
	size_t len;	/* of each half */
	char *anon;	/* private anonymous, followed directly by ... */
	char *drop;	/* ... a droppable mapping of the same length */
	int uffd;
	uint64_t features;
};

FIXTURE_SETUP(droppable)
{
	self->len = 4 * getpagesize();
	self->uffd = -1;
	self->anon = mmap(NULL, 2 * self->len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->anon, MAP_FAILED);
	self->drop = self->anon + self->len;

	/* EINVAL: kernel before MAP_DROPPABLE; EOPNOTSUPP: 32-bit. */
	if (mmap(self->drop, self->len, PROT_READ | PROT_WRITE,
		 MAP_FIXED | MAP_ANONYMOUS | MAP_DROPPABLE, -1, 0) == MAP_FAILED) {
		ASSERT_TRUE(errno == EINVAL || errno == EOPNOTSUPP);
		SKIP(return, "MAP_DROPPABLE not supported");
	}

	self->uffd = uffd_open_api(0, &self->features);
	if (self->uffd < 0)
		SKIP(return, "userfaultfd unavailable: %s", strerror(-self->uffd));
}

FIXTURE_TEARDOWN(droppable)
{
	if (self->uffd >= 0)
		close(self->uffd);
	munmap(self->anon, 2 * self->len);
}

TEST_F(droppable, register_missing_is_einval)
{
	ASSERT_EQ(uffd_register(self->uffd, self->anon, self->len,
				true, false, false), 0);
	EXPECT_EQ(uffd_register(self->uffd, self->drop, self->len,
				true, false, false), -EINVAL);
}

TEST_F(droppable, register_wp_is_einval)
{
	if (!(self->features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		SKIP(return, "no userfaultfd write-protect on this kernel");
	ASSERT_EQ(uffd_register(self->uffd, self->anon, self->len,
				false, true, false), 0);
	EXPECT_EQ(uffd_register(self->uffd, self->drop, self->len,
				false, true, false), -EINVAL);
}

TEST_F(droppable, register_wp_async_is_einval)
{
	int uffd = uffd_open_api(UFFD_FEATURE_WP_ASYNC, NULL);

	if (uffd < 0)
		SKIP(return, "no UFFD_FEATURE_WP_ASYNC: %s", strerror(-uffd));
	/*
	 * WP_ASYNC takes a shortcut that accepts any memory type: the
	 * droppable check must come before it.
	 */
	ASSERT_EQ(uffd_register(uffd, self->anon, self->len,
				false, true, false), 0);
	EXPECT_EQ(uffd_register(uffd, self->drop, self->len,
				false, true, false), -EINVAL);
	close(uffd);
}

TEST_F(droppable, register_spanning_droppable_changes_nothing)
{
	int other;

	EXPECT_EQ(uffd_register(self->uffd, self->anon, 2 * self->len,
				true, false, false), -EINVAL);

	/* Had the anonymous half been registered, this would be EBUSY. */
	other = uffd_open_api(0, NULL);
	ASSERT_GE(other, 0);
	EXPECT_EQ(uffd_register(other, self->anon, self->len,
				true, false, false), 0);
	close(other);
}

TEST_F(droppable, unregister_spanning_droppable_changes_nothing)
{
	int other;

	ASSERT_EQ(uffd_register(self->uffd, self->anon, self->len,
				true, false, false), 0);
	EXPECT_EQ(uffd_unregister(self->uffd, self->anon, 2 * self->len),
		  -EINVAL);

	/* The anonymous half must still be registered with self->uffd. */
	other = uffd_open_api(0, NULL);
	ASSERT_GE(other, 0);
	EXPECT_EQ(uffd_register(other, self->anon, self->len,
				true, false, false), -EBUSY);
	close(other);
}

TEST_HARNESS_MAIN
