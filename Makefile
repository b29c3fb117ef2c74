# httplat build: bpf/*.bpf.c -> .bpf.o -> .skel.h; user/**/*.c -> ./httplat. Quiet; V=1 shows commands.
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
              -I$(OUT) -Ibpf $(addprefix -I,$(USER_DIRS)) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS     += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lbpf -lpq -lcurl -ljansson -linih -lncursesw) \
              -lelf -lz -lpthread -lm

# SANITIZE=asan: ASan+UBSan, any report fatal (make asan builds the unit tests so, in build/asan/);
# SANITIZE=fuzz: clang with libFuzzer's coverage on top (make fuzz-bins, in build/fuzz/).
SAN_asan   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_fuzz   := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
CFLAGS     += $(SAN_$(SANITIZE))

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
# Every folder under user/ is a layer (core/, cmd/, alert/, top/, pg/...): its .c files are built
# and it is on the include path (header names are unique across folders), so a new folder or
# module needs no edit here.
USER_SRCS  := $(sort $(shell find user -name '*.c'))
USER_HDRS  := $(sort $(shell find user -name '*.h'))
USER_DIRS  := $(sort $(patsubst %/,%,$(dir $(USER_SRCS) $(USER_HDRS))))
USER_OBJS  := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))
# main, the commands and what includes the skeleton (the tracer) need the BPF build; every other
# module is kernel-free and goes into a library that the unit tests link against (a test of a
# module that calls the tracer, such as the runner, brings its own stand-in tracer).
APP_SRCS   := user/main.c $(filter user/cmd/%,$(USER_SRCS)) \
              $(shell grep -l '^\#include "httplat.skel.h"' $(USER_SRCS))
APP_OBJS   := $(patsubst user/%.c,$(OUT)/user/%.o,$(sort $(APP_SRCS)))
LIB_OBJS   := $(filter-out $(APP_OBJS),$(USER_OBJS))
LIB        := $(OUT)/libhttplat.a
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

.DELETE_ON_ERROR:
.PHONY: all clean install test unit asan fuzz fuzz-bins fuzz-targets deps demo bench bench-tools soak \
	test-kernels vm-shell grafana grafana-build grafana-check

all: httplat

$(OUT) $(OUT)/tests:
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

$(OUT)/user/%.o: user/%.c $(USER_HDRS) bpf/httplat.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(APP_OBJS): $(SKEL)

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

