"""Engine scale: validate, build_plan and plan at 1k, 10k and 100k declared numbers.

For each size a generated account (100 numbers per space, all in sync) is written to a
temporary folder, then measured, each in a fresh process so peak memory is its own:

* ``validate``: ``camsctl validate MANIFEST`` as a user runs it: wall time of the whole
  process (interpreter start included) and its peak RSS;
* ``build_plan``: ``build_plan`` alone on the loaded desired state and a live state read
  beforehand: best time of 5, and the peak of what it allocates (tracemalloc);
* ``plan``: ``camsctl --endpoint URL --qps 1000000 plan MANIFEST`` against an emulator on a
  loopback socket with no rate limit and no latency (it runs in this process, sharing the
  machine's cores): wall time and peak RSS of the camsctl process.

Run: ``.venv/bin/python benchmarks/bench_scale.py`` (``--sizes 1000 10000``, ``--repeat N``,
``--only validate`` to measure one stage).
Profile one stage: ``.venv/bin/python benchmarks/bench_scale.py --profile validate
--sizes 100000`` (needs pyinstrument: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

from generate import Account, write_account

from reconciler.emulator import EmulatorApp, InProcessTransport, load_state, serve_in_thread
from reconciler.live import Live
from reconciler.loader import load
from reconciler.manifest import Desired
from reconciler.plan import build_plan

TODAY = dt.datetime.now(dt.UTC).date()  # the date of the run (no acknowledgements here)

REPO = Path(__file__).resolve().parent.parent
# camsctl, run so that it reports its own peak RSS (VmHWM) on exit: getrusage/wait4 would
# report at least this (big) benchmark process's RSS, which Linux carries across the exec.
_WRAPPER = """
import atexit, os, runpy, sys
def report():
    with open('/proc/self/status') as status, open(os.environ['BENCH_HWM'], 'w') as out:
        out.write(next(l for l in status if l.startswith('VmHWM')).split()[1])
