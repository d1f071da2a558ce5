"""Make docs/report-example.html and docs/report.png: a week of nightly audits of the examples.

Eight nightly `camsctl drift --ledger` runs of examples/manifests against the built-in
emulator, each on its own date (SOURCE_DATE_EPOCH), with the emulator's state file edited
between nights so that the history tells a story:

- night 1: the example account, less the display-name drift;
- night 3: someone renames +86 138 0000 5678 to "ACME" in the console (drift appears);
- night 4: the London line's quality rating drops to RED, back to GREEN on night 6;
- night 5: the unmanaged "Old Line" is released (it leaves the account);
- night 6: the pending +86 138 0000 2468 connects;
- night 7: the Rome line is registered and starts its verification (pending).

The acknowledgement of the flagged number is made to end on 2026-12-04, so that the report,
made on 2026-11-26, lists it as ending soon. Then `camsctl report` writes the page, and
Chromium (Debian's, never a downloaded one) takes a full-page screenshot 1200 pixels wide.

Run from the repository: ``python docs/make_report_example.py [--mask-numbers]``; with
``--out-dir DIR`` the files go there instead of docs/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FIRST_NIGHT = dt.datetime(2026, 11, 19, 2, 0, tzinfo=dt.UTC)
REPORT_MOMENT = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
ACME, GLOBEX = "293483938849493", "120000000000001"

State = dict[str, Any]


def _number(state: State, space: str, digits: str) -> dict[str, Any]:
    numbers: list[dict[str, Any]] = state["spaces"][space]["numbers"]
    return next(n for n in numbers if n["PhoneNumber"] == digits)


def _night_1(state: State) -> None:
    _number(state, ACME, "8613800005678")["VerifiedName"] = "Acme Retail"


def _night_3(state: State) -> None:
    _number(state, ACME, "8613800005678")["VerifiedName"] = "ACME"


def _night_4(state: State) -> None:
    _number(state, GLOBEX, "442079460958")["QualityRating"] = "RED"


def _night_5(state: State) -> None:
    numbers = state["spaces"][ACME]["numbers"]
    numbers[:] = [n for n in numbers if n["PhoneNumber"] != "8613800009999"]


def _night_6(state: State) -> None:
    _number(state, GLOBEX, "442079460958")["QualityRating"] = "GREEN"
    _number(state, ACME, "8613800002468").update(
        Status="CONNECTED", NameStatus="APPROVED", QualityRating="GREEN")


def _night_7(state: State) -> None:
    state["spaces"][GLOBEX]["numbers"].append(
        {"PhoneNumber": "390669881234", "VerifiedName": "Globex Italia", "Status": "PENDING",
         "NameStatus": "PENDING_REVIEW", "QualityRating": "UNKNOWN"})


CHANGES: dict[int, Callable[[State], None]] = {
    1: _night_1, 3: _night_3, 4: _night_4, 5: _night_5, 6: _night_6, 7: _night_7}


def camsctl(work: Path, moment: dt.datetime, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(int(moment.timestamp())),
           "PYTHONPATH": str(REPO)}
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "reconciler", "--no-color", *args], cwd=work,
                          env=env, text=True, capture_output=True, check=False)


def make_ledger(work: Path) -> Path:
    """Eight nights of `drift --ledger` in ``work``; the ledger's path."""
    shutil.copytree(REPO / "examples" / "manifests", work / "examples" / "manifests")
    acme = work / "examples" / "manifests" / "acme-retail.yaml"
    acme.write_text(acme.read_text(encoding="utf-8").replace("until: 2027-11-20",
                                                              "until: 2026-12-04"),
                    encoding="utf-8")
    state: State = yaml.safe_load((REPO / "examples" / "live-state.yaml")
                                  .read_text(encoding="utf-8"))
    ledger = work / "audit" / "ledger.jsonl"
    for night in range(1, 9):
        if night in CHANGES:
            CHANGES[night](state)
        # The same file, edited: the emulator starts again from it (and the endpoint, which
        # names the file, stays the same account).
        (work / "live-state.yaml").write_text(yaml.safe_dump(state, sort_keys=False),
                                              encoding="utf-8")
        moment = FIRST_NIGHT + dt.timedelta(days=night - 1)
        done = camsctl(work, moment, "--emulator", "live-state.yaml", "drift",
                       "examples/manifests", "--ledger", "audit/ledger.jsonl")
        if done.returncode not in range(0, 32):  # drift's exit code says what it found
            sys.exit(f"night {night}: camsctl drift failed:\n{done.stderr}")
    return ledger


def screenshot(page_file: Path, png: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(page_file.resolve().as_uri())
            page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mask-numbers", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs")
    options = parser.parse_args()
    out_dir: Path = options.out_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="camsctl-report-example-") as folder:
        work = Path(folder)
        make_ledger(work)
        page = out_dir / "report-example.html"
        args = ["report", "audit/ledger.jsonl", "-o", str(page)]
        done = camsctl(work, REPORT_MOMENT, *args,
                       *(["--mask-numbers"] if options.mask_numbers else []))
        if done.returncode != 0:
            sys.exit(f"camsctl report failed:\n{done.stderr}")
        print(done.stdout, end="")
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing (apt-get install chromium); no screenshot taken.")
    screenshot(page, out_dir / "report.png")
    print(f"Wrote {out_dir / 'report.png'}.")


if __name__ == "__main__":
    main()
