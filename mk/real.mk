# Real programs with and without the shim, on every backend; the io_uring
# probe; io_uring blocked by seccomp.  See docs/real-programs.md.
#
#   make check-real                 every case (~5 minutes; the file cases ~2 of them)
#   make check-real REAL_CASES="dd sqlite3 mech seccomp"
#   make uring-probe                one line: does io_uring work here?

REAL_BIN    := tests/bin/real
REAL_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Iinclude
REAL_HELPERS := $(REAL_BIN)/statsdump.so $(REAL_BIN)/coromain.so $(REAL_BIN)/dropcache \
	$(REAL_BIN)/uring-probe $(REAL_BIN)/seccomp-run $(REAL_BIN)/corocat $(REAL_BIN)/execstack
REAL_CASES  ?=

CHECK_TARGETS += check-real

$(REAL_BIN)/statsdump.so: tests/real/statsdump.c include/asyncify.h
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REAL_CFLAGS) -shared -fPIC -o $@ $< -ldl

$(REAL_BIN)/coromain.so: tests/real/coromain.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REAL_CFLAGS) -shared -fPIC -o $@ $< -ldl

# A nested function's trampoline: the program needs an executable stack.
$(REAL_BIN)/execstack: tests/real/execstack.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REAL_CFLAGS) -Wno-trampolines -z execstack -o $@ $< 2>&1 | \
		grep -v 'requires executable stack\|will be removed' >&2 || true
	$(Q)test -x $@

$(REAL_BIN)/uring-probe: tests/real/uring-probe.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REAL_CFLAGS) -o $@ $< -luring

# sqlkill links Debian's libsqlite3 (libsqlite3-dev): built by check-real,
# not as a prerequisite, so that without the header its case is skipped.
$(REAL_BIN)/sqlkill: tests/real/sqlkill.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REAL_CFLAGS) -o $@ $< -lsqlite3 -ldl

# pqload, zload, curlload and redisload link Debian's libpq, zlib, libcurl
# and hiredis, likewise built by check-real.
$(REAL_BIN)/pqload: tests/real/pqload.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REAL_CFLAGS) $(shell pkg-config --cflags libpq 2>/dev/null) -o $@ $< -lpq -ldl -lpthread

$(REAL_BIN)/zload: tests/real/zload.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REAL_CFLAGS) -o $@ $< -lz -ldl -lpthread

$(REAL_BIN)/curlload: tests/real/curlload.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REAL_CFLAGS) -o $@ $< -lcurl -ldl -lpthread

$(REAL_BIN)/redisload: tests/real/redisload.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REAL_CFLAGS) -o $@ $< -lhiredis -ldl -lpthread

# The programs that look the coroutine API up share tests/real/coapi.h.
$(addprefix $(REAL_BIN)/,corocat sqlkill pqload zload curlload redisload): tests/real/coapi.h

$(REAL_BIN)/%: tests/real/%.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REAL_CFLAGS) -o $@ $< -ldl

uring-probe: $(REAL_BIN)/uring-probe
	@$(REAL_BIN)/uring-probe

check-real: $(LIB) $(REAL_HELPERS)
	$(Q)pkg-config --exists sqlite3 && $(MAKE) --no-print-directory -s $(REAL_BIN)/sqlkill || true
	$(Q)pkg-config --exists libpq && $(MAKE) --no-print-directory -s $(REAL_BIN)/pqload || true
	$(Q)pkg-config --exists zlib && $(MAKE) --no-print-directory -s $(REAL_BIN)/zload || true
	$(Q)pkg-config --exists libcurl && $(MAKE) --no-print-directory -s $(REAL_BIN)/curlload || true
	$(Q)pkg-config --exists hiredis && $(MAKE) --no-print-directory -s $(REAL_BIN)/redisload || true
	$(Q)ASY_SANITIZE=$(SANITIZE) bash tests/real/run-real.sh $(CURDIR)/$(LIB) \
		$(CURDIR)/$(REAL_BIN) $(REAL_CASES)

# The library cases' packages (tests/real/lib-cases.sh): libpq and a
# server to run a throw-away cluster of (also the server pgkill of
# kill-cases.sh runs under the shim), zlib, libcurl, hiredis and a redis
# server for it.  Installed as `make deps` does; while one is missing its
# case is skipped.
REAL_LIB_DEB_DEPS := libpq-dev postgresql zlib1g-dev libcurl4-openssl-dev libhiredis-dev redis-server

real-lib-deps:
	$(call net_deps,$(REAL_LIB_DEB_DEPS))

check-real: real-lib-deps

# The sync cases' packages (tests/real/sync-cases.sh): rsync, for its
# local copies and its daemon on loopback; util-linux, for script (always
# there on Debian: essential).
REAL_SYNC_DEB_DEPS := rsync util-linux

real-sync-deps:
	$(call net_deps,$(REAL_SYNC_DEB_DEPS))

check-real: real-sync-deps

.PHONY: check-real uring-probe real-lib-deps real-sync-deps
