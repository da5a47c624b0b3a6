#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build everything (make demo depends on kernel + tools), boot the patched
# kernel with an emulated NVDIMM and show daxfs at work.
. "$(dirname "$0")/lib.sh"
exec "$REPO/scripts/vm.sh" --pmem 1 --timeout 600 -- "$REPO/scripts/demo-guest.sh"
