# The commands asyncify (POSIX sh), asyncify-ab and asyncify-flame (Python 3,
# stdlib only):
# installed with their man pages by `make install`, tested by `make check`.

COMMANDS      := scripts/asyncify scripts/asyncify-ab scripts/asyncify-flame
COMMAND_MAN1  := man/asyncify.1 man/asyncify-ab.1 man/asyncify-flame.1
# asyncify-ab's measuring helper: lib/asyncify/ in the tree as after install,
# where asyncify-ab looks for it (../lib/asyncify/ from the script).  Built
# plain, never with SANITIZE: it must stay small (see its header comment).
AB_SPAWN      := lib/asyncify/asyncify-ab-spawn
AB_SPAWN_CFLAGS ?= -O2 -g -std=gnu11 -Wall -Wextra -Wstrict-prototypes
# asyncify-ab's Python modules (scripts/ab/, one concern each): copied to
# lib/asyncify/ab/ in the tree and installed to $(PREFIX)/lib/asyncify/ab/,
# where scripts/asyncify-ab finds them the same way as its helper.
AB_MODULES_SRC := $(wildcard scripts/ab/*.py)
AB_MODULES    := $(patsubst scripts/ab/%,lib/asyncify/ab/%,$(AB_MODULES_SRC))

all: $(AB_SPAWN) $(AB_MODULES)

lib/asyncify/ab/%.py: scripts/ab/%.py
	$(call msg,CP,$@)
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

$(AB_SPAWN): scripts/asyncify-ab-spawn.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(AB_SPAWN_CFLAGS) -o $@ $<

INSTALL_TARGETS += install-commands
CHECK_TARGETS   += check-commands

install-commands: $(AB_SPAWN)
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/lib/asyncify/ab
	$(Q)install -m 0755 $(COMMANDS) $(DESTDIR)$(PREFIX)/bin/
	$(Q)install -m 0755 $(AB_SPAWN) $(DESTDIR)$(PREFIX)/lib/asyncify/
	$(Q)install -m 0644 $(AB_MODULES_SRC) $(DESTDIR)$(PREFIX)/lib/asyncify/ab/
	$(Q)install -m 0644 $(COMMAND_MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/

# The tests build their own small C programs in a temp dir with $(CC).  A
# sanitized library preloaded into sh or python would report their leaks,
# so leak detection is off for the programs the commands start; and no
# __pycache__ is left in the source tree.
check-commands: $(LIB) $(AB_SPAWN) $(AB_MODULES)
	$(Q)ASYNCIFY_LIB=$(CURDIR)/$(LIB) ASY_VERSION=$(VERSION) CC="$(CC)" \
	  ASAN_OPTIONS=detect_leaks=0 PYTHONDONTWRITEBYTECODE=1 \
	  python3 -m unittest discover -s tests/commands -p 'test_*.py' $(if $(V),-v)

.PHONY: install-commands check-commands
