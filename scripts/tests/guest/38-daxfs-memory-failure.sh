#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs and memory failures on its persistent memory (memory_failure.py): a
# poisoned page of file data kills the process mapping it (SIGBUS) and the
# filesystem goes on; a poisoned metadata page stops all writing (EROFS) and
# the next mount says the filesystem has errors. Runs last: the poisoned
# pages of /dev/pmem1 stay marked until the guest is rebooted.
. "$(dirname "$0")/lib.sh"
mkdir -p /mnt/mf
python3 "$(dirname "$0")/memory_failure.py" /dev/pmem1 /mnt/mf || _fails=$((_fails + 1))
suite_exit
