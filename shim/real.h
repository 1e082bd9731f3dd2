/* The libc function a hook ends in, looked up on first use (a library's
 * constructor may call it before ours runs; any thread may: atomic):
 * REAL(name, type) defines get_name(). */
#ifndef ASY_REAL_H
#define ASY_REAL_H

#include <dlfcn.h>
#include <stdatomic.h>

#define REAL(name, type)                                                              \
	static type _Atomic real_##name;                                              \
	static type get_##name(void)                                                  \
	{                                                                             \
		type f = atomic_load_explicit(&real_##name, memory_order_relaxed);     \
		if (!f) {                                                             \
			f = (type)dlsym(RTLD_NEXT, #name);                            \
			atomic_store_explicit(&real_##name, f, memory_order_relaxed); \
		}                                                                     \
		return f;                                                             \
	}

#endif
