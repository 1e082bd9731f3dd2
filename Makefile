# asyncify — plain GNU make.  `make` builds lib/libasyncify.so; see README.md.
#
#   make               build the library
#   make check         install missing dependencies (as root), build, run every test
#   make demo          the main job on the built-in demo program
#   make bench         overhead benchmarks (ratios, medians of several runs)
#   make install PREFIX=/usr/local
#   SANITIZE=address|undefined|thread   instrumented build (objects go to build-$(SANITIZE))
#   V=1                show the commands

VERSION   := 0.1.0
PREFIX    ?= /usr/local
CC        ?= cc
CFLAGS    ?= -O2 -g
SANITIZE  ?=

override CFLAGS += -std=gnu11 -fPIC -pthread -fvisibility=hidden \
	-Wall -Wextra -Wstrict-prototypes -Wno-unused-parameter \
	-Werror=implicit-function-declaration -Werror=incompatible-pointer-types \
	-D_GNU_SOURCE -Iinclude -Ishim -Iruntime/engine -Iruntime/coro -Iruntime/trace -DASY_VERSION=\"$(VERSION)\"
# liburing is linked in when its archive is position-independent (Debian's
# is): one shared object fewer to load in every process the shim enters.
URING_A   := $(shell $(CC) -print-file-name=liburing.a)
comma     := ,
URING_LIB := $(if $(wildcard $(URING_A)),-Wl$(comma)--exclude-libs$(comma)ALL $(URING_A),-luring)
LIBS      := $(URING_LIB) -ldl -lpthread

BUILD     ?= build$(if $(SANITIZE),-$(SANITIZE))
LIBDIR    ?= lib$(if $(SANITIZE),-$(SANITIZE))
LIB       := $(LIBDIR)/libasyncify.so

ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDSAN     := -fsanitize=$(SANITIZE)
else
LDDEFS    := -Wl,-z,defs
endif

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2)
endif

SRCS := $(wildcard shim/*.c runtime/*/*.c)
OBJS := $(SRCS:%.c=$(BUILD)/%.o)
DEPS := $(OBJS:.o=.d)

all: $(LIB)

