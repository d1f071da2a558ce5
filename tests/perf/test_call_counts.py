"""A plan makes exactly the calls SPEC.md lists, counted by the emulator.

Per declared space one QueryChatappPhoneNumbers (ChatappSyncPhoneNumber with ``--sync``);
QueryChatappBindWaba only for spaces with a pending add or a ``waba:`` block;
QueryPhoneBusinessProfile only for live numbers declared with a ``profile:`` block; nothing
else. ``apply --plan`` re-reads only the spaces it adds to, with the calls the plan made.

Each test runs the real CLI (in-process, click's runner) against an emulator on a loopback
socket, fast enough never to throttle, and compares the emulator's per-action counts.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator import EmulatorApp, serve_in_thread
from reconciler.emulator.state import parse_state

LIST = "QueryChatappPhoneNumbers"
SYNC = "ChatappSyncPhoneNumber"
WABA = "QueryChatappBindWaba"
PROFILE = "QueryPhoneBusinessProfile"
ADD = "AddChatappPhoneNumber"

# Spaces, one per rule. Live numbers are digits (Cc + national number), declared ones E.164.
IN_SYNC = "100000000000001"       # every declared number live, no waba:, no profile:
PENDING = "100000000000002"       # one declared number missing: a pending add
WABA_BLOCK = "100000000000003"    # in sync, but declares a waba: block
PROFILES = "100000000000004"      # profile: on two live numbers and on one missing number
NO_NUMBERS = "100000000000005"    # declared with no numbers; has an unmanaged live number
UNDECLARED = "100000000000006"    # live, never declared: never read

APPROVED = {"Id": "20393988393993", "Name": "Acme", "AccountReviewStatus": "APPROVED"}


def _live(digits: str, name: str = "Line") -> dict[str, str]:
    return {"PhoneNumber": digits, "VerifiedName": name, "Status": "CONNECTED",
            "NameStatus": "APPROVED", "QualityRating": "GREEN"}


STATE: dict[str, Any] = {
    "spaces": {
        IN_SYNC: {"numbers": [_live("8613800000101"), _live("8613800000102")]},
        PENDING: {"waba": APPROVED, "numbers": [_live("8613800000201")]},
        WABA_BLOCK: {"waba": APPROVED, "numbers": [_live("8613800000301")]},
        PROFILES: {
            "waba": APPROVED,
            "numbers": [_live("8613800000401"), _live("8613800000402"),
                        _live("8613800000403"), _live("8613800000404")],
            "profiles": {"8613800000401": {"About": "One"}, "8613800000402": {"About": "Two"}},
        },
        NO_NUMBERS: {"numbers": [_live("8613800000501")]},
        UNDECLARED: {"waba": APPROVED, "numbers": [_live("8613800000601")]},
    },
}


def _number(e164: str, **extra: Any) -> dict[str, Any]:
    return {"phone": e164, "verified_name": "Line", **extra}


MANIFEST: dict[str, Any] = {
    "version": 1,
    "spaces": [
        {"id": IN_SYNC, "numbers": [_number("+8613800000101"), _number("+8613800000102")]},
        {"id": PENDING, "numbers": [_number("+8613800000201"), _number("+8613800000299")]},
        {"id": WABA_BLOCK, "waba": {"id": "20393988393993", "review_status": "APPROVED"},
         "numbers": [_number("+8613800000301")]},
        {"id": PROFILES, "numbers": [
            _number("+8613800000401", profile={"about": "One"}),
            _number("+8613800000402", profile={"about": "Changed"}),
            _number("+8613800000403"),                     # live, no profile: → not read
            _number("+8613800000499", profile={"about": "New"}),  # missing: nothing to read
        ]},                                                # ...0404 live, unmanaged: not read
        {"id": NO_NUMBERS, "numbers": []},
    ],
}

# What one plan of MANIFEST reads, space by space.
PLAN_CALLS: dict[str, Counter[str]] = {
    IN_SYNC: Counter({LIST: 1}),
    PENDING: Counter({LIST: 1, WABA: 1}),
    WABA_BLOCK: Counter({LIST: 1, WABA: 1}),
    PROFILES: Counter({LIST: 1, WABA: 1, PROFILE: 2}),
    NO_NUMBERS: Counter({LIST: 1}),
}


def _total(spaces: list[str], *, sync: bool = False) -> Counter[str]:
    total: Counter[str] = Counter()
    for space in spaces:
        total.update(PLAN_CALLS[space])
    if sync:
        total[SYNC], total[LIST] = total[LIST], 0
    return +total


class Account:
    """An emulator on 127.0.0.1 and a way to run camsctl against it."""

    def __init__(self, app: EmulatorApp, url: str, workdir: Path) -> None:
        self.app = app
        self.url = url
        self.workdir = workdir
        self.manifest = workdir / "manifest.json.yaml"
        self.manifest.write_text(json.dumps(MANIFEST), encoding="utf-8")  # JSON is YAML

    def calls(self) -> Counter[str]:
        """Calls received since the last look, per action; then starts counting afresh."""
        seen = +Counter(self.app.stats.calls)
        assert self.app.stats.throttled == 0 and not self.app.stats.rejected
        self.app.stats.calls.clear()
        return seen

    def run(self, *args: str) -> Result:
        env: Mapping[str, str | None] = {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "emulator",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "emulator-secret",
            "ALIBABA_CLOUD_SECURITY_TOKEN": None, "ALIBABA_CLOUD_PROFILE": None,
            "CAMSCTL_ENDPOINT": None, "GITHUB_STEP_SUMMARY": None,
        }
        return CliRunner().invoke(cli, ["--endpoint", self.url, "--qps", "500", *args],
                                  env=env, catch_exceptions=False)


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Account]:
    app = EmulatorApp(parse_state(json.loads(json.dumps(STATE))), qps=10_000)
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        yield Account(app, server.url, tmp_path)


def test_plan_reads_each_space_once_and_only_what_its_rules_need(account: Account) -> None:
    result = account.run("plan", str(account.manifest))
    assert result.exit_code == 0, result.output
    assert account.calls() == _total(list(PLAN_CALLS))
    assert sum(PLAN_CALLS[IN_SYNC].values()) == 1  # a space in sync costs one call


def test_plan_with_sync_lists_through_chatapp_sync_instead(account: Account) -> None:
    result = account.run("plan", "--sync", str(account.manifest))
    assert result.exit_code == 0, result.output
    calls = account.calls()
    assert calls == _total(list(PLAN_CALLS), sync=True)
    assert calls[LIST] == 0 and calls[SYNC] == len(PLAN_CALLS)


@pytest.mark.parametrize("space", list(PLAN_CALLS))
def test_each_rule_alone(account: Account, space: str) -> None:
    """One space selected with --space: exactly its own calls, nothing for the others."""
    result = account.run("plan", "--space", space, str(account.manifest))
    assert result.exit_code == 0, result.output
    assert account.calls() == PLAN_CALLS[space]


def test_drift_makes_the_same_calls_as_plan(account: Account) -> None:
    result = account.run("drift", str(account.manifest))
    assert result.exit_code != 1, result.output
    assert account.calls() == _total(list(PLAN_CALLS))


@pytest.mark.parametrize("sync", [False, True], ids=["list", "sync"])
def test_apply_plan_rereads_only_the_spaces_it_adds_to(account: Account, sync: bool) -> None:
    saved = account.workdir / "plan.json"
    flags = ["--sync"] if sync else []
    result = account.run("plan", *flags, "--out", str(saved), str(account.manifest))
    assert result.exit_code == 0, result.output
    assert account.calls() == _total(list(PLAN_CALLS), sync=sync)

    journal = account.workdir / "journal.jsonl"
    result = account.run("apply", "--plan", str(saved), "--journal", str(journal),
                         str(account.manifest))
    assert result.exit_code == 0, result.output
    assert "Apply complete: 2 added, 0 failed." in result.output
    # The two spaces with adds are read again, as the plan read them; then one add each.
    expected = _total([PENDING, PROFILES], sync=sync)
    expected[ADD] = 2
    assert account.calls() == expected


def test_apply_from_manifests_plans_then_adds(account: Account) -> None:
    journal = account.workdir / "journal.jsonl"
    result = account.run("apply", "--auto-approve", "--journal", str(journal),
                         str(account.manifest))
    assert result.exit_code == 0, result.output
    expected = _total(list(PLAN_CALLS))
    expected[ADD] = 2
    assert account.calls() == expected
    # Once applied, the formerly pending spaces no longer need their WABA read, and the
    # added number declared with a profile: is live now, so its profile is read.
    result = account.run("plan", str(account.manifest))
    assert result.exit_code == 0, result.output
    after = _total(list(PLAN_CALLS))
    after[WABA] -= 2
    after[PROFILE] += 1
    assert account.calls() == after
