# Tracing (issue 4): the overhead benchmark against strace.
#   make bench-trace [RUNS=5]   Markdown table on stdout (see docs/tracing.md)
BENCH_TARGETS += bench-trace

bench-trace: $(LIB)
	$(Q)python3 tests/trace/bench-trace.py --lib $(CURDIR)/$(LIB) --runs $(or $(RUNS),5)

.PHONY: bench-trace
