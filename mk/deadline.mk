# How late a file call the disk is still busy with returns after its
# coroutine's I/O deadline (README, Performance: "Deadlines").  A figure,
# not a timed test: check-deadline asserts the bound with room to spare.
BENCH_TARGETS += bench-deadline
$(BENCH_BIN)/deadline: tests/bench/deadline.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -o $@ $< -ldl

bench-deadline: $(LIB) $(BENCH_BIN)/deadline
	$(Q)echo "| call | ended by the deadline | median lateness (µs) | largest (µs) | longest stall of the thread (ms) |"; \
	for be in uring threads; do \
	  echo "|---|---|---|---|---|"; echo "| **$$be** | | | | |"; \
	  LD_PRELOAD=$(CURDIR)/$(LIB) ASYNCIFY_BACKEND=$$be $(BENCH_BIN)/deadline || exit 1; done

.PHONY: bench-deadline
