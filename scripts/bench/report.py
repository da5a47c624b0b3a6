#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tabulate and chart the log of one scripts/bench.sh run.

usage: report.py LOG --commit SHA --date YYYY-MM-DD
                 [--md OUT.md] [--svg OUT.svg] [--docs DOCS.md]

Reads, from LOG, the lines

  bench FS PATTERN SECONDS   a time (smaller is better), FS ext4, xfs or daxfs
  info FS KEY VALUE...       a fact about FS, shown in a second table
  bench-error ...            a failure reported by the guest

and ignores every other line. If a (FS, PATTERN) or (FS, KEY) pair comes
twice, the last one counts. A pattern's group is named from the word before
its first "-" (append and overwrite are "writes", mapsync is "faults", any
other word is its own group); groups, and patterns within a group, keep the
order in which the log first shows them.

The Markdown report (one table of times and of the ratios daxfs/ext4-dax and
daxfs/xfs-dax, ratios above 1.00 in bold, then a table of the info lines) is
printed on stdout, and also written to OUT.md with --md. --svg writes a bar
chart of the ratios on a log2 scale around 1. --docs replaces what lies
between the lines "<!-- bench-table:begin -->" and "<!-- bench-table:end -->"
of DOCS.md with the Markdown report; without exactly one such pair, in that
order, nothing is written and the exit status is 2.

Exit status: 0; 1 (after every output is written) when a pattern lacks a
time for one of the three filesystems, the log has a bench-error line, a
malformed bench or info line, or no bench line at all, each reported on
stderr; 2 for bad arguments, an unreadable file or missing markers.
"""
import argparse
import datetime
import math
import re
import sys
from xml.sax.saxutils import escape

FSES = ("ext4", "xfs", "daxfs")
PEERS = ("ext4", "xfs")
COLUMN = {"ext4": "ext4-dax", "xfs": "xfs-dax", "daxfs": "daxfs"}
GROUPS = {"append": "writes", "overwrite": "writes", "mapsync": "faults"}
BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"


class Run:
    """What a log says: times, info values, errors and unreadable lines."""

    def __init__(self):
        self.times = {}   # pattern -> {fs: seconds}
        self.groups = {}  # group -> [pattern], both in first-seen order
        self.info = {}    # key -> {fs: value}, keys in first-seen order
        self.errors = []  # bench-error lines
        self.bad = []     # malformed bench and info lines


def group_of(pattern):
    word = pattern.split("-", 1)[0]
    return GROUPS.get(word, word)


def parse_log(path):
    run = Run()
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            add_line(run, line.strip(), f"{path}:{n}")
    return run


def add_line(run, line, where):
    words = line.split()
    if not words:
        return
    if words[0] == "bench-error":
        run.errors.append(line)
    elif words[0] == "bench":
        add_bench(run, words, where)
    elif words[0] == "info":
        add_info(run, words, where)


def seconds(word):
    try:
        t = float(word)
    except ValueError:
        return None
    return t if math.isfinite(t) and t >= 0 else None


def add_bench(run, words, where):
    t = seconds(words[3]) if len(words) == 4 else None
    if t is None or words[1] not in FSES:
        run.bad.append(f"{where}: malformed: {' '.join(words)}")
        return
    fs, pattern = words[1], words[2]
    if pattern not in run.times:
        run.times[pattern] = {}
        run.groups.setdefault(group_of(pattern), []).append(pattern)
    run.times[pattern][fs] = t


def add_info(run, words, where):
    if len(words) < 4 or words[1] not in FSES:
        run.bad.append(f"{where}: malformed: {' '.join(words)}")
        return
    run.info.setdefault(words[2], {})[words[1]] = " ".join(words[3:])


def problems(run):
    out = [] if run.times else ["no bench line in the log"]
    for pattern, times in run.times.items():
        missing = [COLUMN[fs] for fs in FSES if fs not in times]
        if missing:
            out.append(f"{pattern}: no time for {', '.join(missing)}")
    out += run.errors + run.bad
    return out


def ratio(times, peer):
    """daxfs time / peer time, None when either is missing or the peer's is 0."""
    d, p = times.get("daxfs"), times.get(peer)
    if d is None or p is None or p <= 0:
        return None
    return d / p


def fmt_time(t):
    """4 significant digits, trailing zeros kept: 0.1000, 12.00, 1234."""
    if t is None:
        return "-"
    s = f"{t:#.4g}"
    return s if "e" in s else s.rstrip(".")


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}"


def slower(r):
    """daxfs slower than the peer, as the two printed decimals say."""
    return r is not None and float(fmt_ratio(r)) > 1.0


