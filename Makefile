# libcr: the one entry point.  make | make test | make demo | make bench | make install
ARCH            ?= $(shell uname -m)
CROSS_COMPILE   ?=
CC              := $(CROSS_COMPILE)gcc
LD              := $(CROSS_COMPILE)ld
PREFIX          ?= /usr/local
DESTDIR         ?=
VERSION         := 0.1.0
B               ?= build

WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
CFLAGS  += $(WARN) -std=gnu11 -D_GNU_SOURCE -DCR_VERSION=\"$(VERSION)\" \
           -Iinclude -Iinclude/common -Iinclude/common/arch/$(ARCH) -Ilib -Ilib/arch/$(ARCH) -I$(B)/proto -I$(B)/blobs
LIB_CFLAGS := $(CFLAGS) -fPIC -fvisibility=hidden
LDLIBS  := -lprotobuf-c
# sock_diag queries go through libnl-3 (the sockets issue asks for it)
LIB_CFLAGS += $(shell pkg-config --cflags libnl-3.0)
LDLIBS  += $(shell pkg-config --libs libnl-3.0)
# the tree's own network namespace: links, addresses, routes, rules (lib/ns/net*.c)
LIB_CFLAGS += $(shell pkg-config --cflags libnl-route-3.0)
LDLIBS  += $(shell pkg-config --libs libnl-route-3.0)

# The architecture's flags: BLOB_ARCH_CFLAGS (no vector registers in the blobs),
# TEST_ARCH_CFLAGS (what the register test programs assemble for).
include lib/arch/$(ARCH)/arch.mk

# Freestanding blobs (principle 4): no libc, position independent, one flat segment.
BLOB_CFLAGS := -O2 -g -Wall -Wextra -Werror -std=gnu11 -ffreestanding -nostdlib -fPIE \
               -fno-stack-protector -fno-jump-tables -fno-asynchronous-unwind-tables \
               -fno-builtin -fvisibility=hidden $(BLOB_ARCH_CFLAGS) \
               -Iinclude/common -Iinclude/common/arch/$(ARCH) -Iinclude \
               -Iparasite/arch/$(ARCH) -Irestorer/arch/$(ARCH)

