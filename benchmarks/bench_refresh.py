"""Refresh efficiency against the service's rate limit, alone and with a shared quota.

The emulator runs on a loopback socket with the service's limit (10 QPS per AccessKey) and a
latency of 250 ms. A generated account of ``--spaces`` spaces (all in sync, so a plan makes
exactly one QueryChatappPhoneNumbers per space) is planned by:

* ours: ``refresh`` + ``build_plan`` through camsctl's client at ``--qps 10``;
* the SDK peer: the official SDK (alibabacloud-cams20200606) calling
  QueryChatappPhoneNumbers once per space in a loop, as a user would write it;
* ours, shared: while a neighbour (a fixed-pace client on the same AccessKey that never
  slows down) spends ``--neighbour-qps`` of the quota.

efficiency = successful calls / (wall seconds x QPS available to us). Each scenario gets a
fresh emulator (a full token bucket). ``--limiter`` picks the emulator's algorithm and
``--latency-jitter`` varies its latency (``bench_limiters.py`` runs every algorithm).
Run: ``.venv/bin/python benchmarks/bench_refresh.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from alibabacloud_cams20200606 import models as sdk
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from generate import Account, space_id, write_account

from reconciler.api import open_client
from reconciler.api.credentials import Credentials, StaticCredentials
from reconciler.api.endpoint import resolve_endpoint
from reconciler.api.signing import RpcCall, sign_request
from reconciler.emulator import EmulatorApp, load_state, serve_in_thread
from reconciler.loader import load
from reconciler.manifest import Desired
from reconciler.plan import build_plan
from reconciler.refresh import RefreshError, refresh

TODAY = dt.datetime.now(dt.UTC).date()  # the date of the run (no acknowledgements here)

KEY = Credentials("emulator", "emulator-secret")
LIST = "QueryChatappPhoneNumbers"


@dataclass(frozen=True)
class Run:
    scenario: str
    calls: int  # successful calls of the measured client
    wall: float
    available_qps: float  # the QPS the measured client could use
    throttled: int  # throttled answers the measured client received
    failed: int  # calls that finally failed
    note: str = ""

    @property
    def efficiency(self) -> float:
        return self.calls / (self.wall * self.available_qps)


@dataclass(frozen=True)
class Gateway:
    """How the emulator counts and delays calls, beyond its QPS and mean latency."""

    limiter: str = "bucket"
    jitter: float = 0.0  # share of the latency, e.g. 0.2 for ±20 %
    inbound: float = 0.1  # share of the latency before the limiter counts a call


def _app(account: Account, qps: float, latency_ms: float, gateway: Gateway) -> EmulatorApp:
    return EmulatorApp(load_state(account.state), qps=qps, latency_ms=latency_ms,
                       limiter=gateway.limiter, latency_jitter=gateway.jitter,
                       latency_inbound=gateway.inbound)


@dataclass(frozen=True)
class Ours:
    started: float  # perf_counter at the start of the plan
    wall: float
    throttled: int  # throttled answers our client received
    cuts: int  # times the limiter cut its rate
    steps: int  # times the limiter stepped its margin under the ceiling
    failed: int  # spaces whose read finally failed
    done: tuple[float, ...]  # perf_counter of each space read
    rates: tuple[tuple[float, float], ...]  # (perf_counter, limiter rate), every 0.5 s


async def _ours(url: str, desired: Desired, qps: float, parallelism: int) -> Ours:
    async with open_client(url, credentials=StaticCredentials(KEY), qps=qps,
                           parallelism=parallelism) as client:
        done: list[float] = []
        rates: list[tuple[float, float]] = []

        async def sample() -> None:
            while True:
                rates.append((time.perf_counter(), client.flow.rate.rate))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        failed = 0
        try:
            live = await refresh(client, desired,
                                 progress=lambda _: done.append(time.perf_counter()))
        except RefreshError as error:  # counted and reported, as a user's CI would see it
            failed = len(error.failures)
        else:
            plan = build_plan(desired, live)
            assert not plan.adds and not plan.drift, "the generated account is in sync"
        wall = time.perf_counter() - started
        sampler.cancel()
        rate = client.flow.rate
        return Ours(started, wall, rate.throttled_answers, rate.cuts,
                    getattr(rate, "steps", 0), failed, tuple(done), tuple(rates))


def run_ours(account: Account, desired: Desired, qps: float, latency_ms: float,
             parallelism: int, gateway: Gateway = Gateway()) -> Run:
    app = _app(account, qps, latency_ms, gateway)
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        ours = asyncio.run(_ours(server.url, desired, qps, parallelism))
    calls = app.stats.calls[LIST] - app.stats.throttled
    return Run("camsctl plan", calls, ours.wall, qps, ours.throttled, ours.failed,
               f"parallelism {parallelism}; limiter cuts {ours.cuts}, margin steps "
               f"{ours.steps}")


def run_sdk(account: Account, qps: float, latency_ms: float,
            gateway: Gateway = Gateway()) -> Run:
    app = _app(account, qps, latency_ms, gateway)
    failed = 0
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        client = Client(Config(access_key_id=KEY.access_key_id,
                               access_key_secret=KEY.access_key_secret,
                               endpoint=f"127.0.0.1:{server.port}", protocol="http"))
        started = time.perf_counter()
        for index in range(account.spaces):
            request = sdk.QueryChatappPhoneNumbersRequest(cust_space_id=space_id(index))
            try:
                client.query_chatapp_phone_numbers(request)
            except Exception:  # a peer's failure is counted, not fatal
                failed += 1
        wall = time.perf_counter() - started
    ok = app.stats.calls[LIST] - app.stats.throttled - failed
    return Run("SDK loop (peer)", ok, wall, qps, app.stats.throttled, failed,
               "sequential, as a user writes it")


class Neighbour:
    """Another client of the same AccessKey, starting calls at a fixed pace whatever it is told
    (it re-sends a throttled call after ``x-acs-retry-after``, but never slows its pace).

    Runs in its own thread and event loop; counts its granted and throttled answers.
    """

    def __init__(self, url: str, qps: float) -> None:
        self._url = url
        self._interval = 1.0 / qps
        self._stop = threading.Event()  # stop starting calls (those under way finish)
        self._thread = threading.Thread(target=self._run, name="neighbour", daemon=True)
        self.granted: list[float] = []  # perf_counter of each granted answer
        self.throttled = 0

    def __enter__(self) -> Neighbour:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.leave()
        self._thread.join(timeout=30)

    def leave(self, after: float = 0.0) -> None:
        """Start no new call from ``after`` seconds on."""
        if after > 0:
            timer = threading.Timer(after, self._stop.set)
            timer.daemon = True
            timer.start()
        else:
            self._stop.set()

    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        host = resolve_endpoint(self._url, "ap-southeast-1").host
        call = RpcCall(action=LIST, params=(("CustSpaceId", space_id(0)),), host=host)
        pending: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(trust_env=False, timeout=30.0) as http:
            async def one() -> None:
                # A throttled call is sent again after x-acs-retry-after, so the neighbour's
                # demand stays at its pace: it really spends its share of the quota.
                for _ in range(50):
                    signed = sign_request(call, KEY, datetime.now(UTC), uuid.uuid4().hex)
                    response = await http.post(f"{self._url}/?{signed.query_string}",
                                               headers=signed.headers)
                    if response.status_code == 200:
                        self.granted.append(time.perf_counter())
                        return
                    self.throttled += 1
                    wait = float(response.headers.get("x-acs-retry-after", "100")) / 1000
                    await asyncio.sleep(wait)

            next_start = time.perf_counter()
            while not self._stop.is_set():
                task = asyncio.create_task(one())
                pending.add(task)
                task.add_done_callback(pending.discard)
                next_start += self._interval
                await asyncio.sleep(max(0.0, next_start - time.perf_counter()))
            await asyncio.gather(*pending, return_exceptions=True)


def run_shared(account: Account, desired: Desired, qps: float, latency_ms: float,
               parallelism: int, neighbour_qps: float, gateway: Gateway = Gateway()) -> Run:
    app = _app(account, qps, latency_ms, gateway)
    with serve_in_thread(app, "127.0.0.1", 0) as server, \
            Neighbour(server.url, neighbour_qps) as neighbour:
        time.sleep(2.0)  # the neighbour is already busy when we start
        started = time.perf_counter()
        ours = asyncio.run(_ours(server.url, desired, qps, parallelism))
        ended = started + ours.wall
    wall = ours.wall
    spent = sum(1 for t in neighbour.granted if started <= t <= ended) / wall
    share = qps - spent
    return Run("camsctl plan, shared key", account.spaces - ours.failed, wall, share,
               ours.throttled, ours.failed,
               f"neighbour spent {spent:.2f} QPS ({neighbour.throttled} of its calls "
               f"throttled); efficiency vs the {share:.2f} QPS left; vs the nominal "
               f"{qps - neighbour_qps:g}: {account.spaces / (wall * (qps - neighbour_qps)):.3f}"
               f"; our limiter cut its rate {ours.cuts} times, stepped its margin "
               f"{ours.steps} times")


def run_adapt(account: Account, desired: Desired, qps: float, latency_ms: float,
              parallelism: int, neighbour_qps: float, leaves_after: float,
              gateway: Gateway = Gateway()) -> Run:
    """The neighbour leaves ``leaves_after`` seconds into our plan: the limiter, cut while the
    quota was shared, must climb back to the ceiling."""
    app = _app(account, qps, latency_ms, gateway)
    with serve_in_thread(app, "127.0.0.1", 0) as server, \
            Neighbour(server.url, neighbour_qps) as neighbour:
        time.sleep(2.0)
        neighbour.leave(after=leaves_after)
        ours = asyncio.run(_ours(server.url, desired, qps, parallelism))
    left = ours.started + leaves_after
    ended = ours.started + ours.wall
    last_granted = max((t for t in neighbour.granted if t <= ended), default=left)
    shared = sum(1 for t in ours.done if t <= left) / leaves_after
    recovered = next((t - last_granted for t, r in ours.rates if t > last_granted
                      and r >= 0.95 * qps), float("nan"))
    tail_from = last_granted + (recovered if recovered == recovered else 0.0)
    alone = sum(1 for t in ours.done if t > tail_from) / max(1e-9, ended - tail_from)
    timeline = " ".join(f"{r:.1f}" for t, r in ours.rates[::4])
    spent = sum(1 for t in neighbour.granted if ours.started <= t <= ended)
    share = qps - spent / ours.wall
    return Run("camsctl plan, neighbour leaves", account.spaces - ours.failed, ours.wall,
               share, ours.throttled, ours.failed,
               f"our QPS while shared {shared:.2f}; limiter back at >= 95 % of --qps "
               f"{recovered:.1f} s after the neighbour's last call; our QPS from then "
               f"{alone:.2f}; limiter rate every 2 s: {timeline}")


def _table(runs: list[Run]) -> str:
    lines = ["| scenario | calls | wall s | QPS available | efficiency | throttled | failed "
             "| note |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        lines.append(f"| {r.scenario} | {r.calls} | {r.wall:.2f} | {r.available_qps:.2f} | "
                     f"{r.efficiency:.3f} | {r.throttled} | {r.failed} | {r.note} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spaces", type=int, default=200)
    parser.add_argument("--qps", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=250.0)
    parser.add_argument("--latency-jitter", type=float, default=0.0, metavar="PERCENT")
    parser.add_argument("--limiter", choices=["bucket", "fixed", "sliding"], default="bucket")
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--neighbour-qps", type=float, default=5.0)
    parser.add_argument("--leaves-after", type=float, default=12.0,
                        help="seconds into our plan when the neighbour leaves (scenario adapt)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", choices=["ours", "sdk", "shared", "adapt"], action="append")
    args = parser.parse_args()
    scenarios = args.only or ["ours", "sdk", "shared", "adapt"]
    gateway = Gateway(args.limiter, args.latency_jitter / 100)

    with tempfile.TemporaryDirectory(prefix="camsctl-bench-") as folder:
        account = write_account(Path(folder), args.spaces, args.spaces * 2)
        loaded = load([str(account.manifest)], today=TODAY)
        assert loaded.desired is not None, loaded.diagnostics
        desired = loaded.desired
        runs: list[Run] = []
        for attempt in range(args.repeat):
            for scenario in scenarios:
                if scenario == "ours":
                    run = run_ours(account, desired, args.qps, args.latency_ms,
                                   args.parallelism, gateway)
                elif scenario == "sdk":
                    run = run_sdk(account, args.qps, args.latency_ms, gateway)
                elif scenario == "shared":
                    run = run_shared(account, desired, args.qps, args.latency_ms,
                                     args.parallelism, args.neighbour_qps, gateway)
                else:
                    run = run_adapt(account, desired, args.qps, args.latency_ms,
                                    args.parallelism, args.neighbour_qps, args.leaves_after,
                                    gateway)
                runs.append(run)
                print(f"[{attempt + 1}/{args.repeat}] {run.scenario}: "
                      f"{run.wall:.2f} s, efficiency {run.efficiency:.3f}, "
                      f"throttled {run.throttled}, failed {run.failed}. {run.note}",
                      file=sys.stderr, flush=True)
    print(f"\n{args.spaces} spaces, emulator at {args.qps:g} QPS per key ({args.limiter}) "
          f"and {args.latency_ms:g} ms (±{args.latency_jitter:g} %) latency, camsctl --qps "
          f"{args.qps:g} --parallelism {args.parallelism}\n")
    print(_table(runs))
    by: dict[str, list[Run]] = {}
    for run in runs:
        by.setdefault(run.scenario, []).append(run)
    print()
    for scenario, group in by.items():
        walls = [r.wall for r in group]
        print(f"- {scenario}: best {min(walls):.2f} s, spread {max(walls) - min(walls):.2f} s,"
              f" efficiency best {max(r.efficiency for r in group):.3f}, mean "
              f"{statistics.mean(r.efficiency for r in group):.3f}")
    if "camsctl plan" in by and "SDK loop (peer)" in by:
        ours = min(r.wall for r in by["camsctl plan"])
        peer = min(r.wall for r in by["SDK loop (peer)"])
        print(f"- speed-up over the SDK loop (best vs best): {peer / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
