# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# hush: the one entry point.  `make help` lists the targets.

# SAN=1: hushd, hush and the tools with ASan/UBSan, in their own directory
# (`make SAN=1 test TESTS=integration` runs the integration tier on them).
SAN	  ?= 0
OUTPUT	  ?= $(if $(filter 1,$(SAN)),.output-san,.output)
ABS_OUTPUT := $(abspath $(OUTPUT))
CC	  ?= cc
CLANG	  ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL	  ?= bpftool
PKG_CONFIG ?= pkg-config
ARCH	  := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

PKGS	  := libbpf libelf zlib libcap libcrypto sqlite3 libnl-3.0 libnl-route-3.0 libcurl json-c \
	     libprotobuf-c
# Expanded on first use, once: pkg-config runs when a recipe first needs the
# flags, after `make deps` has installed the packages on a fresh machine
# (everything that uses them is recursively expanded, `=`).
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
# libcurl is not linked: agent/curl_load.c loads it on first use (its headers
# only are needed here), which halves the start of every hush command.
PKG_LIBS = $(eval PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null))$(PKG_LIBS)

# The version: `git describe` of the checkout (tags v*), else VERSION plus the
# commit, else VERSION alone (a tarball).  Written to $(OUTPUT)/version.h only
# when it changes, so a new commit rebuilds what prints it and nothing more.
BASE_VERSION := $(shell cat VERSION 2>/dev/null || echo 0)
HUSH_VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null | sed 's/^v//' || true)
ifeq ($(HUSH_VERSION),)
HUSH_VERSION := $(BASE_VERSION)$(shell h=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
	printf '+g%s' "$$h" && { git diff --quiet HEAD 2>/dev/null || printf '.dirty'; })
endif

