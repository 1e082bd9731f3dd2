/* pool-intr.h — the interrupt of a worker's waiting call (pool-intr.c),
 * for the thread pool (backend-threads.c).  Each is called with the pool's
 * lock held but asy__intr_mask, which a worker calls around its call. */
#ifndef ASY_POOL_INTR_H
#define ASY_POOL_INTR_H

/* Make the handler ours for one more cancelled call: the signal number,
 * 0 when the program handles the signal itself (no interrupt then). */
int asy__intr_arm(void);
/* On the worker of a cancelled call that returned: take a late kick, and
 * put SIG_DFL back after the last such call. */
void asy__intr_disarm(void);
/* Let the signal in (SIG_UNBLOCK) for a waiting call, or block it again. */
void asy__intr_mask(int how);

#endif
