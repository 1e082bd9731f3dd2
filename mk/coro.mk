# Coroutines: unit tests, the install/pkg-config test, the benchmark.
#
# The tests live in tests/coro/, not tests/check-*.c: they must link
# against the library (the API is in it), which the generic check-unit
# rule does not do.
#   check-coro          tests/coro/check-coro.c (the API) and
#                       check-coro-sys.c (state, scale, guard, signals,
#                       threads; its forks under threads too), linked
#                       with -lasyncify
#   check-coro-park     tests/coro/check-coro-park.c: the scheduler objects
#                       linked directly with a fake engine, to test the
#                       coro.h contract (asy__coro_park & co. are not exported)
#   check-coro-install  make install into a temporary prefix, then build and
#                       run a program with `pkg-config --cflags --libs asyncify`
#   bench-coro          switch cost vs swapcontext, RSS per 10,000 coroutines

CORO_TBIN  := tests/bin$(if $(SANITIZE),-$(SANITIZE))
CORO_CHECK := $(shell pkg-config --cflags --libs check 2>/dev/null || echo -lcheck)
CORO_OBJS  := $(addprefix $(BUILD)/runtime/coro/,coro.o coro-switch.o sched.o stack.o \
	sched-idle.o jump.o) $(BUILD)/runtime/engine/config.o

CHECK_TARGETS += check-coro check-coro-park check-coro-install
BENCH_TARGETS += bench-coro

$(CORO_TBIN)/check-coro $(CORO_TBIN)/check-coro-sys: $(CORO_TBIN)/%: tests/coro/%.c \
		include/asyncify.h $(LIB)
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< -L$(LIBDIR) -lasyncify \
		-Wl,-rpath,$(CURDIR)/$(LIBDIR) $(LDSAN) $(CORO_CHECK) -lpthread

$(CORO_TBIN)/check-coro-park: tests/coro/check-coro-park.c $(CORO_OBJS)
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(CORO_OBJS) $(LDSAN) $(CORO_CHECK) -lpthread

# The raw switch is hidden in the library: the benchmark links its object.
$(CORO_TBIN)/bench-coro: tests/coro/bench-coro.c include/asyncify.h $(LIB) \
		$(BUILD)/runtime/coro/coro-switch.o
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(BUILD)/runtime/coro/coro-switch.o -L$(LIBDIR) -lasyncify \
		-Wl,-rpath,$(CURDIR)/$(LIBDIR) $(LDSAN) -lpthread

check-coro: $(CORO_TBIN)/check-coro $(CORO_TBIN)/check-coro-sys
	$(Q)$(CORO_TBIN)/check-coro && $(CORO_TBIN)/check-coro-sys && \
		CK_RUN_CASE=fork ASYNCIFY_BACKEND=threads $(CORO_TBIN)/check-coro-sys

check-coro-park: $(CORO_TBIN)/check-coro-park
	$(Q)$<

# Installs the library of this build (a sanitized one under SANITIZE=…,
# which the test program is then built with too).
check-coro-install: $(LIB)
	$(Q)tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(MAKE) --no-print-directory -s install PREFIX="$$tmp" >/dev/null && \
	printf '%s\n' '#include <asyncify.h>' '#include <stdio.h>' \
	  'static int n;' \
	  'static void job(void *a) { n += *(int *)a; asy_yield(); n += *(int *)a; }' \
	  'int main(void) { int one = 1; for (int i = 0; i < 4; i++) asy_go(job, &one);' \
	  '  if (asy_run() != 0 || n != 8) return 1;' \
	  '  printf("%s %d\n", asy_version(), n); return 0; }' > "$$tmp/t.c" && \
	PKG_CONFIG_PATH="$$tmp/lib/pkgconfig" && export PKG_CONFIG_PATH && \
	$(CC) $(LDSAN) -o "$$tmp/t" "$$tmp/t.c" $$(pkg-config --cflags --libs asyncify) && \
	out=$$("$$tmp/t") && [ "$$out" = "$(VERSION) 8" ] && \
	echo "  CHECK   check-coro-install: pkg-config build against $$tmp ran: $$out" || \
	{ echo "check-coro-install: FAILED" >&2; exit 1; }

bench-coro: $(CORO_TBIN)/bench-coro
	$(Q)$<

.PHONY: check-coro check-coro-park check-coro-install bench-coro
