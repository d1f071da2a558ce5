"""Failing fast: how long and how many calls a plan of 300 spaces takes to fail account-wide.

Each case runs ``camsctl plan`` on 300 declared spaces (one number each) as a whole process
(interpreter start included), the way a CI job would meet it:

* ``wrong-secret``: an emulator on a loopback socket, at the documented 10 QPS per AccessKey,
  and an AccessKey secret that is not the key's; the calls are the emulator's count;
* ``dead-endpoint``: ``--endpoint http://127.0.0.1:1``, where nothing listens (connection
  refused: camsctl retries the first call, then stops);
* ``unknown-host``: ``--endpoint https://cams.invalid`` (the ``.invalid`` top-level domain never
  resolves; how long the resolver takes to say so depends on the machine).

Reported: wall seconds, calls that reached the emulator, and ``Error:`` lines on stderr.
Target (issue 13): at most 3 calls, at most 5 s, one error.

Run: ``.venv/bin/python benchmarks/bench_fail_fast.py`` (``--spaces N``, ``--repeat N``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_scale import ENV, REPO
from generate import write_account

from reconciler.emulator import EmulatorApp, load_state, serve_in_thread

CAMSCTL = [sys.executable, "-m", "reconciler"]


def _run(argv: list[str], secret: str) -> tuple[float, int, int]:
    """Wall seconds, exit code, and the number of ``Error:`` lines of one camsctl run."""
    started = time.perf_counter()
    child = subprocess.run([*CAMSCTL, *argv], capture_output=True, text=True, cwd=REPO,
                           env={**ENV, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret},
                           timeout=600, check=False)
    wall = time.perf_counter() - started
    errors = sum(line.startswith("Error:") for line in child.stderr.splitlines())
    return wall, child.returncode, errors


def measure(spaces: int, case: str) -> tuple[float, int, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        account = write_account(Path(tmp), spaces, spaces)
        manifest = str(account.manifest)
        if case == "wrong-secret":
            app = EmulatorApp(load_state(account.state), qps=10.0)
            with serve_in_thread(app, "127.0.0.1", 0) as server:
                wall, code, errors = _run(["--endpoint", server.url, "plan", manifest],
                                          secret="not-the-secret")
            calls = sum(app.stats.calls.values())
        else:
            endpoint = "http://127.0.0.1:1" if case == "dead-endpoint" \
                else "https://cams.invalid"
            wall, code, errors = _run(["--endpoint", endpoint, "plan", manifest],
                                      secret=ENV["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])
            calls = 0  # nothing answers: no call reaches a server
    return wall, calls, errors, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"| case ({args.spaces} spaces) | wall s (best, spread) | calls | Error: lines "
          "| exit |")
    print("|---|---:|---:|---:|---:|")
    for case in ("wrong-secret", "dead-endpoint", "unknown-host"):
        runs = [measure(args.spaces, case) for _ in range(args.repeat)]
        walls = [run[0] for run in runs]
        _, calls, errors, code = runs[0]
        print(f"| {case} | {min(walls):.2f} (±{(max(walls) - min(walls)) / 2:.2f}) | {calls} "
              f"| {errors} | {code} |", flush=True)


if __name__ == "__main__":
    main()
