/* Name resolution (runtime/engine/resolve.c): the RES rows of
 * shim/hooks.def.  glibc's resolver makes its socket calls through
 * internal entry points the shim cannot see, so inside a coroutine the
 * whole lookup runs on a worker while the coroutine waits; elsewhere it is
 * the program's own call. */
#ifndef ASY_RESOLVE_H
#define ASY_RESOLVE_H

#include <netdb.h>
#include <sys/socket.h>

/* The real functions (resolved by the shim), and one entry point each. */
struct asy_res_real {
#define HOOK(ret, name, params, args, sc, io)
#define VHOOK(...)
#define VOIDHOOK(...)
#define ALIAS(name, target)
#define CHK(ret, name, target, params, args, check)
#define RES(ret, name, params, args) ret(*name) params;
#include "hooks.def"
#undef RES
};
extern struct asy_res_real asy__res_real;

#define RES(ret, name, params, args) ret asy__res_##name params;
#include "hooks.def"
#undef HOOK
#undef VHOOK
#undef VOIDHOOK
#undef ALIAS
#undef CHK
#undef RES

/* How the calling thread's last lookup ran (enum asy_via), for tracing. */
unsigned char asy__res_via(void);

#endif
