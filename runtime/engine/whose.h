/* Whose call is it.  A hooked call is the engine's to route only when a
 * coroutine makes it in the process the engine runs in, with the fd
 * table, credentials and namespaces its workers share (engine.c,
 * asy__io); these marks of the calling thread say when it is not, and a
 * close the thread makes is of the process's fd table only when it has
 * no table of its own (engine.c, closes: the waits' copies, keep.c, are
 * made for those only). */
#ifndef ASY_WHOSE_H
#define ASY_WHOSE_H

/* This thread is a child forked inside a scheduler run: no call yields
 * until that run ends (engine.c, atfork_child). */
extern __thread int asy__forked __attribute__((tls_model("initial-exec")));
/* This thread's fd table or cwd/root is not the process's (close_range
 * with CLOSE_RANGE_UNSHARE, unshare), or its credentials, capabilities,
 * seccomp filter or namespaces may not be the workers' (shim/task.c): a
 * worker could not make its calls, so none of them yields (engine.c,
 * fs.c). */
extern __thread int asy__unshared __attribute__((tls_model("initial-exec")));
/* This thread's memory (its stack, its thread-local state) is shared
 * with a child process: ASY_MM_VFORK from the vfork hook until the
 * parent's next call, ASY_MM_CLONE for good after clone(CLONE_VM)
 * without CLONE_VFORK (shim/process.c).  asy__in_child() is then true in
 * the child, whose calls all pass to libc, and whose closes are of its
 * own fd table. */
enum { ASY_MM_VFORK = 1, ASY_MM_CLONE = 2 };
extern __thread int asy__shares_mm __attribute__((tls_model("initial-exec")));
int asy__in_child_slow(void);
static inline int asy__in_child(void)
{
	return __builtin_expect(asy__shares_mm, 0) && asy__in_child_slow();
}
/* The calling thread is about to take a state of its own (shim/task.c,
 * unshare): its calls are its own from now on, in every scheduler run. */
void asy__own_calls(void);
/* The calling thread takes an fd table of its own (unshare with
 * CLONE_FILES, close_range with CLOSE_RANGE_UNSHARE, through their hooks
 * or syscall()): its closes and dup2s from then on are of that table,
 * never of a number a wait of the process holds. */
void asy__own_table(void);

#endif
