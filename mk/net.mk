# Sockets, readiness and sleeps in coroutines (issue 10): figures for
# make bench.  See README, Performance, Sockets.
#
#   make bench-echo                 echo servers at 1, 64, 1024 connections
#   make bench-echo NET_RUNS=7 NET_SECS=2 NET_CONNS=64
#
# NET_RUNS rounds (medians), NET_SECS seconds per point.

NET_BIN   := tests/bin/bench
NET_RUNS  ?= 5
NET_SECS  ?= 1
NET_CONNS ?= 1,64,1024
NET_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Iinclude

BENCH_TARGETS += bench-echo

$(NET_BIN)/echo-server $(NET_BIN)/echo-load: $(NET_BIN)/%: tests/bench/%.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(NET_CFLAGS) -o $@ $< -ldl -lpthread

bench-echo: $(LIB) $(NET_BIN)/echo-server $(NET_BIN)/echo-load
	$(Q)python3 tests/bench/net-echo.py --lib $(CURDIR)/$(LIB) --bin $(CURDIR)/$(NET_BIN) \
		--runs $(NET_RUNS) --secs $(NET_SECS) --conns $(NET_CONNS)

.PHONY: bench-echo
