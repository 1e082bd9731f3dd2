/* uring-probe — say in one line whether io_uring works in this process.
 *
 *   uring-probe          prints "io_uring: available ..." and exits 0, or
 *                        "io_uring: unavailable (...)" and exits 1.
 *
 * Setup alone is not enough: a seccomp filter may allow io_uring_setup and
 * refuse io_uring_enter (NOTES §8), so one NOP makes the full round trip. */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

static int nop_round_trip(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	if (!sqe)
		return -EBUSY;
	io_uring_prep_nop(sqe);
	int r = io_uring_submit_and_wait(ring, 1);
	if (r < 0)
		return r;
	r = io_uring_peek_cqe(ring, &cqe);
	if (r < 0)
		return r;
	r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return r;
}

int main(void)
{
	struct io_uring ring;
	struct utsname u;
	const char *rel = uname(&u) == 0 ? u.release : "?";

	int r = io_uring_queue_init(8, &ring, 0);
	if (r < 0) {
		printf("io_uring: unavailable (io_uring_setup: %s; kernel %s)\n", strerror(-r), rel);
		return 1;
	}
	r = nop_round_trip(&ring);
	io_uring_queue_exit(&ring);
	if (r < 0) {
		printf("io_uring: unavailable (io_uring_enter: %s; kernel %s)\n", strerror(-r), rel);
		return 1;
	}
	printf("io_uring: available (setup and a NOP round trip work; kernel %s)\n", rel);
	return 0;
}