def cell(text):
    """Text safe in a table cell: no column break, no HTML tag."""
    return re.sub(r"([\\|<])", r"\\\1", text)


def ratio_cell(r):
    return f"**{fmt_ratio(r)}**" if slower(r) else fmt_ratio(r)


def rows(run):
    """(group, pattern, times) in report order."""
    for group, patterns in run.groups.items():
        for pattern in patterns:
            yield group, pattern, run.times[pattern]


def bench_table(run):
    lines = ["| group | pattern | ext4-dax | xfs-dax | daxfs | daxfs/ext4 | daxfs/xfs |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for group, pattern, times in rows(run):
        cells = [cell(group), cell(pattern)]
        cells += [fmt_time(times.get(fs)) for fs in FSES]
        cells += [ratio_cell(ratio(times, peer)) for peer in PEERS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def info_table(run):
    lines = ["| key | ext4-dax | xfs-dax | daxfs |", "|---|---|---|---|"]
    for key, values in run.info.items():
        cells = [cell(key)] + [cell(values.get(fs, "-")) for fs in FSES]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def summary(run):
    parts = []
    for peer in PEERS:
        rs = [ratio(times, peer) for _, _, times in rows(run)]
        known = [r for r in rs if r is not None]
        n = sum(slower(r) for r in known)
        parts.append(f"{COLUMN[peer]} in {n} of {len(known)}")
    return ("daxfs is slower (ratio above 1.00) than " + " and than ".join(parts)
            + " patterns.")


def markdown(run, commit, date):
    lines = [f"Run of {date}, commit {commit} (TCG; seconds, smaller is better; "
             "ratio = daxfs time / peer time, below 1.00 daxfs is faster)", ""]
    lines += bench_table(run) + [""]
    if run.info:
        lines += info_table(run) + [""]
    lines.append(summary(run))
    return "\n".join(lines) + "\n"


# SVG: a row of two bars per pattern, log2(ratio) from LO to HI around 0.
WIDTH = 900
NAME_X = 210           # right edge of the pattern names
X0, X1 = 270, 830      # where log2 ratios LO and HI fall
LO, HI = -6, 4
TICKS = ((-6, "1/64"), (-4, "1/16"), (-2, "1/4"), (0, "1"), (2, "4"), (4, "16"))
TOP, ROW_H, GROUP_H, BAR_H, ARROW = 78, 26, 24, 9, 7
COLOURS = {"ext4": "#1f77b4", "xfs": "#e66100"}
INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def esc(text):
    return escape(INVALID_XML.sub("?", text))


def short(text, n=32):
    return text if len(text) <= n else text[:n - 1] + "\u2026"


def xpos(v):
    return X0 + (v - LO) * (X1 - X0) / (HI - LO)


def svg_text(x, y, text, extra=""):
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{esc(text)}</text>'


def svg_arrow(x, y, right, colour):
    tip = x + ARROW if right else x - ARROW
    pts = f"{x:.1f},{y:.1f} {tip:.1f},{y + BAR_H / 2:.1f} {x:.1f},{y + BAR_H:.1f}"
    return f'<polygon points="{pts}" fill="{colour}"/>'


def svg_bar(r, y, colour):
    """One ratio as a bar from 1 to r, its value at its end, arrowed if clipped."""
    if r is None:
        return [svg_text(xpos(0) + 4, y + 8, "n/a", ' font-size="10" fill="#888"')]
    v = math.log2(r) if r > 0 else -math.inf
    vc = min(max(v, LO), HI)
    a, b = sorted((xpos(0), xpos(vc)))
    out = [f'<rect x="{a:.1f}" y="{y:.1f}" width="{max(b - a, 1):.1f}" '
           f'height="{BAR_H}" fill="{colour}"/>']
    clipped = vc != v
    if clipped:
        out.append(svg_arrow(b if v > 0 else a, y, v > 0, colour))
    pad = 4 + (ARROW if clipped else 0)
    if v >= 0:
        out.append(svg_text(b + pad, y + 8, fmt_ratio(r), ' font-size="10"'))
    else:
        out.append(svg_text(a - pad, y + 8, fmt_ratio(r),
                            ' font-size="10" text-anchor="end"'))
    return out


def svg_row(pattern, times, y):
    tip = f"{pattern}: " + ", ".join(f"{COLUMN[fs]} {fmt_time(times.get(fs))} s"
                                      for fs in FSES)
    out = [f"<g><title>{esc(tip)}</title>",
           svg_text(NAME_X, y + ROW_H / 2 + 4, short(pattern), ' text-anchor="end"')]
    for i, peer in enumerate(PEERS):
        out += svg_bar(ratio(times, peer), y + 3 + i * (BAR_H + 2), COLOURS[peer])
    return out + ["</g>"]


def svg_rows(run):
    """Shading of every other row (drawn first), the group labels and
    pattern rows, and the y below the last row."""
    shades, out, y = [], [], TOP
    for group, patterns in run.groups.items():
        out.append(svg_text(12, y + GROUP_H - 7, group, ' font-weight="bold"'))
        y += GROUP_H
        for i, pattern in enumerate(patterns):
            if i % 2 == 0:
                shades.append(f'<rect x="0" y="{y}" width="{WIDTH}" height="{ROW_H}" '
                              'fill="#f3f3f3"/>')
            out += svg_row(pattern, run.times[pattern], y)
            y += ROW_H
    return shades, out, y


def svg_axis(top, bottom):
    out = []
    for v, label in TICKS:
        x = xpos(v)
        style = 'stroke="#333" stroke-width="1.5"' if v == 0 else \
            'stroke="#bbb" stroke-dasharray="3,3"'
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom:.1f}" {style}/>')
        out.append(svg_text(x, bottom + 16, label, ' text-anchor="middle"'))
    out.append(svg_text((X0 + X1) / 2, bottom + 34,
                        "daxfs time / peer time (log2 scale; right of 1: daxfs slower)",
                        ' text-anchor="middle" fill="#444"'))
    return out


def svg_head(commit, date):
    title = f"daxfs against ext4-dax and xfs-dax: run of {date}, commit {commit}"
    note = "TCG; ratio of times, below 1 daxfs is faster; bars beyond the scale end in an arrow"
    out = [svg_text(WIDTH / 2, 24, title,
                    ' text-anchor="middle" font-size="16" font-weight="bold"'),
           svg_text(WIDTH / 2, 42, note, ' text-anchor="middle" fill="#444"')]
    x = X0
    for peer in PEERS:
        out.append(f'<rect x="{x}" y="52" width="14" height="10" fill="{COLOURS[peer]}"/>')
        out.append(svg_text(x + 19, 61, f"daxfs/{COLUMN[peer]}"))
        x += 160
    return out


def svg(run, commit, date):
    shades, body, bottom = svg_rows(run)
    height = int(bottom + 46)
    title = f"daxfs benchmark ratios, {date}, commit {commit}"
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
             f"<title>{esc(title)}</title>",
             f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>']
    lines += svg_head(commit, date) + shades + svg_axis(TOP, bottom) + body
    return "\n".join(lines + ["</svg>"]) + "\n"


class DocsError(Exception):
    pass


def splice_docs(text, md):
    """DOCS text with md between the markers; DocsError without them."""
    lines = text.splitlines(keepends=True)
    begin = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    end = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begin) != 1 or len(end) != 1 or begin[0] > end[0]:
        raise DocsError(f"needs exactly one line {BEGIN!r} and, after it, "
                         f"one line {END!r}")
    head, tail = lines[:begin[0] + 1], lines[end[0]:]
    if not head[-1].endswith("\n"):
        head[-1] += "\n"
    return "".join(head) + "\n" + md + "\n" + "".join(tail)


