# libFuzzer targets (clang, ASan + UBSan), included by the Makefile.
#   make fuzz [FUZZ_TIME=seconds per target, default 60] [FUZZ_TARGETS="core mm ..."]
# libcr is compiled a second time with clang and the sanitizers under build/fuzz/.
FUZZ_CC     := clang
FUZZ_TIME   ?= 60
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g $(WARN) -std=gnu11 -D_GNU_SOURCE -DCR_VERSION=\"$(VERSION)\" \
               -Iinclude -Iinclude/common -Iinclude/common/arch/$(ARCH) -Ilib -Ilib/arch/$(ARCH) \
               -I$(B)/proto -I$(B)/blobs -Itest/fuzz $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
               $(shell pkg-config --cflags libnl-3.0)
FZ          := $(B)/fuzz

# one target per record image kind, then the pages layer, crtool show, the text
# parsers and crtool's swrk RPC requests
FUZZ_IMAGE_KINDS := inventory pstree core mm fs fdinfo ghost timers ipc seccomp cgroup \
                    netns timens ns utsns mountpoints tmpfs userns
FUZZ_ALL := $(FUZZ_IMAGE_KINDS) pagemap show fdinfo-text proc rpc
FUZZ_BINS := $(patsubst %,$(FZ)/fuzz-%,$(FUZZ_ALL))

FUZZ_LIB_O := $(patsubst %.c,$(FZ)/obj/%.o,$(LIB_SRC)) \
              $(patsubst $(B)/proto/%.c,$(FZ)/obj/proto/%.o,$(PROTO_C)) $(FZ)/obj/fuzz-util.o

.PHONY: fuzz fuzz-build fuzz-deps
fuzz-deps:
	@./tools/install-fuzz-deps.sh

$(FZ)/obj/lib/%.o: lib/%.c $(PROTO_H) $(BLOB_HDRS) | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fvisibility=hidden -MMD -MP -c -o $@ $<
$(FZ)/obj/proto/%.o: $(B)/proto/%.c $(PROTO_H) | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-unused-parameter -c -o $@ $<
$(FZ)/obj/tools/%.o: tools/%.c $(PROTO_H) | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FZ)/obj/%.o: test/fuzz/%.c test/fuzz/fuzz.h $(PROTO_H) $(BLOB_HDRS) | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FZ)/obj/image-%.o: test/fuzz/image.c test/fuzz/fuzz.h $(PROTO_H) | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DFUZZ_KIND=IMG_$(shell echo $* | tr a-z A-Z) -c -o $@ $<

define fuzz_image_rule
$(FZ)/fuzz-$(1): $(FZ)/obj/image-$(1).o $(FUZZ_LIB_O)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ $(LDLIBS)
endef
$(foreach k,$(FUZZ_IMAGE_KINDS),$(eval $(call fuzz_image_rule,$(k))))
# the request decoder and option mapping of crtool's swrk (tools/crtool/swrk.c)
$(FZ)/obj/rpc.o: FUZZ_CFLAGS += -Itools/crtool
$(FZ)/fuzz-rpc: $(FZ)/obj/rpc.o $(FZ)/obj/tools/crtool/rpc-opts.o $(FZ)/obj/tools/crtool/cgroot.o $(FUZZ_LIB_O)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
$(FZ)/fuzz-%: $(FZ)/obj/%.o $(FUZZ_LIB_O)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# seeds come from dumps of the suite's own programs (crtool and the test programs) and
# the requests of test/criu-rpc
fuzz: deps fuzz-deps crtool $(TEST_PROGS) $(B)/test/criu-rpc fuzz-build
	FUZZ_TIME=$(FUZZ_TIME) ./test/fuzz/run.sh $(FUZZ_TARGETS)
