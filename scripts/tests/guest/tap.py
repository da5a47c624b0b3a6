# SPDX-License-Identifier: GPL-2.0
"""The result lines of the guest checkers, in the format lib.sh documents:
"ok - LABEL: NAME" or "not ok - LABEL: NAME", then "#   WHY" for a failure
that says why. A checker makes one Reporter per label and exits with
exit_status()."""


class Reporter:
    """Reports checks under one label; failures are counted for the whole
    process (every Reporter)."""

    fails = 0

    def __init__(self, label):
        self.label = label

    def __call__(self, ok, name, why=""):
        if ok:
            print(f"ok - {self.label}: {name}", flush=True)
        else:
            Reporter.fails += 1
            print(f"not ok - {self.label}: {name}", flush=True)
            if why:
                print(f"#   {why}", flush=True)
        return bool(ok)


def exit_status():
    """1 if any check failed, else 0."""
    return 1 if Reporter.fails else 0