httplat: $(APP_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h bpf/*.h) $(USER_HDRS) $(LIB) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

unit: $(UNIT_BINS)

# The unit tests again under ASan+UBSan (a build of their own; any report fails the test).
ASAN_OUT   := $(OUT)/asan
ASAN_BINS  := $(patsubst tests/unit/%.c,$(ASAN_OUT)/tests/%,$(UNIT_SRCS))
asan:
	$(Q)$(MAKE) --no-print-directory OUT=$(ASAN_OUT) SANITIZE=asan unit

# libFuzzer targets (tests/fuzz/fuzz_*.c, one per parser of untrusted bytes), built with clang
# against a library of their own. `make fuzz` runs each for FUZZ_SECONDS on its corpus
# (tests/fuzz/corpus/<target>/); make test runs each for FUZZ_TEST_SECONDS.
FUZZ_OUT   := $(OUT)/fuzz
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(OUT)/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 3
fuzz-bins:
	$(Q)$(MAKE) --no-print-directory OUT=$(FUZZ_OUT) SANITIZE=fuzz CC=$(CLANG) fuzz-targets

fuzz-targets: $(FUZZ_BINS)

$(OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h tests/unit/*.h bpf/*.h) $(USER_HDRS) $(LIB)
	$(call msg,FUZZ,$@)
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer -Itests/unit -Itests/fuzz $< $(LIB) $(LDLIBS) -o $@

fuzz: fuzz-bins
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) $(PYTHON) tests/fuzz/run.py $(FUZZ_OUT)

# The README's test command: unit tests (plain, then under ASan+UBSan), short fuzz runs, then
# end-to-end tests (root, real servers).
test: deps httplat unit asan fuzz-bins
	$(Q)FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) $(PYTHON) tests/run.py $(UNIT_BINS) $(ASAN_BINS) \
		tests/fuzz/run.py

# The tracing e2e subset in VMs booted on Debian's kernels (tests/vm/): `make test` runs the
# stock 6.1 one; this runs every kernel in KERNELS. vm-shell: a root shell in KERNEL's VM.
KERNELS    ?= stock backports
KERNEL     ?= stock
test-kernels: deps httplat
	$(Q)HTTPLAT_VM_KERNELS="$(KERNELS)" TESTS=test_kernels TEST_TIMEOUT=1500 $(PYTHON) tests/run.py

vm-shell: deps httplat
	$(Q)$(PYTHON) tests/vm/vm.py shell -k $(KERNEL)

deps:
	$(Q)scripts/install-deps.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory httplat
	$(Q)scripts/demo.sh

bench: httplat bench-tools
	$(Q)scripts/bench.sh

# A long `httplat run` at a fixed request rate (scripts/soak.py, docs/bench.md): not part of
# `make test`; the report goes to build/soak/.
SOAK_MINUTES ?= 30
SOAK_RATE    ?= 200
soak: deps httplat
	$(Q)$(PYTHON) scripts/soak.py --minutes $(SOAK_MINUTES) --rate $(SOAK_RATE) --out $(OUT)/soak \
		$(SOAK_ARGS)

# make bench's own programs (scripts/bench/, built into build/bench/): the minimal BPF program of
# each data path with its loader, and an untraced client/server echo pair
BENCH_OUT  := $(OUT)/bench
BENCH_BINS := $(BENCH_OUT)/minimal $(BENCH_OUT)/echo_pair

bench-tools: $(BENCH_BINS)

$(BENCH_OUT):
	$(Q)mkdir -p $@

$(BENCH_OUT)/minimal.bpf.o: scripts/bench/minimal.bpf.c scripts/bench/minimal.h $(OUT)/vmlinux.h | $(BENCH_OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Iscripts/bench -c $< -o $@

$(BENCH_OUT)/minimal.skel.h: $(BENCH_OUT)/minimal.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name minimal_bpf > $@

$(BENCH_OUT)/minimal: scripts/bench/minimal.c scripts/bench/minimal.h $(BENCH_OUT)/minimal.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(BENCH_OUT) -Iscripts/bench $< -lbpf -lelf -lz -o $@

$(BENCH_OUT)/echo_pair: scripts/bench/echo_pair.c | $(BENCH_OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

install: httplat
	$(Q)install -D -m 0755 httplat $(DESTDIR)$(PREFIX)/sbin/httplat

clean:
	$(Q)rm -rf $(OUT) httplat $(GRAFANA)/build

# the schema is embedded in the binary (pgschema.c, .incbin), wherever that file lives
$(patsubst user/%.c,$(OUT)/user/%.o,$(filter %/pgschema.c,$(USER_SRCS))): $(wildcard schema/*.sql)

# Grafana dashboards and alert rules: written by deploy/grafana/src/*.ts (TypeScript on Grafana's
# Foundation SDK, pinned in deploy/grafana/package-lock.json); the output is committed, so
# deploying needs no Node. `make grafana` regenerates; `make grafana-check` (run by
# tests/e2e/test_deploy.py) type-checks the generator and fails when the committed files differ.
GRAFANA    := deploy/grafana
GRAFANA_NM := $(GRAFANA)/node_modules/.package-lock.json
TSC        := node_modules/.bin/tsc -p .

$(GRAFANA_NM): $(GRAFANA)/package.json $(GRAFANA)/package-lock.json
	$(call msg,NPM,$(GRAFANA))
	$(Q)cd $(GRAFANA) && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	$(Q)touch $@

# tsc: strict (tsconfig.json), no output on a type error
grafana-build: $(GRAFANA_NM)
	$(call msg,TSC,$(GRAFANA) --strict)
	$(Q)cd $(GRAFANA) && $(TSC)

grafana: grafana-build
	$(Q)cd $(GRAFANA) && node build/main.js

grafana-check: grafana-build
	$(call msg,CHECK,$(GRAFANA))
	$(Q)cd $(GRAFANA) && node build/main.js --check
