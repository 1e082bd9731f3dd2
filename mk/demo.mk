# make demo: build the library and demo/kvstore, then run asyncify-ab on it
# across every variant (no shim, off, uring, threads): equivalence verdicts
# and the timing table.  Data lives in a fresh temp dir, removed afterwards;
# the exports go to demo/bin/ab.{json,md,svg}.

DEMO_BIN     := demo/bin
DEMO_PROGS   := $(DEMO_BIN)/kvstore
# A legacy program is built like one: plain flags, none of the library's.
DEMO_CFLAGS  ?= -O2 -g -std=gnu11 -Wall -Wextra
DEMO_RUNS    ?= 10
DEMO_ARGS    ?= -n 10000 -l 10000

# The coroutine demo uses the library's API: linked with it.
$(DEMO_BIN)/kvlookup-coro: demo/kvlookup-coro.c include/asyncify.h $(LIB)
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(DEMO_CFLAGS) -Iinclude -o $@ $< -L$(LIBDIR) -lasyncify -Wl,-rpath,$(CURDIR)/$(LIBDIR)

$(DEMO_BIN)/%: demo/%.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(DEMO_CFLAGS) -o $@ $<

demo-progs: $(DEMO_PROGS)

# Like `make check`, `make demo` first installs missing Debian packages
# (deps, in the Makefile), then builds and runs in a second make so that
# the build sees them.
demo: deps
	$(Q)$(MAKE) --no-print-directory demo-run

demo-run: all $(DEMO_PROGS) $(DEMO_BIN)/kvlookup-coro $(AB_SPAWN) $(AB_MODULES)
	$(Q)tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/asyncify-demo.XXXXXX") || exit 2; \
	trap 'rm -rf "$$tmp"' EXIT; trap 'exit 130' INT TERM HUP; \
	scripts/asyncify-ab --lib $(CURDIR)/$(LIB) --runs $(DEMO_RUNS) --warmup 1 \
	  --compare-file "$$tmp/kv.db" --summary \
	  --export-json $(DEMO_BIN)/ab.json --export-markdown $(DEMO_BIN)/ab.md \
	  --export-svg $(DEMO_BIN)/ab.svg \
	  -- $(CURDIR)/$(DEMO_BIN)/kvstore $(DEMO_ARGS) "$$tmp/kv.db" </dev/null; \
	rc=$$?; \
	echo "  exports: $(DEMO_BIN)/ab.json $(DEMO_BIN)/ab.md $(DEMO_BIN)/ab.svg"; \
	echo; echo "Lookups of a cold 25 MiB kvstore file, the legacy code as coroutines (demo/kvlookup-coro.c):"; \
	$(CURDIR)/$(DEMO_BIN)/kvstore -n 100000 -l 10 "$$tmp/big.db" >/dev/null || rc=1; \
	$(CURDIR)/$(DEMO_BIN)/kvlookup-coro "$$tmp/big.db" 4000 64 || rc=1; \
	ASYNCIFY_BACKEND=threads $(CURDIR)/$(DEMO_BIN)/kvlookup-coro "$$tmp/big.db" 4000 64 || rc=1; \
	exit $$rc

clean-demo:
	rm -rf $(DEMO_BIN)

.PHONY: demo demo-run demo-progs clean-demo
