"""A pull-request plan: what ``plan --changed-since`` costs when one space of many changed.

A git repository is made in a temporary folder with N declared spaces (one number each, in
files of 100 spaces, as an ISV might keep them), committed; then one number of one space is
renamed in the work tree, as a pull request would. ``camsctl plan --changed-since HEAD`` runs
as a whole process (interpreter start included) against an emulator on a loopback socket at
the documented 10 QPS; the full plan (no scope) is measured once for comparison.

Reported: wall seconds and the calls the emulator received. Target (issue 15): ≤ 3 calls and
≤ 3 s for 2,000 spaces; ≤ 5 s for 20,000.

Run: ``.venv/bin/python benchmarks/bench_pr_plan.py`` (``--spaces N``..., ``--repeat N``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_scale import ENV, REPO

from reconciler.emulator import EmulatorApp, serve_in_thread
from reconciler.emulator.state import parse_state

PER_FILE = 100


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _manifest(first: int, count: int, renamed: int | None) -> str:
    lines = ["version: 1", "spaces:"]
    for index in range(first, first + count):
        name = "Renamed line" if index == renamed else f"Line {index}"
        lines += [f'  - id: "{800000000000000 + index}"',
                  "    numbers:",
                  f'      - phone: "+86 139 {index // 10000:04d} {index % 10000:04d}"',
                  f"        verified_name: {name}"]
    return "\n".join(lines) + "\n"


def make_repo(root: Path, spaces: int) -> None:
    folder = root / "manifests"
    folder.mkdir(parents=True)
    for first in range(0, spaces, PER_FILE):
        (folder / f"spaces-{first:06d}.yaml").write_text(
            _manifest(first, min(PER_FILE, spaces - first), None), encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "-c", "user.email=b@example.com", "-c", "user.name=b", "add", "-A")
    _git(root, "-c", "user.email=b@example.com", "-c", "user.name=b", "commit", "-q", "-m", "x")
    changed = spaces // 2
    first = changed - changed % PER_FILE
    (folder / f"spaces-{first:06d}.yaml").write_text(
        _manifest(first, min(PER_FILE, spaces - first), changed), encoding="utf-8")


def run(root: Path, spaces: int, scoped: bool) -> tuple[float, int, int]:
    state = parse_state({"spaces": {str(800000000000000 + i): {"numbers": []}
                                    for i in range(spaces)}})
    app = EmulatorApp(state, qps=10.0)
    scope = ["--changed-since", "main"] if scoped else []
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        started = time.perf_counter()
        child = subprocess.run([sys.executable, "-m", "reconciler", "--endpoint", server.url,
                                "plan", *scope, "manifests"], cwd=root, env=ENV,
                               capture_output=True, text=True, check=False, timeout=3600)
        wall = time.perf_counter() - started
    if child.returncode != 0:
        sys.stderr.write(child.stderr[-2000:])
    return wall, sum(app.stats.calls.values()), child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--full", action="store_true",
                        help="also time the unscoped plan (200 s per 2,000 spaces)")
    args = parser.parse_args()
    assert REPO.exists()
    print("| declared spaces | plan | wall s (best, spread) | calls | exit |")
    print("|---:|---|---:|---:|---:|")
    for spaces in args.spaces:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_repo(root, spaces)
            for scoped in (True, False) if args.full else (True,):
                runs = [run(root, spaces, scoped) for _ in range(args.repeat if scoped else 1)]
                walls = [r[0] for r in runs]
                label = "`--changed-since main`, 1 space changed" if scoped else "full"
                print(f"| {spaces:,} | {label} | {min(walls):.2f} "
                      f"(±{(max(walls) - min(walls)) / 2:.2f}) | {runs[0][1]} | {runs[0][2]} |",
                      flush=True)


if __name__ == "__main__":
    main()
