#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fill in the cover letter of the series.

usage: cover-letter.py GENERATED KEPT DATE

GENERATED is `git format-patch --cover-letter` output: its subject and blurb
are placeholders, its shortlog and diffstat describe the series as it is now.
KEPT is the cover letter in linux-patches/, whose subject and blurb were
written by hand. GENERATED is rewritten with KEPT's subject and blurb and
with DATE (the date of the series' last patch, so that regenerating an
unchanged series reproduces the file byte for byte).
"""
import re
import sys

SHORTLOG = re.compile(r"^\S.* \(\d+\):$")


def split(lines):
    """Headers, body before the shortlog, and the rest (shortlog onwards)."""
    end = lines.index("")
    headers, body = lines[:end], lines[end + 1:]
    for i, line in enumerate(body):
        if SHORTLOG.match(line) and (i == 0 or body[i - 1] == ""):
            return headers, body[:i], body[i:]
    sys.exit("cover-letter.py: no shortlog in the cover letter")


def subject(headers):
    for i, line in enumerate(headers):
        if line.startswith("Subject:"):
            text = line
            for cont in headers[i + 1:]:
                if not cont[:1].isspace():
                    break
                text += " " + cont.strip()
            return re.sub(r"^Subject: \[PATCH[^]]*\] ", "", text)
    sys.exit("cover-letter.py: no Subject in the cover letter")


def main():
    generated, kept, date = sys.argv[1:4]
    with open(generated, encoding="utf-8") as f:
        gen = f.read().split("\n")
    with open(kept, encoding="utf-8") as f:
        old = f.read().split("\n")
    g_head, _, g_rest = split(gen)
    o_head, o_body, _ = split(old)
    out = []
    for line in g_head:
        if line.startswith("Date: "):
            line = "Date: " + date
        line = line.replace("*** SUBJECT HERE ***", subject(o_head))
        out.append(line)
    with open(generated, "w", encoding="utf-8") as f:
        f.write("\n".join(out + [""] + o_body + g_rest))


if __name__ == "__main__":
    main()
