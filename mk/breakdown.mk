# bench-breakdown: what one call costs over plain libc, per kind of call
# (cached read and pread, write, fdatasync, a pipe read answered at once,
# stat, an eventfd write), counted by perf stat: user and system CPU time and system calls
# per call, on a plain thread without and with the shim and inside a
# coroutine, under each backend (docs/bench.md, Per-call cost breakdown).
BENCH_TARGETS += bench-breakdown
BREAKDOWN_REPEAT ?= 5
BREAKDOWN_OUT ?=

$(BENCH_BIN)/breakdown: tests/bench/breakdown.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -o $@ $<

$(BENCH_BIN)/breakdown-coro: tests/bench/breakdown.c include/asyncify.h $(LIB)
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -DCORO -Iinclude -o $@ $< \
		-L$(LIBDIR) -lasyncify -Wl,-rpath,$(CURDIR)/$(LIBDIR)

bench-breakdown: $(LIB) $(BENCH_BIN)/breakdown $(BENCH_BIN)/breakdown-coro
	$(Q)python3 tests/bench/breakdown.py --lib $(CURDIR)/$(LIB) --bin $(CURDIR)/$(BENCH_BIN) \
		--repeat $(BREAKDOWN_REPEAT) $(if $(BREAKDOWN_OUT),--out $(BREAKDOWN_OUT))

.PHONY: bench-breakdown
