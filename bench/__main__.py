"""`make bench`: run every benchmark, print a table, write bench/results.json."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
from pathlib import Path

from bench.measure import meets

MODULES = ("bench.foundation", "bench.feeds", "bench.caldav", "bench.api", "bench.load")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--only", help="run only this module, e.g. foundation")
    options = parser.parse_args()
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite and PostgreSQL"
    if options.quick:
        machine += " (quick sizes)"
    path = Path(__file__).with_name("results.json")
    # --only replaces its own figures and keeps the other modules' ones.
    kept = json.loads(path.read_text())["results"] if options.only and path.exists() else {}
    results: dict[str, dict[str, object]] = {}
    for name in MODULES:
        if options.only and not name.endswith(options.only):
            continue
        module = importlib.import_module(name)
        results.update(module.run(quick=options.quick))
        # Written after each module: a module that fails later loses none of the figures before it.
        path.write_text(json.dumps({"machine": machine, "results": kept | results}, indent=2) + "\n")
    print(f"{'figure':52} {'value':>12} {'unit':10} {'floor':>10} {'ratio':>7} target")
    for name, record in results.items():
        verdict = {True: "ok", False: "MISSED", None: ""}[meets(record)]
        print(
            f"{name:52} {record['value']:>12} {record['unit']:10} {record.get('floor', ''):>10} "
            f"{record.get('ratio', ''):>7} {record.get('target', '')} {verdict}"
        )


if __name__ == "__main__":
    main()
