# SPDX-License-Identifier: GPL-2.0
#
# One pipeline from a clean machine to the series applied on a 6.12 tree,
# built, booted in QEMU and tested.  Every knob is a variable:
#   make run                 apply, build, boot, run the series' kselftests
#   make check               everything CI checks (see README)
#   make bench               benchmarks on the perf kernel (bench/)
#   T=all|series|regress|flaky|<category>|<test>   which tests (default: series)
#   FLAVOUR=debug|perf|kasan kernel flavour (debug: DEBUG_VM, lockdep, ...;
#                            kasan: debug plus KASAN; bisect: compile only)
#   ACCEL=auto|tcg|kvm  MEM=2G  NUMA=2  SMP=2  TIMEOUT=<s>  KSRC=<6.12.y tree>
#   APPLY=0                  use the tree in .cache/linux as it is

CACHE   ?= $(CURDIR)/.cache
SRC     := $(CACHE)/linux
FLAVOUR ?= debug
BUILD   ?= $(CACHE)/build-$(FLAVOUR)
OUT     ?= $(CACHE)/out-$(FLAVOUR)
T       ?= series
JOBS    ?= $(shell echo $$(($$(nproc) + 1)))
LIST    := scripts/tests.list
export ACCEL MEM NUMA SMP KSRC KSRC_NAME FORCE KARGS SIGNOFF

# ccache: hash paths relative to the workspace, so clones share the cache.
export CCACHE_BASEDIR := $(dir $(CURDIR))
export CCACHE_NOHASHDIR := 1
KMAKE = $(MAKE) -s -C $(SRC) O=$(BUILD) ARCH=x86_64 CC="ccache gcc" \
	KBUILD_BUILD_TIMESTAMP=2024-11-17 KBUILD_BUILD_USER=mmpaging \
	KBUILD_BUILD_HOST=qemu -j$(JOBS)
FRAGS = scripts/kconfig/base.config $(SRC)/tools/testing/selftests/mm/config \
	$(if $(filter kasan,$(FLAVOUR)),scripts/kconfig/debug.config) \
	scripts/kconfig/$(FLAVOUR).config
TESTS = $(shell awk -v T="$(T)" -f scripts/select.awk $(LIST))
# The whole guest run may take the sum of the tests' timeouts, plus boot.
TIMEOUT ?= $(shell echo $$(( $$(awk -v T="$(T)" -v timeout=1 -f scripts/select.awk $(LIST)) + 120 )))

.PHONY: all run check check-series check-parser check-bisect deps base apply \
	config kernel selftests initramfs boot export signoff clean distclean \
	selection bench check-stable

# Steps share one build folder: never run them in parallel.
.NOTPARALLEL:

all: run

run: selection boot

# A typo in T must fail before anything is built.
selection:
	@awk -v T="$(T)" -f scripts/select.awk $(LIST) >/dev/null

deps:
	@scripts/deps.sh

base: deps
	@scripts/base.sh $(SRC) prereq

# APPLY=0 builds the tree as it is, uncommitted edits included (the
# edit -> rebuild -> boot loop); the default puts patches/ on it first.
apply: base
ifeq ($(APPLY),0)
	@echo "apply: APPLY=0, using $(SRC) as it is"
else
	@scripts/apply.sh $(SRC) patches
endif

config: apply
	@scripts/kconfig.sh $(SRC) $(BUILD) $(FRAGS)

kernel: config
	@echo "kernel: building $(FLAVOUR) in $(BUILD)"
	@$(KMAKE) bzImage modules
	@echo "kernel: $$(cat $(BUILD)/include/config/kernel.release)"

selftests: apply
	@scripts/build-tests.sh $(SRC) $(BUILD) $(LIST) bench

initramfs: kernel selftests
	@scripts/mkinitramfs.sh $(SRC) $(BUILD) $(LIST) scripts/guest-init

boot: selection initramfs
	@test -n "$(TESTS)" || { echo "T=$(T) selects no test in $(LIST)"; exit 1; }
	@echo "boot: tests $(TESTS) (whole run at most $(TIMEOUT)s)"
	@TIMEOUT=$(TIMEOUT) scripts/qemu.sh $(BUILD)/arch/x86/boot/bzImage \
		$(BUILD)/initramfs.cpio.gz $(OUT) $(TESTS)
	@scripts/report.sh $(OUT) $(TESTS) $(LIST)

check:
	@scripts/check.sh

# Benchmarks: the perf kernel, the programs of bench/bench.list, one boot.
bench:
	@$(MAKE) -s run FLAVOUR=perf LIST=bench/bench.list T=all; rc=$$?; \
	tr -d '\r' <$(CACHE)/out-perf/results.log | sed -n 's/^# //p'; exit $$rc

check-series: base
	@scripts/check-series.sh $(SRC) $(CURDIR)

check-parser:
	@scripts/test-parser.sh

# Every step in the compile-only "bisect" flavour (scripts/kconfig/
# bisect.config), in its own folder: the booted flavours build only the
# last step.  BISECT_FLAVOUR=debug builds the steps as make run would.
BISECT_FLAVOUR ?= bisect
check-bisect: apply
	@scripts/check-bisect.sh $(SRC) $(CURDIR) $(CACHE)/build-$(BISECT_FLAVOUR) $(BISECT_FLAVOUR)

# The series on every linux-source-6.12 version apt offers (VERSIONS=...),
# each built and booted in CACHE/stable/<version>; not part of check.
check-stable: deps
	@scripts/check-stable.sh $(CACHE) $(CURDIR)

# Regenerate patches/ and the top-level new files from branch "series".
export: base
	@scripts/export.sh $(SRC) $(CURDIR)

# For the human who sends the series: SIGNOFF="Name <mail>" make signoff
signoff:
	@scripts/signoff.sh patches $(CACHE)/outgoing

clean:
	rm -rf $(CACHE)/build-* $(CACHE)/out-* $(CACHE)/outgoing

distclean:
	rm -rf $(CACHE)
