# The Debian package: `make deb` builds build/deb/asyncify_<version>_<arch>.deb
# with dpkg-buildpackage and debhelper (debian/), from a copy of the tree
# so that the build never writes outside build/.  `make check-deb` (part of
# `make check`) installs it with apt in a throw-away mount namespace and
# runs the installed copy (tests/deb/check-deb.sh); `make check-deb-fresh`
# (by hand) does it on a fresh debootstrapped Debian 12.  `make lint-deb` runs
# lintian on it (docs/debian.md explains what it reports).

DEB_ARCH  := $(shell dpkg --print-architecture 2>/dev/null)
DEB_OUT   := build/deb
DEB_FILE  := $(DEB_OUT)/asyncify_$(VERSION)_$(DEB_ARCH).deb
DEB_SRC   := $(DEB_OUT)/asyncify-$(VERSION)

CHECK_TARGETS += check-deb

# The tree as git knows it (tracked and new files, not the ignored build
# output), or, outside a checkout, the directories the package is built from.
# The package is built the same whatever this make was given (-j,
# SANITIZE=, which make also exports): neither reaches dpkg-buildpackage.
deb:
	$(call msg,DEB,$(DEB_FILE))
	$(Q)rm -rf $(DEB_OUT) && mkdir -p $(DEB_SRC)
	$(Q)if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git ls-files -co --exclude-standard | while IFS= read -r f; do [ -e "$$f" ] && printf '%s\n' "$$f"; done; \
	else \
	  printf '%s\n' Makefile asyncify.pc.in mk shim runtime include scripts man debian demo README.md; \
	fi | tar -cf - -T - | tar -xf - -C $(DEB_SRC)
	$(Q)cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE -u BUILD -u LIBDIR \
	  dpkg-buildpackage -b -us -uc > ../build.log 2>&1 || \
	  { tail -40 ../build.log >&2; echo "make deb: dpkg-buildpackage failed (log: $(DEB_OUT)/build.log)" >&2; exit 1; }
	$(Q)test -f $(DEB_FILE)

check-deb: deb
	$(Q)timeout 110 sh tests/deb/check-deb.sh $(CURDIR)/$(DEB_FILE) $(CURDIR)

lint-deb: deb
	$(Q)command -v lintian >/dev/null || { echo "make lint-deb: lintian is not installed (apt-get install lintian)" >&2; exit 1; }
	$(Q)lintian --info --display-info $(DEB_OUT)/asyncify_$(VERSION)_$(DEB_ARCH).changes

.PHONY: deb check-deb lint-deb

# By hand (root, debootstrap, the Debian mirror; ~3 minutes): the package on
# a fresh minimal Debian 12, as a container starts.
check-deb-fresh: deb
	$(Q)sh tests/deb/fresh-root.sh $(CURDIR)/$(DEB_FILE) $(CURDIR)

.PHONY: check-deb-fresh
