# The README's "kind of fd × kind of call" table is printed from the
# engine's own table (runtime/engine/fdkind.c); check-kinds fails when they differ.
#   make kinds-table    print it
#   make check-kinds    compare it with README.md

KINDS_BIN := tests/bin$(if $(SANITIZE),-$(SANITIZE))/kinds-table

CHECK_TARGETS += check-kinds

$(KINDS_BIN): tests/kinds-table.c runtime/engine/fdkind.c runtime/engine/fdkind.h runtime/engine/engine.h
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -o $@ tests/kinds-table.c runtime/engine/fdkind.c $(LDSAN)

kinds-table: $(KINDS_BIN)
	@$(KINDS_BIN)

check-kinds: $(KINDS_BIN)
	$(Q)$(KINDS_BIN) > $(BUILD)/kinds-table.md
	$(Q)awk '/^<!-- kinds-table -->/{on=1;next} /^<!-- \/kinds-table -->/{on=0} on' README.md \
		| diff -u - $(BUILD)/kinds-table.md >/dev/null || \
		{ echo "check-kinds: README's table differs from runtime/engine/fdkind.c; run make kinds-table" >&2; exit 1; }
	@echo "  CHECK   README kinds table matches runtime/engine/fdkind.c"

.PHONY: kinds-table check-kinds