PROTO_SRC := $(wildcard proto/*.proto)
PROTO_C   := $(patsubst proto/%.proto,$(B)/proto/%.pb-c.c,$(PROTO_SRC))
PROTO_H   := $(PROTO_C:.c=.h)
PROTO_O   := $(PROTO_C:.c=.o)

LIB_SRC := $(wildcard lib/*.c lib/*/*.c lib/arch/$(ARCH)/*.c)
LIB_O   := $(patsubst %.c,$(B)/%.o,$(LIB_SRC)) $(PROTO_O)

BLOBS     := parasite restorer
BLOB_HDRS := $(patsubst %,$(B)/blobs/%-blob.h,$(BLOBS))

CRTOOL_SRC := $(wildcard tools/crtool/*.c)
CRTOOL_O   := $(patsubst %.c,$(B)/%.o,$(CRTOOL_SRC))

TEST_PROGS := $(patsubst test/progs/%.c,$(B)/test/%,$(wildcard test/progs/*.c))
UNIT_TESTS := $(patsubst test/unit/%.c,$(B)/test/unit-%,$(wildcard test/unit/*.c))

.PHONY: all lib crtool tests test test-aarch64 demo bench soak install install-criu-compat examples clean deps
# generated sources are kept: they are inputs of several rules
.SECONDARY:
all: crtool

lib: $(B)/libcr.a $(B)/libcr.so.0
crtool: $(B)/crtool

# ---- protobuf-c code, generated at build time
$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(B)/proto
	protoc-c --proto_path=proto --c_out=$(B)/proto $<
# a message may import another's header
$(PROTO_O): $(PROTO_H)
$(B)/proto/%.pb-c.o: $(B)/proto/%.pb-c.c
	$(CC) $(LIB_CFLAGS) -Wno-unused-parameter -c -o $@ $<

# ---- blobs: compile, link flat at 0, pack into a C array with exported offsets
$(B)/tools/pack-blob: tools/pack-blob.c
	@mkdir -p $(dir $@)
	gcc -O2 -Wall -Wextra -Werror -o $@ $<

define blob_rules
$(1)_SRC := $$(wildcard $(1)/*.c $(1)/arch/$(ARCH)/*.c $(1)/arch/$(ARCH)/*.S)
$(1)_O   := $$(patsubst %,$(B)/%.o,$$($(1)_SRC))
$(B)/$(1).elf: $$($(1)_O) $(1)/$(1).lds
	$(LD) -nostdlib -static -z noexecstack -T $(1)/$(1).lds -o $$@ $$($(1)_O)
$(B)/blobs/$(1)-blob.h: $(B)/$(1).elf $(B)/tools/pack-blob
	@mkdir -p $(B)/blobs
	$(B)/tools/pack-blob $(1) $$< $$@
endef
$(foreach b,$(BLOBS),$(eval $(call blob_rules,$(b))))

$(B)/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BLOB_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(BLOB_CFLAGS) -D__ASSEMBLY__ -MMD -MP -c -o $@ $<

# ---- libcr
$(B)/lib/%.o: lib/%.c $(PROTO_H) $(BLOB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/libcr.a: $(LIB_O)
	rm -f $@ && ar rcs $@ $^
# Symbols bound at load: a restore forks a task per process, and lazy binding
# made each of them resolve (and copy the pages of) the same PLT entries again.
BIND_NOW := -Wl,-z,now
$(B)/libcr.so.0: $(LIB_O) lib/libcr.map
	$(CC) -shared -Wl,-soname,libcr.so.0 -Wl,--version-script=lib/libcr.map $(BIND_NOW) -o $@ $(LIB_O) $(LDLIBS)
	ln -sf libcr.so.0 $(B)/libcr.so

# ---- crtool (links the static library so it runs from the tree)
$(B)/tools/crtool/%.o: tools/crtool/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<
$(B)/crtool: $(CRTOOL_O) $(B)/libcr.a
	$(CC) $(BIND_NOW) -o $@ $(CRTOOL_O) $(B)/libcr.a $(LDLIBS)

# ---- tests
$(B)/test/%: test/progs/%.c test/lib/tst.c $(wildcard test/lib/*.h)
	@mkdir -p $(B)/test
	$(CC) -O1 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -Itest/lib $(TEST_ARCH_CFLAGS) -o $@ $< test/lib/tst.c -lm
$(B)/test/unit-%: test/unit/%.c $(B)/libcr.a
	@mkdir -p $(B)/test
	$(CC) $(CFLAGS) -Itest/lib -o $@ $< $(B)/libcr.a $(LDLIBS)
$(B)/test/img-edit: test/img-edit.c $(B)/libcr.a
	@mkdir -p $(B)/test
	$(CC) $(CFLAGS) -o $@ $< $(B)/libcr.a $(LDLIBS)
# the API example (Documentation/examples), built against the tree's headers and static library
examples: $(B)/examples/cr-example
$(B)/examples/cr-example: Documentation/examples/cr-example.c $(B)/libcr.a include/cr/cr.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g $(WARN) -std=gnu11 -Iinclude -o $@ $< $(B)/libcr.a $(LDLIBS)

# plays a container runtime's side of the criu swrk RPC (test/criu-rpc.sh)
$(B)/test/criu-rpc: test/criu-rpc.c $(B)/proto/criu-rpc.pb-c.o
	@mkdir -p $(B)/test
	$(CC) $(CFLAGS) -o $@ $< $(B)/proto/criu-rpc.pb-c.o -lprotobuf-c
$(B)/test/runner: test/runner.c
	@mkdir -p $(B)/test
	$(CC) -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -o $@ $<

tests: crtool lib $(TEST_PROGS) $(UNIT_TESTS) $(B)/test/runner $(B)/test/img-edit $(B)/test/criu-rpc examples

test: deps tests
	./test/run-all.sh

# The same test programs, cross-built, on a real arm64 kernel in qemu (tools/test-aarch64.sh).
AARCH64_B ?= build-aarch64
test-aarch64:
	@./tools/install-aarch64-deps.sh
	$(MAKE) ARCH=aarch64 CROSS_COMPILE=aarch64-linux-gnu- B=$(AARCH64_B) tests
	./tools/test-aarch64.sh $(AARCH64_B)

demo: deps crtool
	./tools/demo.sh

# the soak test at full length: 200 dump/restore cycles, a minute of --leave-running dumps
soak: deps crtool tests
	SOAK_CYCLES=200 SOAK_LEAVE_S=60 ./test/soak.sh

bench: deps crtool $(B)/test/bench-mem
	./tools/bench.sh

$(B)/test/bench-mem: tools/bench-mem.c
	@mkdir -p $(B)/test
	$(CC) -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -o $@ $<

# Install the Debian packages the build needs, once (a fresh Debian 12 machine, as root).
deps:
	@./tools/install-deps.sh

install: crtool lib
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/cr \
	           $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(B)/crtool $(DESTDIR)$(PREFIX)/sbin/crtool
	install -m 644 $(B)/libcr.a $(DESTDIR)$(PREFIX)/lib/libcr.a
	install -m 755 $(B)/libcr.so.0 $(DESTDIR)$(PREFIX)/lib/libcr.so.0
	ln -sf libcr.so.0 $(DESTDIR)$(PREFIX)/lib/libcr.so
	install -m 644 include/cr/*.h $(DESTDIR)$(PREFIX)/include/cr/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' lib/libcr.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/libcr.pc

# crtool as `criu` too (runc, podman and LXC run that name): only when asked, since
# it takes the name of CRIU's binary
install-criu-compat: install
	ln -sf crtool $(DESTDIR)$(PREFIX)/sbin/criu

clean:
	rm -rf $(B) $(AARCH64_B)

include test/fuzz/fuzz.mk

-include $(shell find $(B) -name '*.d' 2>/dev/null)
