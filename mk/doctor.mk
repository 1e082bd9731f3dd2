# `asyncify --doctor`: the driver (scripts/asyncify-doctor, Python 3,
# standard library only) and its probe program, both installed next to
# asyncify-ab's helper in lib/asyncify/, where the driver is looked for
# (../lib/asyncify/ from bin/asyncify).  The probe links liburing as the
# library does (statically when Debian's archive is there) and nothing of
# asyncify: it must also run without the shim, as the baseline.  The frame
# the stacks check looks for is exported, so that a stripped probe (the
# Debian package's) still names it.  Built
# plain, never with SANITIZE, like asyncify-ab-spawn.

DOCTOR_PROBE  := lib/asyncify/asyncify-doctor-probe
DOCTOR_CFLAGS ?= -O2 -g -std=gnu11 -Wall -Wextra -Wstrict-prototypes -D_GNU_SOURCE

all: $(DOCTOR_PROBE)

$(DOCTOR_PROBE): scripts/asyncify-doctor-probe.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(DOCTOR_CFLAGS) -o $@ $< $(LDFLAGS) $(URING_LIB) -ldl -lpthread \
	  -Wl,--export-dynamic-symbol=asyncify_doctor_marker

INSTALL_TARGETS += install-doctor

install-doctor: $(DOCTOR_PROBE)
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/asyncify
	$(Q)install -m 0755 $(DOCTOR_PROBE) scripts/asyncify-doctor $(DESTDIR)$(PREFIX)/lib/asyncify/

# The doctor's tests are in tests/commands/test_doctor.py.
check-commands: $(DOCTOR_PROBE)

.PHONY: install-doctor
