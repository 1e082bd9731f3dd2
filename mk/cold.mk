# bench-cold: how long a cold read holds the thread that runs coroutines
# (tests/bench/cold-read.c): a ticker coroutine beside 4 KiB random
# preads, 1 MiB sequential preads, one 128 MiB pread and read() at the
# file position, each on a file dropped from the page cache; per backend,
# the longest stall and the scheduler thread's CPU time against the wall.
#
#   make bench-cold                    5 rounds per case and backend
#   make bench-cold COLD_RUNS=9 COLD_FILE=/some/disk/file COLD_CASES=big,seq1m
#
# COLD_FILE must be on a disk-backed file system (tmpfs cannot drop it).
COLD_BIN   := tests/bin$(if $(SANITIZE),-$(SANITIZE))/cold-read
COLD_RUNS  ?= 5
COLD_FILE  ?= /var/tmp/asyncify-cold.dat
COLD_CASES ?=
BENCH_TARGETS += bench-cold

$(COLD_BIN): tests/bench/cold-read.c tests/bench/ticker.h include/asyncify.h $(LIB)
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< -L$(LIBDIR) -lasyncify -Wl,-rpath,$(CURDIR)/$(LIBDIR) $(LDSAN)

bench-cold: $(COLD_BIN)
	$(Q)for be in uring threads; do \
	  ASYNCIFY_BACKEND=$$be $(COLD_BIN) -r $(COLD_RUNS) $(if $(COLD_CASES),-c $(COLD_CASES)) \
	    $(COLD_FILE) | { [ $$be = uring ] && cat || tail -n +2; } || exit 1; done

.PHONY: bench-cold
