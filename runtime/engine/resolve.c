/* Name resolution inside coroutines: the whole lookup runs on a worker
 * while the coroutine waits (glibc's resolver reaches its sockets through
 * internal calls the shim cannot see, so taking over those would not be
 * enough).  Outside coroutines the lookup is the program's own call.
 *
 * A lookup that started runs to its end: a deadline or asy_cancel() that
 * comes meanwhile waits for it (the worker writes the caller's buffers)
 * and the lookup's own answer is returned; the resolver's own timeouts
 * (resolv.conf) bound it.  One still queued when they come never starts:
 * it fails as a lookup that could not be made (EAI_SYSTEM / TRY_AGAIN /
 * the error number) with errno ETIMEDOUT or ECANCELED. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <netdb.h>
#include <resolv.h>

#include "engine.h"
#include "resolve.h"
#include "coro.h"

struct asy_res_real asy__res_real;
static ASY_TLS unsigned char last_via;

unsigned char asy__res_via(void)
{
	return last_via;
}

/* One lookup: the arguments, and what the worker leaves for the caller. */
struct job {
	void (*run)(struct job *j);
	long a[9];
	union {
		int i;
		struct hostent *h;
	} r;
	int err, herr; /* the caller's, then the lookup's */
};

/* On the worker: the lookup starts from the caller's errno and h_errno,
 * which it changes or leaves as glibc's does on the caller's thread. */
static long run_job(void *p)
{
	struct job *j = p;
	errno = j->err;
	h_errno = j->herr;
	j->run(j);
	j->err = errno;
	j->herr = h_errno;
	return 0;
}

/* ---- the thread's own resolver settings --------------------------------
 * A worker's lookup uses its own thread's _res, which glibc makes from
 * resolv.conf and RES_OPTIONS.  A program may have set its own thread's
 * otherwise — res_init() and then its nameservers, options or search
 * list written into _res (a test's DNS server on a port of its own) —
 * and a lookup made on a worker asked resolv.conf's servers instead
 * (gethostbyname NULL, getaddrinfo EAI_NONAME).  So while the calling
 * thread's _res differs from what resolv.conf gives (`conf`, made once),
 * its lookups are its own calls, on its thread.  One not set up yet is
 * set up from resolv.conf by the lookup, as a worker's is. */
static struct __res_state *_Atomic conf;

/* The settings, compared as glibc's resolv_conf_matches() does: a
 * nameserver is its address (an IPv6 one lives in _ext.nsaddrs, with
 * sin_family 0 in nsaddr_list); _ext.nscount and the other _ext.nsaddrs
 * are what the first query sets up, not settings. */
static int same_server(const struct __res_state *a, const struct __res_state *b, int i)
{
	const struct sockaddr_in *x = &a->nsaddr_list[i], *y = &b->nsaddr_list[i];
	if (x->sin_family != y->sin_family)
		return 0;
	if (x->sin_family == AF_INET)
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	if (x->sin_family != 0)
		return 0;
	const struct sockaddr_in6 *p = a->_u._ext.nsaddrs[i], *q = b->_u._ext.nsaddrs[i];
	return p && q && p->sin6_port == q->sin6_port &&
	       !memcmp(&p->sin6_addr, &q->sin6_addr, sizeof p->sin6_addr);
}

static int same_settings(const struct __res_state *a, const struct __res_state *b)
{
	if (a->retrans != b->retrans || a->retry != b->retry || a->options != b->options ||
	    a->nscount != b->nscount || a->ndots != b->ndots || a->nsort != b->nsort)
		return 0;
	for (int i = 0; i < a->nscount && i < MAXNS; i++)
		if (!same_server(a, b, i))
			return 0;
	for (int i = 0; i < MAXDNSRCH + 1; i++) {
		const char *x = a->dnsrch[i], *y = b->dnsrch[i];
		if (!x != !y || (x && strcmp(x, y)))
			return 0;
		if (!x)
			break;
	}
	for (int i = 0; i < a->nsort && i < MAXRESOLVSORT; i++)
		if (a->sort_list[i].addr.s_addr != b->sort_list[i].addr.s_addr ||
		    a->sort_list[i].mask != b->sort_list[i].mask)
			return 0;
	return 1;
}