def iso_date(text):
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise argparse.ArgumentTypeError(f"not YYYY-MM-DD: {text!r}")
    try:
        datetime.date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def commit_id(text):
    if not re.fullmatch(r"[\w.+/-]+", text):
        raise argparse.ArgumentTypeError(f"not a commit: {text!r}")
    return text


def parse_args(argv):
    p = argparse.ArgumentParser(description="Tabulate and chart a scripts/bench.sh log.")
    p.add_argument("log", metavar="LOG")
    p.add_argument("--commit", required=True, type=commit_id, metavar="SHA")
    p.add_argument("--date", required=True, type=iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--md", metavar="OUT.md")
    p.add_argument("--svg", metavar="OUT.svg")
    p.add_argument("--docs", metavar="DOCS.md")
    return p.parse_args(argv)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv=None):
    args = parse_args(argv)
    try:
        run = parse_log(args.log)
        md = markdown(run, args.commit, args.date)
        docs = splice_docs(read(args.docs), md) if args.docs else None
        if args.md:
            write(args.md, md)
        if args.svg:
            write(args.svg, svg(run, args.commit, args.date))
        if docs is not None:
            write(args.docs, docs)
    except (OSError, UnicodeDecodeError) as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 2
    except DocsError as e:
        print(f"report.py: {args.docs}: {e}; nothing written", file=sys.stderr)
        return 2
    sys.stdout.write(md)
    found = problems(run)
    for line in found:
        print(f"report.py: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