atexit.register(report)
sys.argv[0] = 'camsctl'
runpy.run_module('reconciler', run_name='__main__')
"""
CAMSCTL = [sys.executable, "-c", _WRAPPER]
ENV = {**{k: v for k, v in os.environ.items()
          if not k.startswith(("ALIBABA_CLOUD_", "CAMSCTL_"))},
       "ALIBABA_CLOUD_ACCESS_KEY_ID": "emulator",
       "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "emulator-secret"}


def _measure_process(argv: list[str]) -> tuple[float, float, int]:
    """Run ``argv``; its wall seconds, peak RSS in MB, and exit code."""
    with tempfile.NamedTemporaryFile(prefix="hwm-") as hwm:
        started = time.perf_counter()
        child = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**ENV, "BENCH_HWM": hwm.name}, cwd=REPO, check=False)
        wall = time.perf_counter() - started
        if child.returncode != 0:
            sys.stderr.write(child.stderr.decode()[-2000:])
        peak_kb = float(Path(hwm.name).read_text() or 0)
    return wall, peak_kb / 1024, child.returncode


def _load(account: Account) -> Desired:
    loaded = load([str(account.manifest)], today=TODAY)
    assert loaded.desired is not None, loaded.diagnostics[:3]
    return loaded.desired


def _read_live(account: Account, desired: Desired) -> Live:
    from reconciler.api import open_client
    from reconciler.api.credentials import Credentials, StaticCredentials
    from reconciler.refresh import refresh

    app = EmulatorApp(load_state(account.state), qps=1e9)

    async def read() -> Live:
        async with open_client("http://localhost", qps=1e9, parallelism=16,
                               transport=InProcessTransport(app),
                               credentials=StaticCredentials(
                                   Credentials("emulator", "emulator-secret"))) as client:
            return await refresh(client, desired)
    return asyncio.run(read())


def child_build_plan(folder: str) -> None:
    """In a fresh process: time build_plan alone and trace what it allocates."""
    account = Account(Path(folder) / "manifest.yaml", Path(folder) / "state.json", 0, 0)
    desired = _load(account)
    live = _read_live(account, desired)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        plan = build_plan(desired, live)
        times.append(time.perf_counter() - started)
    assert not plan.adds and not plan.drift
    tracemalloc.start()
    build_plan(desired, live)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"best": min(times), "worst": max(times), "peak_mb": peak / 2**20}))


STAGES = ("validate", "build_plan", "plan")


def measure(account: Account, folder: Path, stages: Sequence[str] = STAGES) -> dict[str, float]:
    result: dict[str, float] = {}
    if "validate" in stages:
        wall, rss, code = _measure_process([*CAMSCTL, "validate", str(account.manifest)])
        assert code == 0, "validate failed"
        result["validate_s"], result["validate_mb"] = wall, rss
    if "build_plan" in stages:
        _measure_build_plan(folder, result)
    if "plan" in stages:
        _measure_plan(account, result)
    return result


def _measure_build_plan(folder: Path, result: dict[str, float]) -> None:
    out = subprocess.run([sys.executable, __file__, "--child-build-plan", str(folder)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    child = json.loads(out.stdout)
    result["build_plan_s"], result["build_plan_mb"] = child["best"], child["peak_mb"]


def _measure_plan(account: Account, result: dict[str, float]) -> None:
    app = EmulatorApp(load_state(account.state), qps=1e9)
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        wall, rss, code = _measure_process([*CAMSCTL, "--endpoint", server.url, "--qps",
                                            "1000000", "plan", str(account.manifest)])
    assert code == 0, "plan failed"
    assert app.stats.calls["QueryChatappPhoneNumbers"] == account.spaces
    result["plan_s"], result["plan_mb"] = wall, rss


def profile(stage: str, account: Account) -> None:
    from pyinstrument import Profiler

    work: Callable[[], object]
    if stage == "validate":
        def work() -> object:
            return load([str(account.manifest)], today=TODAY)
    elif stage == "build_plan":
        desired = _load(account)
        live = _read_live(account, desired)

        def work() -> object:
            return build_plan(desired, live)
    else:
        def work() -> object:
            desired = _load(account)
            return build_plan(desired, _read_live(account, desired))
    profiler = Profiler(interval=0.001)
    profiler.start()
    work()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--per-space", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", choices=STAGES, action="append",
                        help="measure only this stage (repeatable); all three by default")
    parser.add_argument("--profile", choices=STAGES)
    parser.add_argument("--child-build-plan", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_build_plan:
        child_build_plan(args.child_build_plan)
        return 0

    rows: list[tuple[int, int, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="camsctl-scale-") as tmp:
        for size in args.sizes:
            folder = Path(tmp) / str(size)
            account = write_account(folder, max(1, size // args.per_space), size)
            if args.profile:
                profile(args.profile, account)
                continue
            for attempt in range(args.repeat):
                result = measure(account, folder, args.only or STAGES)
                rows.append((size, account.spaces, result))
                print(f"[{attempt + 1}/{args.repeat}] {size} numbers: " + ", ".join(
                    f"{k} {v:.3f}" for k, v in result.items()), file=sys.stderr, flush=True)
    if args.profile:
        return 0
    print("\n| numbers | spaces | validate s | validate peak RSS MB | build_plan s "
          "| build_plan peak alloc MB | plan s | plan peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        runs = [r for n, _, r in rows if n == size]
        spaces = next(s for n, s, _ in rows if n == size)

        def cell(key: str, runs: list[dict[str, float]] = runs) -> str:
            values = [r[key] for r in runs if key in r]
            if not values:
                return "-"
            spread = max(values) - min(values)
            return f"{min(values):.3f} (±{spread:.3f})" if len(values) > 1 \
                else f"{values[0]:.3f}"
        print(f"| {size:,} | {spaces:,} | {cell('validate_s')} | {cell('validate_mb')} | "
              f"{cell('build_plan_s')} | {cell('build_plan_mb')} | {cell('plan_s')} | "
              f"{cell('plan_mb')} |")
    print("\nbest of the runs, (± the spread between best and worst)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
