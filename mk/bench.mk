# Overhead of the shim on unmodified programs (CONTRACT §6), side by side:
# no shim / ASYNCIFY_BACKEND=off / uring / threads, interleaved, medians.
# See docs/bench.md.
#
#   make bench                      all workloads, 11 rounds (~1.5-3 minutes)
#   make bench BENCH_RUNS=11        more rounds (at least 5)
#   make bench-overhead BENCH_ONLY=pread,dd BENCH_OUT=table.md

BENCH_BIN  := tests/bin/bench
BENCH_RUNS ?= 11
BENCH_MIB  ?= 256
BENCH_ONLY ?=
BENCH_OUT  ?=

BENCH_TARGETS += bench-overhead

# The kernel's side of the per-call cost (not in BENCH_TARGETS: a probe).
bench-nowait: $(LIB) $(BENCH_BIN)/nowait-cost
	$(Q)$(BENCH_BIN)/nowait-cost $(LIB)

$(BENCH_BIN)/%: tests/bench/%.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -o $@ $<

# sync-loop starts threads (group commit): its own rule, with -pthread.
$(BENCH_BIN)/sync-loop: tests/bench/sync-loop.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -pthread -o $@ $<

bench-overhead: $(LIB) $(BENCH_BIN)/pread-loop $(BENCH_BIN)/sync-loop $(BENCH_BIN)/nowait-cost
	$(Q)python3 tests/bench/overhead.py --lib $(CURDIR)/$(LIB) \
		--pread-loop $(CURDIR)/$(BENCH_BIN)/pread-loop \
		--sync-loop $(CURDIR)/$(BENCH_BIN)/sync-loop \
		--nowait-cost $(CURDIR)/$(BENCH_BIN)/nowait-cost --runs $(BENCH_RUNS) \
		--mib $(BENCH_MIB) $(if $(BENCH_ONLY),--only $(BENCH_ONLY)) \
		$(if $(BENCH_OUT),--out $(BENCH_OUT))

.PHONY: bench-overhead bench-nowait

# The first call that waits, against later ones (coroutines; README,
# Performance).  Not a timed test: a figure.
BENCH_TARGETS += bench-first-wait
$(BENCH_BIN)/first-wait: tests/bench/first-wait.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -o $@ $< -ldl -lpthread

bench-first-wait: $(LIB) $(BENCH_BIN)/first-wait
	$(Q)for be in uring threads; do printf '  %-8s' $$be; \
	  LD_PRELOAD=$(CURDIR)/$(LIB) ASYNCIFY_BACKEND=$$be $(BENCH_BIN)/first-wait || exit 1; done

.PHONY: bench-first-wait

# The per-call cost on a plain thread in instructions and system calls
# (callgrind, strace): figures that a busy machine does not move.
BENCH_TARGETS += bench-percall
bench-percall: $(LIB)
	$(Q)bash tests/bench/percall.sh $(CURDIR)/$(LIB)

.PHONY: bench-percall

# A plain thread's wake of a coroutine (a condition's signal, a mutex's
# unlock, a semaphore's post): round trips, without the library and under
# each backend, interleaved; medians of BENCH_HANDOFF_RUNS runs and their
# ratio to glibc's (README, Performance).
BENCH_TARGETS += bench-handoff
BENCH_HANDOFF_RUNS ?= 7
$(BENCH_BIN)/handoff: tests/bench/handoff.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -o $@ $< -ldl -lpthread

bench-handoff: $(LIB) $(BENCH_BIN)/handoff
	$(Q)python3 tests/bench/handoff.py --lib $(CURDIR)/$(LIB) --bin $(BENCH_BIN)/handoff \
		--runs $(BENCH_HANDOFF_RUNS)

.PHONY: bench-handoff