WARN	  := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wvla
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
# Hardening, as Debian's hardening=+all: fortified libc calls, stack protector
# and clash protection, position-independent executables, full RELRO.
HARDEN_CFLAGS := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
ifeq ($(SAN),1)
CFLAGS	  ?= $(SAN_FLAGS)
HARDEN_CFLAGS := -fPIE
else
CFLAGS	  ?= -O2 -g
endif
# Reproducible: no build directory in the objects (debug info, __FILE__).
PREFIX_MAP := -ffile-prefix-map=$(CURDIR)=.
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(PREFIX_MAP) -I$(OUTPUT) -I. $(PKG_CFLAGS)
ALL_CFLAGS = $(BASE_CFLAGS) $(HARDEN_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(HARDEN_LDFLAGS) $(LDFLAGS)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror $(PREFIX_MAP) -I$(OUTPUT) -I.

# Debian packages `make deps` installs when missing (build, tests, demo, bench).
DEB_BUILD := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcap-dev \
	     libssl-dev libsqlite3-dev libnl-3-dev libnl-route-3-dev libcurl4-openssl-dev \
	     libjson-c-dev libprotobuf-c-dev protobuf-c-compiler pkg-config make gcc
DEB_TEST  := iproute2 dnsmasq-base jq libclang-rt-14-dev nftables procps util-linux \
	     clang-format git sqlite3 libxml2-utils curl openssl cppcheck shellcheck \
	     docker.io podman runc docker-compose containerd busybox-static mmdebstrap \
	     rsyslog systemd
# Packaging (`make deb`, `make bundle`, their tests): debhelper builds the .deb,
# lintian checks it, systemd-analyze (package systemd) scores the unit,
# gpg signs the bundle (gpgv, which apt needs, checks it on the target).
DEB_PKG   := build-essential debhelper dpkg-dev lintian systemd gpg yamllint python3-kubernetes

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: FORCE all help analyze compdb deps deps-test check test unit fuzz fuzz-smoke demo bench clean format \
	format-check install deps-pkg deb reproducible-check pkg-check bundle image

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS	  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

RULES_SRCS := $(wildcard rules/*.c)
AGENT_SRCS := $(wildcard agent/*.c)
HUSHD_SRCS := $(wildcard agent/hushd/*.c)
CLI_SRCS   := $(wildcard cli/*.c)
# protobuf messages (protoc-c): the C code is generated into $(OUTPUT)/agent,
# never committed; agent/cri_api.proto is the CRI v1 subset hushd speaks.
PROTO_SRCS := $(wildcard agent/*.proto)
PROTO_C    := $(patsubst %.proto,$(OUTPUT)/%.pb-c.c,$(PROTO_SRCS))
PROTO_H    := $(PROTO_C:.c=.h)
LIB_OBJS   := $(patsubst %.c,$(OUTPUT)/%.o,$(RULES_SRCS) $(AGENT_SRCS)) $(PROTO_C:.c=.o)
LIB	   := $(OUTPUT)/libhush.a
HDRS	   := $(wildcard bpf/*.h rules/*.h agent/*.h cli/*.h)

TOOLS_SRCS := $(wildcard tests/tools/*.c)
TOOLS	   := $(patsubst tests/tools/%.c,$(OUTPUT)/tests/%,$(TOOLS_SRCS))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(OUTPUT)/unit/%,$(UNIT_SRCS))
BPFT_SRCS  := $(wildcard tests/bpf/test_*.c)
BPFT_BINS  := $(patsubst tests/bpf/%.c,$(OUTPUT)/bpftest/%,$(BPFT_SRCS))
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(FUZZ_SRCS))
BENCH_SRCS := $(wildcard tests/bench/*.c)
SOCKADDR_SRCS := $(wildcard tests/bench/sockaddr/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUTPUT)/bench/%,$(BENCH_SRCS)) $(OUTPUT)/bench/bench_sockaddr

all: $(OUTPUT)/hushd $(OUTPUT)/hush $(TOOLS) ## build hushd, hush and the test tools

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | \
		awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

deps: ## install missing Debian build dependencies (root)
	$(Q)tests/lib/deps.sh $(DEB_BUILD)

deps-test: deps ## install missing Debian test dependencies (root)
	$(Q)tests/lib/deps.sh $(DEB_TEST)

deps-pkg: deps ## install missing Debian packaging packages (root)
	$(Q)tests/lib/deps.sh $(DEB_PKG)

$(OUTPUT) $(OUTPUT)/bpf $(OUTPUT)/agent $(OUTPUT)/rules $(OUTPUT)/cli $(OUTPUT)/tests \
$(OUTPUT)/unit $(OUTPUT)/fuzz $(OUTPUT)/bench $(OUTPUT)/bpftest $(OUTPUT)/san:
	$(Q)mkdir -p $@

$(OUTPUT)/version.h: FORCE | $(OUTPUT)
	$(Q)printf '#define HUSH_VERSION "%s"\n' '$(HUSH_VERSION)' > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

FORCE:

# vmlinux.h from the running kernel's BTF (CO-RE relocates it elsewhere).
$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)if [ -r /sys/kernel/btf/vmlinux ]; then \
		$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@; \
	else echo "make: /sys/kernel/btf/vmlinux missing: need a kernel with CONFIG_DEBUG_INFO_BTF=y" >&2; exit 1; fi

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux.h | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $@.d -MT $@ -c $< -o $@.tmp
	$(Q)$(LLVM_STRIP) -g $@.tmp -o $@ && rm -f $@.tmp

$(OUTPUT)/%.skel.h: $(OUTPUT)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# Header dependencies come from the compiler (-MMD -MP, the .d files below);
# the generated headers must exist before the first compile.
GEN_HDRS := $(SKELS) $(OUTPUT)/version.h $(OUTPUT)/vmlinux.h $(PROTO_H)
$(OUTPUT)/%.o: %.c | $(GEN_HDRS) $(OUTPUT)/agent $(OUTPUT)/rules $(OUTPUT)/cli
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# (one protoc-c run writes both files: a grouped pattern rule)
$(OUTPUT)/agent/%.pb-c.c $(OUTPUT)/agent/%.pb-c.h: agent/%.proto | $(OUTPUT)/agent
	$(call msg,PROTOC,$@)
	$(Q)protoc-c --c_out=$(OUTPUT) $<

$(OUTPUT)/agent/%.pb-c.o: $(OUTPUT)/agent/%.pb-c.c $(OUTPUT)/agent/%.pb-c.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/hushd: $(patsubst %.c,$(OUTPUT)/%.o,$(HUSHD_SRCS)) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

$(OUTPUT)/hush: $(patsubst %.c,$(OUTPUT)/%.o,$(CLI_SRCS)) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

# A tool is tests/tools/NAME.c, plus the files of tests/tools/NAME/ where it
# has that directory (netprobe, bypass_probe: a file per concern).
$(OUTPUT)/tests/%: tests/tools/%.c $(LIB) | $(GEN_HDRS) $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -MMD -MP $< $(wildcard tests/tools/$*/*.c) \
		$(filter tests/lib/%.c,$^) $(LIB) $(PKG_LIBS) -o $@
$(OUTPUT)/tests/netprobe: $(wildcard tests/tools/netprobe/*.c tests/tools/netprobe/*.h)
$(OUTPUT)/tests/bypass_probe: $(wildcard tests/tools/bypass_probe/*.c tests/tools/bypass_probe/*.h)
# The synthetic log generator dbfill shares with bench_query.
SYNTH_SRCS := tests/lib/synthlog.c tests/lib/synthlog.h
$(OUTPUT)/tests/dbfill: $(SYNTH_SRCS)

# Unit tests: the policy library and agent pieces under ASan/UBSan.
# (rules/loaded.c hashes with libcrypto, which the fuzz targets do not link)
SAN_LIB_SRCS := $(filter-out rules/loaded.c,$(RULES_SRCS)) agent/attrib.c agent/fsutil.c $(wildcard agent/dns.c) $(wildcard agent/sniff.c)
UNIT_LIB_SRCS := $(SAN_LIB_SRCS) rules/loaded.c agent/learncg.c agent/db.c $(wildcard agent/db_*.c) agent/json.c agent/suggest.c agent/suggest_render.c \
		 agent/cri_msg.c agent/curl_load.c $(PROTO_C) agent/log.c agent/logquery.c agent/logloc.c agent/logtop.c
# Each library source compiled once under the sanitizers (-MMD: its headers),
# linked into every unit test (compiling all of them into each of the ~20
# tests took minutes of make check).
UNIT_LIB_OBJS := $(patsubst %.c,$(OUTPUT)/unit-obj/%.o,$(UNIT_LIB_SRCS))
$(OUTPUT)/unit-obj/%.o: %.c | $(GEN_HDRS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@
$(OUTPUT)/unit/%: tests/unit/%.c $(UNIT_LIB_OBJS) | $(GEN_HDRS) $(OUTPUT)/unit
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -MMD -MP $< $(UNIT_LIB_OBJS) $(PKG_LIBS) -o $@

# BPF tests: real programs in the real kernel (bpf_prog_test_run), ASan too.
$(OUTPUT)/bpftest/%: tests/bpf/%.c $(LIB) | $(GEN_HDRS) $(OUTPUT)/bpftest
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -MMD -MP $< $(LIB) $(PKG_LIBS) -o $@

# libFuzzer targets (clang).
$(OUTPUT)/fuzz/%: tests/fuzz/%.c $(SAN_LIB_SRCS) $(HDRS) | $(GEN_HDRS) $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -I$(OUTPUT) -I. $(PKG_CFLAGS) \
		-fsanitize=fuzzer,address,undefined $< $(SAN_LIB_SRCS) -o $@

# The CRI decoding target links protobuf-c (the other targets need no library).
$(OUTPUT)/fuzz/fuzz_cri: tests/fuzz/fuzz_cri.c agent/cri_msg.c $(PROTO_C) $(HDRS) | $(GEN_HDRS) $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -I$(OUTPUT) -I. $(PKG_CFLAGS) \
		-fsanitize=fuzzer,address,undefined $< agent/cri_msg.c $(PROTO_C) -lprotobuf-c -o $@

# A benchmark is tests/bench/NAME.c, plus the files of tests/bench/NAME/ where
# it has that directory (bench_query) and the tests/lib sources it depends on.
$(OUTPUT)/bench/%: tests/bench/%.c $(LIB) | $(GEN_HDRS) $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -MMD -MP $< $(wildcard tests/bench/$*/*.c) \
		$(filter tests/lib/%.c,$^) $(LIB) $(PKG_LIBS) -lm -o $@
$(OUTPUT)/bench/bench_query: $(SYNTH_SRCS) $(wildcard tests/bench/bench_query/*.c tests/bench/bench_query/*.h)

# bench_sockaddr is the files of tests/bench/sockaddr/ (a file per concern).
$(OUTPUT)/bench/bench_sockaddr: $(SOCKADDR_SRCS) $(wildcard tests/bench/sockaddr/*.h) $(LIB) \
		| $(GEN_HDRS) $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -MMD -MP $(SOCKADDR_SRCS) $(LIB) $(PKG_LIBS) -lm -o $@
# Its single file before the split, still named by an older build's
# $(OUTPUT)/bench/bench_sockaddr.d: nothing to make (the next build rewrites it).
tests/bench/bench_sockaddr.c: ;

unit: $(UNIT_BINS) $(BPFT_BINS) $(FUZZ_BINS) ## build unit, BPF and fuzz test binaries

FUZZ_TIME ?= 300
fuzz: $(FUZZ_BINS) ## run every fuzz target for FUZZ_TIME seconds each
	$(Q)for f in $(FUZZ_BINS); do n=$$(basename $$f); mkdir -p $(OUTPUT)/fuzz/corpus-$$n; \
		$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
		$(OUTPUT)/fuzz/corpus-$$n tests/fuzz/corpus/$${n#fuzz_} || exit 1; done

check: deps-test all unit ## install test deps, build, run every test (needs root)
	$(Q)OUTPUT=$(ABS_OUTPUT) tests/run.sh

test: all unit ## run every test without installing anything
	$(Q)OUTPUT=$(ABS_OUTPUT) tests/run.sh

demo: deps-test all ## show hush denying a forbidden host inside private namespaces (root)
	$(Q)OUTPUT=$(ABS_OUTPUT) tests/demo.sh

bench: deps-test all $(BENCH_BINS) ## benchmarks; writes tests/bench/RESULTS.md (root)
	$(Q)OUTPUT=$(ABS_OUTPUT) tests/bench/run.sh

analyze: all ## static analysis: cppcheck and shellcheck (also in make check's lint tier)
	$(Q)OUTPUT=$(ABS_OUTPUT) tests/analyze.sh

# compile_commands.json for clangd and clang-tidy: every user-space source with
# the flags the build uses.
COMPDB_SRCS = $(RULES_SRCS) $(AGENT_SRCS) $(HUSHD_SRCS) $(CLI_SRCS) $(TOOLS_SRCS) $(BPFT_SRCS) \
	      $(BENCH_SRCS) $(SOCKADDR_SRCS) $(wildcard tests/bench/bench_query/*.c) tests/lib/synthlog.c
compdb: | $(GEN_HDRS) ## write compile_commands.json (clangd, clang-tidy)
	$(call msg,GEN,compile_commands.json)
	$(Q){ sep='['; for f in $(COMPDB_SRCS); do \
		printf '%s\n{"directory": "%s", "file": "%s", "command": "%s -c %s"}' \
			"$$sep" "$(CURDIR)" "$$f" "$(CC) $(ALL_CFLAGS)" "$$f"; sep=','; done; \
		echo; echo ']'; } > compile_commands.json

format: ## clang-format every C file in place
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

format-check: ## fail if a C file is not clang-formatted
	$(Q)clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

PREFIX ?= /usr/local
install: all ## install hushd and hush under PREFIX
	install -D -m 0755 $(OUTPUT)/hushd $(DESTDIR)$(PREFIX)/sbin/hushd
	install -D -m 0755 $(OUTPUT)/hush $(DESTDIR)$(PREFIX)/sbin/hush

# The Debian package, from packaging/debian, into $(OUTPUT)/deb; lintian must
# pass (overrides, each with its reason: packaging/debian/*.lintian-overrides).
DEB_OUT := $(ABS_OUTPUT)/deb
deb: deps-pkg ## build $(OUTPUT)/deb/hush_VERSION_ARCH.deb (root for deps), lintian-checked
	$(Q)packaging/build-deb.sh '$(HUSH_VERSION)' $(DEB_OUT)
	$(Q)lintian --fail-on error,warning --info $(DEB_OUT)/hush_*.changes

reproducible-check: deps-pkg ## build HEAD twice (other path, time, TZ, umask): binaries, BPF objects, .deb identical
	$(Q)packaging/reproducible-check.sh

# The offline bundle (packaging/make-bundle.sh): BUNDLE_KEY is a gpg key id
# with its secret key in GNUPGHOME.
bundle: deps-pkg deps-test deb ## offline bundle: .deb + Debian deps + SBOM + SHA256SUMS, gpg-signed (BUNDLE_KEY=ID)
	$(Q)[ -n "$(BUNDLE_KEY)" ] || { echo "make bundle: set BUNDLE_KEY=<gpg key id> (secret key in GNUPGHOME)" >&2; exit 2; }
	$(Q)packaging/make-bundle.sh $(DEB_OUT)/hush_$(subst :,%3a,$(HUSH_VERSION))_*.deb $(ABS_OUTPUT)/bundle '$(BUNDLE_KEY)'

# hushd as a container image, imported (no registry, no base image).
IMAGE_TAR := $(ABS_OUTPUT)/image/hushd-rootfs.tar
image: deps-test deb ## hushd image: minbase rootfs + the .deb, docker import as hushd:VERSION (root)
	$(Q)mkdir -p $(dir $(IMAGE_TAR))
	$(Q)packaging/container/build-rootfs.sh $(DEB_OUT)/hush_*.deb $(IMAGE_TAR)
	$(Q)docker import -c 'ENTRYPOINT ["/usr/sbin/hushd", "--foreground"]' \
		-c 'CMD ["--policy", "/etc/hush/policy"]' $(IMAGE_TAR) 'hushd:$(subst +,_,$(HUSH_VERSION))'

pkg-check: deps-test deb ## the package tier: tests/pkg/ (fresh Debian roots; root, network to the apt mirror)
	$(Q)OUTPUT=$(ABS_OUTPUT) TESTS=pkg tests/run.sh

-include $(shell find $(OUTPUT) -name '*.d' 2>/dev/null)

clean: ## remove the build directory
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)
