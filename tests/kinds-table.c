/* Prints the README's "kind of fd × kind of call" table from the engine's
 * own table (runtime/engine/fdkind.c), so that the two cannot drift apart:
 * `make check-kinds` compares this output with the README. */
#include <stdio.h>

#include "engine.h"
#include "fdkind.h"

/* Every call is tried first with RWF_NOWAIT; a full transfer or a real
 * error is the answer whatever the fd.  This says what a short or "would
 * wait" try leads to. */
static const char *try_text(const struct asy_kind_def *k)
{
	switch (k->try) {
	case ASY_TRY_NOWAIT:
		return k->wait == ASY_WAIT_OP ? "short: tried on (EOF or the cached part's end)" :
		       k->lowat ? "short: the answer (a read below SO_RCVLOWAT reads on)" :
				  "short: the answer";
	case ASY_TRY_POLL:
		return k->topup ? "short: its own call takes the rest; would wait: `poll(0)`, then its own call" :
				  "short: the answer; would wait: `poll(0)`, then its own call";
	default:
		return "its own call";
	}
}

static const char *wait_text(const struct asy_kind_def *k)
{
	switch (k->wait) {
	case ASY_WAIT_OP:
		return k->positional ? "yes: readv/writev op (at an offset: io_uring; at the file "
				       "position: a worker's own call), fsync op" :
				       "yes: the whole op";
	case ASY_WAIT_READY:
		return "yes: a POLL op, then the call again in the calling thread";
	default:
		return "no";
	}
}

static void ends_text(const struct asy_kind_def *k, char *buf, size_t n)
{
	if (k->wait == ASY_WAIT_NONE) {
		snprintf(buf, n, "the kernel, in the calling thread");
		return;
	}
	snprintf(buf, n, "%s%s%s%s; `asy_io_deadline`, `asy_cancel`",
		 k->wait == ASY_WAIT_OP ? "the op's completion" : "readiness",
		 k->timeo ? "; SO_RCVTIMEO/SO_SNDTIMEO (EAGAIN or the count that moved)" : "",
		 k->lowat ? "; SO_RCVLOWAT" : "",
		 k->vmin ? "; VMIN 0 does not wait; a read: the kernel's own (VMIN, VTIME, a hangup), on a worker" : "");
}

static const char *write_text(const struct asy_kind_def *k)
{
	if (k->wait != ASY_WAIT_READY)
		return "as read";
	if (k->record)
		return "one record or none; never continued";
	if (k->try == ASY_TRY_POLL && k->write_op)
		return "as read (POLLOUT); not ready: the whole write, as a backend op";
	if (k->try == ASY_TRY_POLL)
		return "as read (POLLOUT)";
	return k->nosignal ? "continued until all moved; no SIGPIPE once bytes moved" :
			     "continued until all moved; SIGPIPE as pipe_write() raises it";
}

int main(void)
{
	puts("| kind of fd | after the try | may leave the thread | what ends the wait | "
	     "write | why |");
	puts("|---|---|---|---|---|---|");
	for (int i = 0; i < ASY_K_COUNT; i++) {
		const struct asy_kind_def *k = &asy__kinds[i];
		char ends[256];
		ends_text(k, ends, sizeof ends);
		printf("| %s | %s | %s | %s | %s | %s |\n", k->name, try_text(k), wait_text(k), ends,
		       write_text(k), k->why);
	}
	return 0;
}
