# SPDX-License-Identifier: GPL-2.0
# daxfs entry points. Everything downloads/builds into $(DAXFS_CACHE)
# (default /var/cache/daxfs); the patched kernel tree is build/linux.
#
#   make demo      build everything, boot the kernel, show daxfs (README cmd 1)
#   make test      every test, ends with "N passed, N failed" (README cmd 2)
#   make test-debug  the debug kernel (lockdep, KASAN, UBSAN): build, KUnit,
#                  every guest suite, a few crash points
#   make deps      install toolchain, QEMU, virtme-ng, guest tools
#   make tree      the patched kernel tree in build/linux (git, branch daxfs)
#   make patches   regenerate linux-patches/ from build/linux's commits
#   make kernel    configure + build the kernel (out of tree, ccache)
#   make tools     mkfs.daxfs / fsck.daxfs / dump.daxfs (cargo, release)
#   make vm        interactive shell in the VM (virtme-ng, NVDIMM attached)
#   make check-patches   checkpatch.pl on linux-patches/
#   make series-build    build the series patch by patch (each must build on its own; long)
#   make lint-kernel     rustfmtcheck, CLIPPY=1 and rustdoc on the built kernel tree
#   make bench     ext4-dax / xfs-dax / daxfs benchmark in one VM
#   make profile   perf profiles of benchmark workloads on the three (DAXFS_PROFILE)

SHELL := /bin/bash
.PHONY: all demo test test-debug deps tree patches kernel tools vm check-patches series-build lint-kernel bench profile clean-kbuild

all: kernel tools

deps:
	scripts/deps.sh

tree: deps
	scripts/kernel-tree.sh

patches:
	scripts/regen-patches.sh

kernel: deps
	scripts/kernel-build.sh >/dev/null

tools: deps
	scripts/tools-build.sh

vm: kernel tools
	scripts/vng.sh

demo: kernel tools
	scripts/demo.sh

test: deps
	scripts/test.sh

test-debug: deps tools
	DAXFS_TEST_ONLY=debug scripts/test.sh

check-patches: tree
	scripts/check-patches.sh

series-build: deps
	scripts/series-build.sh

lint-kernel: kernel
	scripts/kernel-lint.sh

bench: kernel tools
	scripts/bench.sh

profile: kernel tools
	scripts/profile.sh

clean-kbuild:
	scripts/clean-kbuild.sh