/* The reference, made once, outside any lock (res_ninit reads a file),
 * in a block of its own (its search list points into it); the first one
 * made is kept, a later one let go. */
static int own_settings(void)
{
	const struct __res_state *mine = __res_state();
	if (!(mine->options & RES_INIT))
		return 0;
	struct __res_state *c = atomic_load_explicit(&conf, memory_order_acquire);
	if (!c) {
		struct __res_state *r = asy__map(sizeof *r), *none = NULL;
		if (r == MAP_FAILED)
			return 1;
		memset(r, 0, sizeof *r);
		if (res_ninit(r) != 0)
			r->options = 0; /* made of nothing: never the same */
		if (atomic_compare_exchange_strong(&conf, &none, r)) {
			c = r;
		} else {
			res_nclose(r);
			asy__unmap(r, sizeof *r);
			c = none;
		}
	}
	return !same_settings(mine, c);
}

/* 1: j ran on a worker (its result is in j); 0: run it here, as the
 * program's own call; -errno: ended before it started. */
static int offload(struct job *j)
{
	last_via = ASY_VIA_LIBC;
	if (!atomic_load_explicit(&asy__ready, memory_order_relaxed) || asy__depth || asy__in_handler ||
	    asy__forked || asy__unshared ||
	    asy__in_child() || !asy__coro_self() || asy__coro_alone() || own_settings())
		return 0;
	asy__depth++;
	struct asy_thread *t = asy__thread();
	struct asy_coro *self = asy__coro_self();
	long r = 0;
	if (t) {
		struct asy_waiter w = { .io = { .op = ASY_OP_CALL, .fn = run_job, .arg = j } };
		j->err = errno;
		j->herr = h_errno;
		asy__coro_in_call(self, 1); /* a handler's jump waits for it (coro/jump.c) */
		r = asy__op(t, &w, -1);
		asy__coro_in_call(self, -1);
		last_via = ASY_VIA_THREADS;
	}
	asy__depth--;
	if (!t)
		return 0;
	if (r < 0)
		return (int)r;
	errno = j->err;
	h_errno = j->herr;
	return 1;
}

/* Each lookup: unpack the arguments on the worker, and what a lookup
 * that never started returns. */
#define A(i, type) ((type)j->a[i])

static void run_getaddrinfo(struct job *j)
{
	j->r.i = asy__res_real.getaddrinfo(A(0, const char *), A(1, const char *),
					   A(2, const struct addrinfo *), A(3, struct addrinfo **));
}

int asy__res_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			 struct addrinfo **res)
{
	struct job j = { .run = run_getaddrinfo, .a = { (long)node, (long)service, (long)hints, (long)res } };
	int r = offload(&j);
	if (r == 0)
		return asy__res_real.getaddrinfo(node, service, hints, res);
	if (r < 0) {
		errno = -r;
		return EAI_SYSTEM;
	}
	return j.r.i;
}

static void run_getnameinfo(struct job *j)
{
	j->r.i = asy__res_real.getnameinfo(A(0, const struct sockaddr *), A(1, socklen_t),
					   A(2, char *), A(3, socklen_t), A(4, char *),
					   A(5, socklen_t), A(6, int));
}

int asy__res_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
			 socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	struct job j = { .run = run_getnameinfo, .a = { (long)sa, salen, (long)host, hostlen, (long)serv,
					    servlen, flags } };
	int r = offload(&j);
	if (r == 0)
		return asy__res_real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
	if (r < 0) {
		errno = -r;
		return EAI_SYSTEM;
	}
	return j.r.i;
}

/* The hostent calls: a pointer (NULL and h_errno on failure) or, for
 * the _r ones, an error number. */
static struct hostent *host_failed(int r)
{
	errno = -r;
	h_errno = TRY_AGAIN;
	return NULL;
}

