# Sockets, readiness and sleeps in coroutines (issue 10): figures for
# make bench (README, Performance, Sockets), and the packages of the
# socket cases of check-real (tests/real/net-cases.sh).
#
#   make bench-echo                 echo servers at 1, 64, 1024 connections
#   make bench-echo NET_RUNS=7 NET_SECS=2 NET_CONNS=64
#   make bench-libs                 libcurl, hiredis and sleeps in coroutines
#   make bench-libs LIBS_RUNS=5 LIBS_ONLY=curl,sleep
#   make bench-progs                curl, redis-server, PostgreSQL and nginx
#                                   with and without the shim
#   make bench-progs PROGS_RUNS=9 PROGS_ONLY=postgres,nginx PROGS_SECS=5
#
# NET_RUNS, LIBS_RUNS, PROGS_RUNS: rounds (medians); NET_SECS: seconds per
# bench-echo point; PROGS_SECS: seconds of each pgbench and nginx load.
# bench-libs and bench-progs need libcurl and hiredis headers, curl and
# redis, bench-progs also postgresql and nginx: net-deps and progs-deps
# install them as `make deps` does (as root, with apt-get); a benchmark or
# case whose dependency is still missing says so and is skipped.

NET_BIN    := tests/bin/bench
NET_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Iinclude
NET_RUNS   ?= 5
NET_SECS   ?= 1
NET_CONNS  ?= 1,64,1024
LIBS_RUNS  ?= 3
LIBS_ONLY  ?= curl,redis,sleep
PROGS_RUNS ?= 7
PROGS_SECS ?= 3
PROGS_ONLY ?= curl,redis,postgres,nginx

NET_DEB_DEPS  := libcurl4-openssl-dev libhiredis-dev redis-server redis-tools curl
PROGS_DEB_DEPS := $(NET_DEB_DEPS) postgresql nginx
REAL_DEB_DEPS := curl netcat-openbsd socat redis-server redis-tools openssl openssh-server openssh-client

BENCH_TARGETS += bench-echo bench-libs bench-progs

# net_deps PACKAGES: install what is missing as `make deps` does; a package
# that cannot be installed skips what needs it instead of failing the run.
net_deps = $(Q)$(MAKE) --no-print-directory -s deps DEB_DEPS="$(1)" 2>&1 | \
	sed 's/^make deps:/  note   /' || true

net-deps:
	$(call net_deps,$(NET_DEB_DEPS))

progs-deps:
	$(call net_deps,$(PROGS_DEB_DEPS))

real-net-deps:
	$(call net_deps,$(REAL_DEB_DEPS))

check-real: real-net-deps

$(NET_BIN)/echo-server $(NET_BIN)/echo-load: $(NET_BIN)/%: tests/bench/%.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(NET_CFLAGS) -o $@ $< -ldl -lpthread

$(NET_BIN)/net-libs: tests/bench/net-libs.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(NET_CFLAGS) -o $@ $< -lcurl -lhiredis -ldl -lpthread

bench-echo: $(LIB) $(NET_BIN)/echo-server $(NET_BIN)/echo-load
	$(Q)python3 tests/bench/net-echo.py --lib $(CURDIR)/$(LIB) --bin $(CURDIR)/$(NET_BIN) \
		--runs $(NET_RUNS) --secs $(NET_SECS) --conns $(NET_CONNS)

# net-libs is built here, not as a prerequisite: without the headers the
# benchmark is skipped, not failed.
bench-libs: $(LIB) net-deps
	$(Q)if ! pkg-config --exists libcurl hiredis; then \
	  echo "bench-libs: skipped: libcurl or hiredis headers missing (apt-get install $(NET_DEB_DEPS))"; \
	else $(MAKE) --no-print-directory -s $(NET_BIN)/net-libs && \
	  python3 tests/bench/net-libs.py --lib $(CURDIR)/$(LIB) --bin $(CURDIR)/$(NET_BIN) \
		--runs $(LIBS_RUNS) --only $(LIBS_ONLY); fi

bench-progs: $(LIB) progs-deps $(NET_BIN)/echo-load
	$(Q)python3 tests/bench/net-progs.py --lib $(CURDIR)/$(LIB) --bin $(CURDIR)/$(NET_BIN) \
		--runs $(PROGS_RUNS) --secs $(PROGS_SECS) --only $(PROGS_ONLY)

.PHONY: net-deps progs-deps real-net-deps bench-echo bench-libs bench-progs
