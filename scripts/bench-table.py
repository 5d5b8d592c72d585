#!/usr/bin/env python3
"""Renders scripts/bench's JSON lines as one markdown table per capability.

python3 scripts/bench-table.py --date D --commit C --machine M --seconds S RESULTS.jsonl
"""
import argparse
import json
import sys

FIELDS = ("capability", "figure", "target", "value", "baseline", "limit", "met", "rounds", "load", "command")


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--date", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--seconds", type=int, required=True)
    ap.add_argument("results")
    a = ap.parse_args()
    rows, order = {}, []
    for n, line in enumerate(open(a.results), 1):
        line = line.strip()
        if not line:
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            sys.exit(f"{a.results}:{n}: not a JSON line ({e}): {line[:80]}")
        missing = [f for f in FIELDS if f not in r]
        if missing:
            sys.exit(f"{a.results}:{n}: missing {', '.join(missing)}")
        if r["capability"] not in rows:
            rows[r["capability"]] = []
            order.append(r["capability"])
        rows[r["capability"]].append(r)
    print(f"Measured {a.date} at `{a.commit}` on {a.machine}; the whole run took "
          f"{a.seconds // 60} min {a.seconds % 60} s.\n")
    for cap in order:
        print(f"### {cap}\n")
        print("| figure | target | today | same-run baseline | limit | met | rounds | load | command |")
        print("|---|---|---:|---|---|---|---:|---|---|")
        for r in rows[cap]:
            met = {True: "**met**", False: "**not met**", None: "—"}[r["met"]]
            print("| " + " | ".join(cell(x) for x in (
                r["figure"], r["target"], r["value"], r["baseline"], r["limit"], met,
                r["rounds"], r["load"], f"`{r['command']}`")) + " |")
        print()


if __name__ == "__main__":
    main()
