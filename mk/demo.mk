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

demo-run: all $(DEMO_PROGS) $(AB_SPAWN)
	$(Q)tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/asyncify-demo.XXXXXX") || exit 2; \
	trap 'rm -rf "$$tmp"' EXIT; trap 'exit 130' INT TERM HUP; \
	scripts/asyncify-ab --lib $(CURDIR)/$(LIB) --runs $(DEMO_RUNS) --warmup 1 \
	  --compare-file "$$tmp/kv.db" --summary \
	  --export-json $(DEMO_BIN)/ab.json --export-markdown $(DEMO_BIN)/ab.md \
	  --export-svg $(DEMO_BIN)/ab.svg \
	  -- $(CURDIR)/$(DEMO_BIN)/kvstore $(DEMO_ARGS) "$$tmp/kv.db" </dev/null; \
	rc=$$?; \
	echo "  exports: $(DEMO_BIN)/ab.json $(DEMO_BIN)/ab.md $(DEMO_BIN)/ab.svg"; \
	exit $$rc

clean-demo:
	rm -rf $(DEMO_BIN)

.PHONY: demo demo-run demo-progs clean-demo
