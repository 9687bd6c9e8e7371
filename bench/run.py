"""Run Kehu's benchmark scenarios.

    .venv/bin/python bench/run.py                 # every scenario in bench/scenarios/
    .venv/bin/python bench/run.py pages --quick   # one scenario, short durations (a smoke run)
    .venv/bin/python bench/run.py pages --database-url postgres://postgres@127.0.0.1:5432/kehu_bench

A scenario is a module in bench/scenarios/ exposing NAME, DESCRIPTION and run(args) -> dict, and
optionally add_arguments(parser) for its own options.  The dict it returns may hold "rows" (a list
of flat dicts), "tables" (a list of {"title", "columns"[, "rows"]}: the columns, each {"key",
"title"[, "format"]}, of the rows to print; without "tables", every scalar of the rows is printed)
and "notes" (lines printed under the tables).  The whole dict is written as JSON to
var/bench/<scenario>-<timestamp>.json.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
SCENARIO_DIR = BENCH_DIR / "scenarios"
DEFAULT_OUT_DIR = PROJECT_DIR / "var" / "bench"

if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import support  # noqa: E402  (bench/ on sys.path first)


def discover() -> dict:
    """Scenario modules of bench/scenarios/*.py (files starting with _ are skipped), by NAME."""
    found = {}
    for path in sorted(SCENARIO_DIR.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"kehu_bench_scenario_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for attr in ("NAME", "DESCRIPTION", "run"):
            if not hasattr(module, attr):
                raise SystemExit(f"{path}: a scenario must define {attr}")
        if module.NAME in found:
            raise SystemExit(f"{path}: scenario name {module.NAME!r} is used twice")
        found[module.NAME] = module
    return found


def parse_args(scenarios: dict, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Run Kehu's benchmark scenarios; results are printed and written to var/bench/.",
        epilog="scenarios: " + "; ".join(f"{n}: {m.DESCRIPTION}" for n, m in scenarios.items()),
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="names to run (default: all)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("KEHU_BENCH_DATABASE_URL") or None,
        help="default: a fresh SQLite file in a temporary folder. A postgres:// URL on 127.0.0.1 is "
        "created when missing and dropped afterwards; an existing one is reused and cleaned "
        "(env KEHU_BENCH_DATABASE_URL)",
    )
    parser.add_argument("--quick", action="store_true", help="short durations, for a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and database")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="default: var/bench/")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each scenario, wait up to SECONDS for other processes to leave the CPUs idle "
        "(under 0.25 cores busy); default 0: do not wait",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    for module in scenarios.values():
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    args = parser.parse_args(argv)
    unknown = [n for n in args.scenarios if n not in scenarios]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(scenarios) or 'none'}")
    return args


# --- printing -------------------------------------------------------------------------------


def _fmt(value, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if fmt:
        try:
            return fmt.format(value)
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) >= 0x1100 and not 0x2010 <= ord(ch) <= 0x27FF else 1 for ch in text)


def format_table(rows: list[dict], columns: list[dict] | None) -> str:
    if not rows:
        return "  (no rows)"
    if not columns:
        keys = [k for k, v in rows[0].items() if not isinstance(v, dict | list)]
        columns = [{"key": k, "title": k} for k in keys]
    cells = [[c["title"] for c in columns]]
    for row in rows:
        cells.append([_fmt(row.get(c["key"]), c.get("format")) for c in columns])
    widths = [max(_width(line[i]) for line in cells) for i in range(len(columns))]
    numeric = [
        all(isinstance(r.get(c["key"]), int | float) or r.get(c["key"]) is None for r in rows)
        for c in columns
    ]
    out = []
    for n, line in enumerate(cells):
        parts = []
        for i, text in enumerate(line):
            pad = " " * (widths[i] - _width(text))
            parts.append(pad + text if numeric[i] else text + pad)
        out.append("  " + "  ".join(parts).rstrip())
        if n == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(out)


def print_result(name: str, result: dict) -> None:
    tables = result.get("tables") or [{"columns": result.get("columns")}]
    for table in tables:
        print()
        if table.get("title"):
            print(f"  {table['title']}")
        print(format_table(table.get("rows", result.get("rows", [])), table.get("columns")))
    notes = result.get("notes") or []
    if notes:
        print()
        for note in notes:
            print(f"  {note}")


# --- results --------------------------------------------------------------------------------


def git_info() -> dict:
    """Commit and whether the tree has changes; read-only (no index refresh, no locks)."""

    def git(*a):
        return subprocess.run(
            ["git", "--no-optional-locks", *a], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=10
        )

    try:
        head = git("rev-parse", "HEAD")
        status = git("status", "--porcelain")
    except (OSError, subprocess.TimeoutExpired):
        return {}
    changes = status.stdout.splitlines() if status.returncode == 0 else None
    return {
        "commit": head.stdout.strip() if head.returncode == 0 else None,
        "dirty": bool(changes) if changes is not None else None,
        "changes": changes,  # uncommitted work measured along with the commit
    }


def environment() -> dict:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "loadavg_at_start": load,
        "git": git_info(),
    }


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _clean_floats(value):
    """JSON has no NaN: write null."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_floats(v) for v in value]
    return value


def write_json(out_dir: Path, name: str, record: dict) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"{name}-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = out_dir / f"{name}-{stamp}-{n}.json"
    path.write_text(
        json.dumps(_clean_floats(record), indent=2, ensure_ascii=False, default=_json_default) + "\n"
    )
    return path


def wait_quiet(limit: float) -> float | None:
    """Wait (at most ``limit`` seconds) until the machine is nearly idle; the last load seen, in cores."""
    deadline = time.monotonic() + limit
    while True:
        load = support.background_load(2.0)
        if load is None or load < 0.25 or time.monotonic() >= deadline:
            return load
        print(f"   waiting for a quiet machine: {load:.2f} cores busy", flush=True)


def main(argv: list[str] | None = None) -> int:
    scenarios = discover()
    args = parse_args(scenarios, sys.argv[1:] if argv is None else argv)
    if args.list:
        for name, module in scenarios.items():
            print(f"{name:<12} {module.DESCRIPTION}")
        return 0
    chosen = args.scenarios or list(scenarios)
    if not chosen:
        print("no scenarios in bench/scenarios/")
        return 1
    env_info = environment()
    database = support.mask_url(args.database_url) if args.database_url else "fresh SQLite file (temporary)"
    failed = []
    for name in chosen:
        module = scenarios[name]
        print(f"\n== {name}: {module.DESCRIPTION}")
        print(f"   database: {database}{'   (--quick)' if args.quick else ''}", flush=True)
        if args.wait_quiet > 0:
            load = wait_quiet(args.wait_quiet)
            if load is not None:
                print(f"   machine load before the scenario: {load:.2f} cores busy", flush=True)
        started = datetime.now().astimezone()
        t0 = time.perf_counter()
        try:
            result = module.run(args)
        except KeyboardInterrupt:
            print(f"\n{name}: interrupted")
            return 130
        except Exception as exc:
            failed.append(name)
            print(f"\n{name} FAILED: {exc}", file=sys.stderr)
            if not isinstance(exc, support.BenchError):
                traceback.print_exc()
            continue
        wall = time.perf_counter() - t0
        print_result(name, result)
        record = {
            "scenario": name,
            "description": module.DESCRIPTION,
            "started_at": started.isoformat(timespec="seconds"),
            "wall_seconds": round(wall, 2),
            "command": [Path(sys.argv[0]).as_posix(), *(sys.argv[1:] if argv is None else argv)],
            "options": {"database": database, "quick": args.quick},
            "environment": env_info,
            "result": result,
        }
        path = write_json(args.out_dir, name, record)
        try:
            shown = path.relative_to(PROJECT_DIR)
        except ValueError:
            shown = path
        print(f"\n  {name} took {wall:.0f} s; results written to {shown}")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
