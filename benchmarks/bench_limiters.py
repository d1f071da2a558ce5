"""The full refresh at the limit on any gateway algorithm (issue 15, part 2).

The service documents 10 calls per second per AccessKey, not how it counts them. For each of
the emulator's algorithms (``--limiter bucket|fixed|sliding``), at 10 QPS and 250 ms ± 20 %
latency (each part of it, on the way in and out, drawn uniformly within ±20 %, so evenly
paced calls reach the limit unevenly; ``--latency-inbound`` percent of it, 10 by default, is
spent before the limiter counts a call, 50 for the harsher model of earlier runs):

* ``refresh``: ``refresh`` + ``build_plan`` of 200 spaces in this process, the emulator on a
  loopback socket in a thread (``bench_refresh.run_ours``);
* ``process``: ``camsctl --endpoint URL plan`` of 100 spaces as a whole process (interpreter
  start included) against ``camsctl emulator serve`` as another process;
* ``shared``: 200 spaces (60 at 9 QPS) while a neighbour on the same AccessKey spends 3, 5,
  7 or 9 QPS and never slows down (``bench_refresh.run_shared``);
* ``adapt``: 200 spaces, the neighbour at 5 QPS leaves 12 s into our plan
  (``bench_refresh.run_adapt``): the rate must climb back to the ceiling.

``--latency-jitter 20 --latency-jitter 10`` runs refresh and process at both jitters (shared
at the first).

efficiency = successful calls / (wall s x the QPS available to us); throttled = answers
"Throttling.User" our client received. One table, every row from the same run.
Run: ``.venv/bin/python benchmarks/bench_limiters.py`` (~25 min; ``--only``, ``--limiter``,
``--repeat`` to narrow it).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_refresh import Gateway, Run, run_adapt, run_ours, run_shared
from bench_scale import CAMSCTL, ENV, REPO, TODAY
from generate import Account, write_account

from reconciler.loader import load
from reconciler.manifest import Desired

LIMITERS = ("bucket", "fixed", "sliding")
SERVE = [sys.executable, "-m", "reconciler", "emulator", "serve"]


def _desired(account: Account) -> Desired:
    loaded = load([str(account.manifest)], today=TODAY)
    assert loaded.desired is not None, loaded.diagnostics
    return loaded.desired


def run_process(account: Account, qps: float, latency_ms: float, limiter: str,
                jitter_percent: float, inbound_percent: float) -> Run:
    """``camsctl plan`` as a process against ``camsctl emulator serve`` as another."""
    server = subprocess.Popen(
        [*SERVE, "--state", str(account.state), "--port", "0", "--qps", f"{qps:g}",
         "--limiter", limiter, "--latency-ms", f"{latency_ms:g}",
         "--latency-jitter", f"{jitter_percent:g}", "--latency-inbound",
         f"{inbound_percent:g}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
    try:
        assert server.stderr is not None
        found = re.search(r"listening on (http://\S+)", server.stderr.readline())
        assert found, "the emulator did not start"
        url = found.group(1)
        started = time.perf_counter()
        child = subprocess.run([*CAMSCTL, "--endpoint", url, "--qps", f"{qps:g}", "plan",
                                str(account.manifest)], env={**ENV, "BENCH_HWM": "/dev/null"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               cwd=REPO, check=False)
        wall = time.perf_counter() - started
        with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=10) as answer:
            stats = json.load(answer)
    finally:
        server.terminate()
        server.wait(timeout=10)
    note = next((line for line in child.stderr.splitlines() if "throttled" in line), "")
    failed = 0 if child.returncode == 0 else account.spaces
    calls = stats["calls"].get("QueryChatappPhoneNumbers", 0) - stats["throttled"]
    return Run("camsctl plan, whole process", calls, wall, qps, stats["throttled"], failed,
               note.removeprefix("Note: ")[:80])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qps", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=250.0)
    parser.add_argument("--latency-jitter", type=float, action="append", metavar="PERCENT",
                        help="jitters of refresh and process (default 20; shared runs at the "
                             "first)")
    parser.add_argument("--latency-inbound", type=float, default=10.0, metavar="PERCENT",
                        help="share of the latency before the limiter counts a call")
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--limiter", choices=LIMITERS, action="append")
    parser.add_argument("--only", choices=["refresh", "process", "shared", "adapt"],
                        action="append")
    parser.add_argument("--neighbour-qps", type=float, action="append",
                        help="neighbours of the shared scenario (default 3, 5, 7, 9)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of refresh and process (shared runs once)")
    args = parser.parse_args()
    limiters = args.limiter or list(LIMITERS)
    scenarios = args.only or ["refresh", "process", "shared", "adapt"]
    neighbours = args.neighbour_qps or [3.0, 5.0, 7.0, 9.0]
    jitters = args.latency_jitter or [20.0]
    rows: list[tuple[str, float, str, Run]] = []

    def keep(limiter: str, jitter: float, label: str, run: Run) -> None:
        rows.append((limiter, jitter, label, run))
        print(f"{limiter:8} ±{jitter:<3g}% {label:24} {run.wall:7.2f} s  efficiency "
              f"{run.efficiency:.3f}  throttled {run.throttled}  failed {run.failed}  "
              f"{run.note}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="camsctl-bench-") as folder:
        accounts = {n: write_account(Path(folder) / str(n), n, 2 * n) for n in (60, 100, 200)}
        desired = {n: _desired(account) for n, account in accounts.items()}
        for jitter in jitters:
            for limiter in limiters:
                gateway = Gateway(limiter, jitter / 100, args.latency_inbound / 100)
                for attempt in range(args.repeat):
                    if "refresh" in scenarios:
                        keep(limiter, jitter, f"refresh 200 (run {attempt + 1})",
                             run_ours(accounts[200], desired[200], args.qps, args.latency_ms,
                                      args.parallelism, gateway))
                    if "process" in scenarios:
                        keep(limiter, jitter, f"process 100 (run {attempt + 1})",
                             run_process(accounts[100], args.qps, args.latency_ms, limiter,
                                         jitter, args.latency_inbound))
                if "shared" in scenarios and jitter == jitters[0]:
                    for neighbour in neighbours:
                        spaces = 60 if neighbour >= 9 else 200
                        keep(limiter, jitter, f"shared {spaces}, neighbour {neighbour:g}",
                             run_shared(accounts[spaces], desired[spaces], args.qps,
                                        args.latency_ms, args.parallelism, neighbour, gateway))
                if "adapt" in scenarios and jitter == jitters[0]:
                    keep(limiter, jitter, "neighbour 5 leaves after 12 s",
                         run_adapt(accounts[200], desired[200], args.qps, args.latency_ms,
                                   args.parallelism, 5.0, 12.0, gateway))

    print(f"\nemulator at {args.qps:g} QPS per key, {args.latency_ms:g} ms latency "
          f"({args.latency_inbound:g} % before the limiter); camsctl "
          f"--qps {args.qps:g} --parallelism {args.parallelism}\n")
    print("| limiter | jitter | scenario | calls | wall s | QPS available | efficiency "
          "| throttled | failed |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for limiter, jitter, label, run in rows:
        print(f"| {limiter} | ±{jitter:g} % | {label} | {run.calls} | {run.wall:.2f} | "
              f"{run.available_qps:.2f} | {run.efficiency:.3f} | {run.throttled} | "
              f"{run.failed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
