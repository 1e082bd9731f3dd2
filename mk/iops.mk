# bench-iops: N coroutines doing plain blocking pread (O_DIRECT, random
# 4 KiB) against fio io_uring iodepth=N and psync numjobs=N.
IOPS_BIN := tests/bin$(if $(SANITIZE),-$(SANITIZE))/iops
BENCH_TARGETS += bench-iops
IOPS_RUNS ?= 5

$(IOPS_BIN): tests/iops/iops.c include/asyncify.h $(LIB)
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< -L$(LIBDIR) -lasyncify -Wl,-rpath,$(CURDIR)/$(LIBDIR) $(LDSAN)

bench-iops: $(IOPS_BIN)
	$(Q)python3 tests/iops/run.py --prog $(CURDIR)/$(IOPS_BIN) --runs $(IOPS_RUNS)

.PHONY: bench-iops
