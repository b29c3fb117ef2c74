# httplat build: bpf/*.bpf.c -> .bpf.o -> .skel.h; user/*.c -> ./httplat. Quiet; V=1 shows commands.
OUT        := build
CLANG      ?= clang
BPFTOOL    ?= bpftool
CC         ?= cc
ARCH       := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
PREFIX     ?= /usr/local
PYTHON     := /usr/bin/python3

PKGS       := libbpf libpq libcurl jansson inih ncursesw
CFLAGS     ?= -g -O2
CFLAGS     += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers \
              -I$(OUT) -Ibpf -Iuser $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS     += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lbpf -lpq -lcurl -ljansson -linih -lncursesw) \
              -lelf -lz -lpthread -lm

# clang's own system include dirs, so vmlinux.h-based programs find asm/ headers
CLANG_SYS  := $(shell $(CLANG) -v -E - </dev/null 2>&1 | sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -I$(OUT) -Ibpf $(CLANG_SYS) \
              -Wall -Werror -Wpadded -Wno-unused-function

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_OBJ    := $(OUT)/httplat.bpf.o
SKEL       := $(OUT)/httplat.skel.h
USER_SRCS  := $(wildcard user/*.c)
USER_OBJS  := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))
# main, the tracer and the commands need the skeleton; every other module is kernel-free
# and goes into a library that the unit tests link against.
APP_OBJS   := $(filter $(OUT)/user/main.o $(OUT)/user/tracer.o $(OUT)/user/cmd_%.o,$(USER_OBJS))
LIB_OBJS   := $(filter-out $(APP_OBJS),$(USER_OBJS))
LIB        := $(OUT)/libhttplat.a
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

.DELETE_ON_ERROR:
.PHONY: all clean install test unit deps demo bench test-kernels vm-shell

all: httplat

$(OUT) $(OUT)/user $(OUT)/tests:
	$(Q)mkdir -p $@

$(OUT)/vmlinux.h: | $(OUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BPF_OBJ): bpf/httplat.bpf.c $(wildcard bpf/*.h) $(OUT)/vmlinux.h | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BPF_OBJ)
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name httplat_bpf > $@

$(OUT)/user/%.o: user/%.c $(wildcard user/*.h) bpf/httplat.h | $(OUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/user/tracer.o: $(SKEL)

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

httplat: $(APP_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/tests/%: tests/unit/%.c tests/unit/check.h $(wildcard bpf/*.h user/*.h) $(LIB) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

unit: $(UNIT_BINS)

# The README's test command: unit tests, then end-to-end tests (root, real servers).
test: deps httplat unit
	$(Q)$(PYTHON) tests/run.py $(UNIT_BINS)

# The tracing e2e subset in VMs booted on Debian's kernels (tests/vm/): `make test` runs the
# stock 6.1 one; this runs every kernel in KERNELS. vm-shell: a root shell in KERNEL's VM.
KERNELS    ?= stock backports
KERNEL     ?= stock
test-kernels: deps httplat
	$(Q)HTTPLAT_VM_KERNELS="$(KERNELS)" TESTS=test_kernels $(PYTHON) tests/run.py

vm-shell: deps httplat
	$(Q)$(PYTHON) tests/vm/vm.py shell -k $(KERNEL)

deps:
	$(Q)scripts/install-deps.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory httplat
	$(Q)scripts/demo.sh

bench: httplat
	$(Q)scripts/bench.sh

install: httplat
	$(Q)install -D -m 0755 httplat $(DESTDIR)$(PREFIX)/sbin/httplat

clean:
	$(Q)rm -rf $(OUT) httplat

# the schema is embedded in the binary (user/pgschema.c, .incbin)
$(OUT)/user/pgschema.o: $(wildcard schema/*.sql)
