# The API's man page: asyncify(3), installed by `make install` with one
# `.so` page per function (man asy_go finds it).

API_MAN3  := man/asyncify.3
API_FUNCS := asy_go asy_go_stack asy_run asy_join asy_yield asy_sleep asy_cancel \
	asy_now asy_io_deadline asy_stats asy_backend_name asy_version

INSTALL_TARGETS += install-man3

install-man3:
	$(Q)install -d $(DESTDIR)$(PREFIX)/share/man/man3
	$(Q)install -m 0644 $(API_MAN3) $(DESTDIR)$(PREFIX)/share/man/man3/
	$(Q)for f in $(API_FUNCS); do \
	  printf '.so man3/asyncify.3\n' > $(DESTDIR)$(PREFIX)/share/man/man3/$$f.3; \
	done

.PHONY: install-man3