$(BUILD)/%.o: %.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/exports.map: shim/exports.map.in shim/hooks.def
	$(call msg,GEN,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -E -P -x c -Ishim $< -o $@

$(LIB): $(OBJS) $(BUILD)/exports.map
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -shared -o $@ $(OBJS) -Wl,--version-script=$(BUILD)/exports.map \
		-Wl,-soname,libasyncify.so $(LDDEFS) $(LDSAN) $(LDFLAGS) $(LIBS)

-include $(DEPS)

# A handler left by a C++ exception drops its mark (shim/signal.c).
# ThreadSanitizer's runtime installs its own handlers through the hooked
# sigaction before it is ready: that file is not instrumented for it.
ifeq ($(SANITIZE),thread)
$(BUILD)/shim/signal.o: override CFLAGS := $(filter-out -fsanitize=thread,$(CFLAGS)) -fexceptions
else
$(BUILD)/shim/signal.o: override CFLAGS += -fexceptions
endif

# Fragments in mk/ add their own targets to these lists.
CHECK_TARGETS   :=
INSTALL_TARGETS :=
BENCH_TARGETS   :=
-include $(sort $(wildcard mk/*.mk))

# ---- unit tests (Check): one program per component, tests/check-*.c ----
TBIN      := tests/bin$(if $(SANITIZE),-$(SANITIZE))
TSRCS     := $(wildcard tests/check-*.c)
TPROGS    := $(TSRCS:tests/%.c=$(TBIN)/%)
TLIBS     := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck) -luring -ldl -lpthread

THELPERS  := tests/t-helpers.c tests/t-net.c tests/t-fs.c tests/t-exact.c tests/t-semantics.c
# Sources of one test program only: TEXTRA_<program>.
TEXTRA_check-trace := tests/trace/work.c
$(TBIN)/check-trace: $(TEXTRA_check-trace) tests/trace/work.h
TEXTRA_check-exact-fuzz := tests/fuzz/fds.c tests/fuzz/calls.c tests/fuzz/files.c tests/fuzz/waits.c
$(TBIN)/check-exact-fuzz: $(TEXTRA_check-exact-fuzz) tests/fuzz/fuzz.h

$(TBIN)/%: tests/%.c $(THELPERS) tests/t-helpers.h tests/t-exact.h tests/t-semantics.h $(LIB)
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests -o $@ $< $(TEXTRA_$*) $(THELPERS) $(LDSAN) $(TLIBS)

$(TBIN)/libearly.so: tests/t-early.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -shared -o $@ $< $(LDSAN)

tests: $(TPROGS) $(TBIN)/libearly.so

# Every unit test runs with the library to preload in ASY_LIB; each
# program prints one line per test case and a summary.
# With a sanitizer, its runtime must come first in LD_PRELOAD.  Check's
# messages may be long (a sanitizer's report in a child's stderr): past
# Check's default 4 KiB the program would end with "Message string too
# long" instead of the message.
SANRT_address := libasan.so
SANRT_thread  := libtsan.so
SANRT_undefined := libubsan.so
ASY_PRELOAD_FIRST := $(if $(SANITIZE),$(shell $(CC) -print-file-name=$(SANRT_$(SANITIZE))))
TENV := ASY_LIB=$(CURDIR)/$(LIB) ASY_EARLY_LIB=$(CURDIR)/$(TBIN)/libearly.so \
	ASY_PRELOAD_FIRST=$(ASY_PRELOAD_FIRST) ASY_SANITIZE=$(SANITIZE) \
	ASY_TSAN_SUPP=$(CURDIR)/tests/tsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 TSAN_OPTIONS=die_after_fork=0 \
	CK_MAX_MSG_SIZE=65536

# A failing program's failed cases are said again at the end, so that the
# last lines of a long run (all a CI report may keep) name them, each with
# the first lines of its message (what the case printed, where it differs).
check-unit: tests
	$(Q)fail=0; sum=$$(mktemp); out=$$(mktemp); for t in $(TPROGS); do \
	  echo "  TEST    $$t"; start=$$(date +%s); rc=0; \
	  $(TENV) $$t > $$out 2>&1 || rc=$$?; cat $$out; \
	  if [ $$rc != 0 ] && [ $$rc != 77 ]; then fail=1; \
	    { echo "  FAILED  $$t (exit $$rc)"; awk '/:[FE]:/ { n = 8 } n > 0 && NF { print substr($$0, 1, 300); n--; next } { n = 0 }' \
	      $$out | head -40; } >> $$sum; fi; \
	  echo "  TIME    $$t $$(( $$(date +%s) - start )) s"; \
	done; cat $$sum; rm -f $$sum $$out; exit $$fail

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory check-unit $(CHECK_TARGETS)
	@echo "  CHECK   all passed"

bench: all $(BENCH_TARGETS)

# ---- install -------------------------------------------------------------
install: all $(INSTALL_TARGETS)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	$(Q)install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libasyncify.so
	$(Q)install -m 0644 include/asyncify.h $(DESTDIR)$(PREFIX)/include/asyncify.h
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' asyncify.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/asyncify.pc

# Dependencies: Debian package names; installed with apt-get when root.
DEB_DEPS := liburing-dev libunwind-dev check pkg-config debhelper valgrind
deps:
	@missing=""; for p in $(DEB_DEPS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "  DEPS    installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null || \
	    { echo "make deps: apt-get install$$missing failed" >&2; exit 1; }; \
	else \
	  echo "make deps: missing packages:$$missing — run: sudo apt-get install$$missing" >&2; exit 1; \
	fi

clean:
	rm -rf build build-* lib lib-* tests/bin tests/bin-* demo/bin

.PHONY: all deps clean check check-unit tests demo bench install
