"""Plan shapes: many numbers to add, and many small spaces; rendering linear in the plan's size.

Two accounts, each planned by ``camsctl --endpoint URL --qps 1000000 plan MANIFEST`` as a
whole process (interpreter start included) against an emulator on a loopback socket in this
process (no rate limit, no latency; it shares the machine's two cores with camsctl):

* ``missing``: 100,000 declared numbers in 1,000 spaces, none of them live (every number is
  an add; the plan also reads each space's WABA, as it does for spaces with adds);
* ``wide``: 10,000 spaces of 10 numbers, once all missing and once all in sync.

Then the views alone, in this process, on plans of 10,000 and 100,000 adds (100 per space):
the time per entry must stay flat (rendering is linear in the plan's size).

Run: ``.venv/bin/python benchmarks/bench_plan_shapes.py`` (``--repeat N``, ``--only NAME``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_scale import CAMSCTL, _measure_process
from generate import account_documents, write_account

from reconciler.emulator import EmulatorApp, load_state, serve_in_thread
from reconciler.live import Live, LiveSpace
from reconciler.loader import load
from reconciler.plan import build_plan
from reconciler.planfile import PlanMeta
from reconciler.views import GithubView, JsonView, MarkdownView, TextView

TODAY = dt.datetime.now(dt.UTC).date()  # the date of the run (no acknowledgements here)

WABA = {"Id": "1", "Name": "Bench", "AccountReviewStatus": "APPROVED"}


def _without_live_numbers(folder: Path) -> None:
    state_path = folder / "state.json"
    state: dict[str, Any] = json.loads(state_path.read_text(encoding="utf-8"))
    for space in state["spaces"].values():
        space["numbers"] = []
        space["waba"] = WABA
    state_path.write_text(json.dumps(state), encoding="utf-8")


def plan_process(folder: Path, spaces: int, numbers: int, missing: bool) -> dict[str, float]:
    account = write_account(folder, spaces, numbers)
    if missing:
        _without_live_numbers(folder)
    app = EmulatorApp(load_state(account.state), qps=1e9)
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        wall, rss, code = _measure_process([*CAMSCTL, "--endpoint", server.url, "--qps",
                                            "1000000", "plan", str(account.manifest)])
    assert code == 0, "plan failed"
    assert app.stats.calls["QueryChatappPhoneNumbers"] == spaces
    return {"wall_s": wall, "peak_mb": rss, "calls": float(sum(app.stats.calls.values()))}


def render_times(numbers: int, per_space: int = 100) -> dict[str, float]:
    """Seconds per view to render a plan of ``numbers`` adds (no I/O but the manifest)."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest, _ = account_documents(numbers // per_space, numbers)
        path = Path(tmp) / "m.json"
        path.write_text(json.dumps(manifest), encoding="utf-8")
        # JSON is YAML: the loader reads it as any manifest.
        yaml_path = path.with_suffix(".yaml")
        path.rename(yaml_path)
        desired = load([str(yaml_path)], today=TODAY).desired
    assert desired is not None
    live = Live(spaces={sid: LiveSpace(id=sid, numbers={}) for sid in desired.spaces})
    plan = build_plan(desired, live)
    meta = PlanMeta(created_at="2026-11-26T00:00:00Z", endpoint="http://127.0.0.1")
    result = {}
    for name, render in (("text", lambda: TextView().plan(plan)),
                         ("markdown", lambda: MarkdownView(limit=10**12).plan(plan)),
                         ("github", lambda: GithubView().plan(plan)),
                         ("json", lambda: JsonView().plan(plan, meta))):
        started = time.perf_counter()
        render()
        result[name] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", choices=["missing", "wide-missing", "wide-in-sync", "views"])
    args = parser.parse_args()
    shapes = {"missing": (1_000, 100_000, True), "wide-missing": (10_000, 100_000, True),
              "wide-in-sync": (10_000, 100_000, False)}
    for name, (spaces, numbers, missing) in shapes.items():
        if args.only not in (None, name):
            continue
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                row = plan_process(Path(tmp), spaces, numbers, missing)
            print(f"plan {name:13} {spaces:>6} spaces {numbers:>7} numbers: "
                  f"{row['wall_s']:6.2f} s, {row['peak_mb']:5.0f} MB, "
                  f"{row['calls']:.0f} calls", flush=True)
    if args.only in (None, "views"):
        for numbers in (10_000, 100_000):
            times = render_times(numbers)
            print(f"views {numbers:>7} adds: " + ", ".join(
                f"{name} {seconds:.3f} s ({seconds / numbers * 1e6:.1f} µs/entry)"
                for name, seconds in times.items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
