/* The workloads of tests/check-trace.c (tests/trace/work.c), by name. */
#ifndef T_TRACE_WORK_H
#define T_TRACE_WORK_H

struct t_work {
	const char *name;
	void (*fn)(void);
};

/* Ends with { NULL, NULL }. */
extern const struct t_work t_trace_works[];

#endif