static int host_r_failed(int r, struct hostent **result, int *h_errnop)
{
	*result = NULL;
	*h_errnop = TRY_AGAIN;
	return -r;
}

static void run_gethostbyname(struct job *j)
{
	j->r.h = asy__res_real.gethostbyname(A(0, const char *));
}

struct hostent *asy__res_gethostbyname(const char *name)
{
	struct job j = { .run = run_gethostbyname, .a = { (long)name } };
	int r = offload(&j);
	return r == 0 ? asy__res_real.gethostbyname(name) : r < 0 ? host_failed(r) : j.r.h;
}

static void run_gethostbyname2(struct job *j)
{
	j->r.h = asy__res_real.gethostbyname2(A(0, const char *), A(1, int));
}

struct hostent *asy__res_gethostbyname2(const char *name, int af)
{
	struct job j = { .run = run_gethostbyname2, .a = { (long)name, af } };
	int r = offload(&j);
	return r == 0 ? asy__res_real.gethostbyname2(name, af) : r < 0 ? host_failed(r) : j.r.h;
}

static void run_gethostbyaddr(struct job *j)
{
	j->r.h = asy__res_real.gethostbyaddr(A(0, const void *), A(1, socklen_t), A(2, int));
}

struct hostent *asy__res_gethostbyaddr(const void *addr, socklen_t len, int type)
{
	struct job j = { .run = run_gethostbyaddr, .a = { (long)addr, len, type } };
	int r = offload(&j);
	return r == 0 ? asy__res_real.gethostbyaddr(addr, len, type) : r < 0 ? host_failed(r) :
									      j.r.h;
}

static void run_gethostbyname_r(struct job *j)
{
	j->r.i = asy__res_real.gethostbyname_r(A(0, const char *), A(1, struct hostent *),
					       A(2, char *), A(3, size_t),
					       A(4, struct hostent **), A(5, int *));
}

int asy__res_gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
			     struct hostent **result, int *h_errnop)
{
	struct job j = { .run = run_gethostbyname_r, .a =
			 { (long)name, (long)ret, (long)buf, (long)buflen, (long)result,
			   (long)h_errnop } };
	int r = offload(&j);
	if (r == 0)
		return asy__res_real.gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
	return r < 0 ? host_r_failed(r, result, h_errnop) : j.r.i;
}

static void run_gethostbyname2_r(struct job *j)
{
	j->r.i = asy__res_real.gethostbyname2_r(A(0, const char *), A(1, int),
						A(2, struct hostent *), A(3, char *),
						A(4, size_t), A(5, struct hostent **),
						A(6, int *));
}

int asy__res_gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
			      size_t buflen, struct hostent **result, int *h_errnop)
{
	struct job j = { .run = run_gethostbyname2_r, .a =
			 { (long)name, af, (long)ret, (long)buf, (long)buflen, (long)result,
			   (long)h_errnop } };
	int r = offload(&j);
	if (r == 0)
		return asy__res_real.gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
	return r < 0 ? host_r_failed(r, result, h_errnop) : j.r.i;
}

static void run_gethostbyaddr_r(struct job *j)
{
	j->r.i = asy__res_real.gethostbyaddr_r(A(0, const void *), A(1, socklen_t), A(2, int),
					       A(3, struct hostent *), A(4, char *),
					       A(5, size_t), A(6, struct hostent **),
					       A(7, int *));
}

int asy__res_gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret,
			     char *buf, size_t buflen, struct hostent **result, int *h_errnop)
{
	struct job j = { .run = run_gethostbyaddr_r, .a =
			 { (long)addr, len, type, (long)ret, (long)buf, (long)buflen,
			   (long)result, (long)h_errnop } };
	int r = offload(&j);
	if (r == 0)
		return asy__res_real.gethostbyaddr_r(addr, len, type, ret, buf, buflen, result,
						     h_errnop);
	return r < 0 ? host_r_failed(r, result, h_errnop) : j.r.i;
}
