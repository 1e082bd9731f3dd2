# Files in coroutines and metadata-heavy programs (issue 11): figures for
# make bench (README, Performance, Files; docs/bench.md), and the packages
# of the file cases of check-real (tests/real/fs-cases.sh).
#
#   make bench-sqlite               SQLite from 32 coroutines vs 32 threads
#   make bench-sqlite SQLITE_RUNS=5 SQLITE_ONLY=delete-warm,wal-cold
#   make bench-fs                   git status, tar x, cp -r, find -exec stat,
#                                   make -j2 with and without the shim
#   make bench-fs FS_RUNS=9 FS_ONLY=git,tar FS_FILES=10000 FS_GIT_FILES=50000
#   make bench-fs-percall           the same programs' user instructions
#                                   (callgrind): figures noise does not move
#
# SQLITE_RUNS, FS_RUNS: rounds (medians).  bench-sqlite needs Debian's
# libsqlite3-dev; check-real's sendfile case needs lighttpd: fs-deps and
# real-fs-deps install them as `make deps` does (as root, with apt-get); a
# benchmark or case whose dependency is still missing says so and is
# skipped.

FS_BIN      := tests/bin/bench
SQLITE_RUNS ?= 3
SQLITE_ONLY ?= delete-warm,delete-cold,wal-warm,wal-cold
FS_RUNS     ?= 7
FS_FILES    ?= 3000
FS_GIT_FILES ?= 20000
FS_ONLY     ?= git,tar,cp,find,make

FS_DEB_DEPS      := libsqlite3-dev sqlite3 git make
REAL_FS_DEB_DEPS := lighttpd sqlite3 libsqlite3-dev util-linux

BENCH_TARGETS += bench-sqlite bench-fs bench-fs-percall

fs-deps:
	$(call net_deps,$(FS_DEB_DEPS))

real-fs-deps:
	$(call net_deps,$(REAL_FS_DEB_DEPS))

check-real: real-fs-deps

$(FS_BIN)/sqlite-coro: tests/bench/sqlite-coro.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(NET_CFLAGS) -o $@ $< -lsqlite3 -ldl -lpthread

# sqlite-coro is built here, not as a prerequisite: without the header the
# benchmark is skipped, not failed.  net-libs (if it builds) measures how
# late this machine wakes a sleeper, beside the stalls.
bench-sqlite: $(LIB) fs-deps
	$(Q)if ! pkg-config --exists sqlite3; then \
	  echo "bench-sqlite: skipped: the sqlite3 header is missing (apt-get install libsqlite3-dev)"; \
	else $(MAKE) --no-print-directory -s $(FS_BIN)/sqlite-coro && \
	  { $(MAKE) --no-print-directory -s $(NET_BIN)/net-libs 2>/dev/null || true; } && \
	  python3 tests/bench/fs-sqlite.py --lib $(CURDIR)/$(LIB) --bin $(CURDIR)/$(FS_BIN) \
		--runs $(SQLITE_RUNS) --only $(SQLITE_ONLY); fi

bench-fs: $(LIB) fs-deps
	$(Q)python3 tests/bench/fs-progs.py --lib $(CURDIR)/$(LIB) --runs $(FS_RUNS) \
		--files $(FS_FILES) --git-files $(FS_GIT_FILES) --only $(FS_ONLY)

bench-fs-percall: $(LIB)
	$(Q)bash tests/bench/fs-percall.sh $(CURDIR)/$(LIB)

.PHONY: fs-deps real-fs-deps bench-sqlite bench-fs bench-fs-percall
