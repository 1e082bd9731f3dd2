# Tracing (issue 4).  tests/check-trace.c is a Check program built and run
# by check-unit; here: the secure-execution check and the benchmark.
#   make check-trace-secure     setuid program: no trace files (root only)
#   make bench-trace [RUNS=5]   overhead vs strace, Markdown table (docs/tracing.md)
CHECK_TARGETS += check-trace-secure
BENCH_TARGETS += bench-trace

check-trace-secure: $(LIB)
	$(Q)sh tests/trace/check-secure.sh $(LIB) "$(CC) $(LDSAN)"

bench-trace: $(LIB)
	$(Q)python3 tests/trace/bench-trace.py --lib $(CURDIR)/$(LIB) --runs $(or $(RUNS),5)

.PHONY: check-trace-secure bench-trace
