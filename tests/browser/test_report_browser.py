"""The audit report in a real browser: Debian's Chromium, driven by Playwright, opens the page
from a file and must fetch nothing, log no error, draw one point per run, show the findings,
and run nothing a hostile ledger smuggled in. Skipped, saying why, when Chromium or Playwright
is missing; a browser is never downloaded.

One browser for the module; a full-page screenshot is left in ``$CAMSCTL_TEST_ARTIFACTS`` (or
``test-artifacts/`` at the repository's root) for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reconciler.ledger import LedgerAcknowledgement, LedgerFinding, LedgerRecord
from reconciler.report import render_report
from tests.conftest import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

ACME, GLOBEX = "293483938849493", "120000000000001"
HOSTILE_LABEL = "<script>alert(1)</script><img src=x onerror=\"document.title='pwned'\">"
HOSTILE_REASON = "\"><img src=x onerror=alert(2)><iframe src=\"https://evil.example/\">"
NIGHTS = 9
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)

NAME = LedgerFinding(ACME, "+8613800005678", "verified_name", "drift", "Acme Retail", "ACME",
                     source="examples/manifests/acme-retail.yaml:21:9")
TIER = LedgerFinding(GLOBEX, "+442079460958", "messaging_limit_tier", "drift", "TIER_1K",
                     "TIER_250", source="examples/manifests/globex.yaml:16:9")
UNMANAGED = LedgerFinding(ACME, "+8613800009999", "unmanaged", "unmanaged", None, "CONNECTED")
PENDING = LedgerFinding(GLOBEX, "+390669881234", "status", "pending", ("CONNECTED",),
                        "PENDING", source="examples/manifests/globex.yaml:14:9")
ACKNOWLEDGED = LedgerFinding(
    ACME, "+8613800004321", "status", "acknowledged", ("CONNECTED",), "FLAGGED",
    LedgerAcknowledgement(HOSTILE_REASON, "ops@acme.example", "2026-12-04",
                          "examples/manifests/acme-retail.yaml:32:5"),
    source="examples/manifests/acme-retail.yaml:23:9")


def nights() -> list[LedgerRecord]:
    """Nine nightly runs, 2026-11-18 to 26: the name drifts from the 21st, the unmanaged
    number is gone from the 24th, the Rome line waits from the 25th."""
    runs = []
    for night in range(NIGHTS):
        day = dt.date(2026, 11, 18) + dt.timedelta(days=night)
        found = [TIER, ACKNOWLEDGED]
        if day.day >= 21:
            found.append(NAME)
        if day.day < 24:
            found.append(UNMANAGED)
        if day.day >= 25:
            found.append(PENDING)
        runs.append(LedgerRecord(time=f"{day.isoformat()}T02:00:00Z",
                                 endpoint="https://cams.ap-southeast-1.aliyuncs.com",
                                 scope=None, spaces=(GLOBEX, ACME), summary={},
                                 findings=tuple(found),
                                 labels={ACME: HOSTILE_LABEL, GLOBEX: "globex-eu"}))
    return runs


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed: pip install the dev lock file")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(nights(), now=NOW, mask=False).html, encoding="utf-8")
    return path


class Watched:
    """A page opened on the report, with everything it asked for and complained about."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda message: self.errors.append(message.text)
                if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._dialog)
        page.goto(url, wait_until="load")

    def _dialog(self, dialog: object) -> None:
        self.dialogs.append(getattr(dialog, "message", "?"))
        dialog.dismiss()  # type: ignore[attr-defined]


@pytest.fixture
def opened(browser: Browser, report_file: Path) -> Iterator[Watched]:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        yield Watched(page, report_file.as_uri())
    finally:
        page.close()


def test_the_page_fetches_nothing_and_logs_no_error(opened: Watched, report_file: Path) -> None:
    assert opened.requests == [report_file.as_uri()]
    assert opened.errors == []
    assert opened.page.title() == "WhatsApp numbers audit report, 2026-11-26"


def test_the_chart_has_one_point_per_run_and_category(opened: Watched) -> None:
    chart = opened.page.locator("svg.chart")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 900 and box["height"] > 250
    for category in ("drift", "unmanaged", "pending", "acknowledged"):
        markers = chart.locator(f'.point[data-category="{category}"]')
        assert markers.count() == NIGHTS
        runs = [markers.nth(i).get_attribute("data-run") for i in range(NIGHTS)]
        assert runs == [str(n) for n in range(1, NIGHTS + 1)]
    counts = chart.locator('.point[data-category="drift"]')
    assert [counts.nth(i).get_attribute("data-count") for i in range(NIGHTS)] == \
        ["1", "1", "1", "2", "2", "2", "2", "2", "2"]
    assert chart.locator('.point[data-run="4"][data-category="drift"] title').text_content() \
        == "2026-11-21 02:00 UTC: 2 drift findings"
    # Every point is drawn inside the chart, none off its edges.
    for i in range(0, NIGHTS * 4, 7):
        point = chart.locator(".point").nth(i).bounding_box()
        assert point is not None
        assert box["x"] <= point["x"] <= box["x"] + box["width"]
        assert box["y"] <= point["y"] <= box["y"] + box["height"]


def cells(page: Page, table: str) -> list[list[str]]:
    rows = page.locator(f"table.{table} tbody tr")
    return [[" ".join(text.split()) for text in rows.nth(i).locator("td").all_inner_texts()]
            for i in range(rows.count())]


def test_the_tables_hold_the_findings(opened: Watched) -> None:
    page = opened.page
    assert cells(page, "open-findings") == [
        ["Drift Daily messaging limit is 250 conversations a day; the manifest asks for at "
         "least 1,000 conversations a day", "+442079460958", "globex-eu 120000000000001",
         "2026-11-18", "8 days", "examples/manifests/globex.yaml:16:9"],
        ["Drift Display name differs: declared “Acme Retail”, live “ACME”", "+8613800005678",
         f"{HOSTILE_LABEL} {ACME}", "2026-11-21", "5 days",
         "examples/manifests/acme-retail.yaml:21:9"],
        ["Pending WhatsApp is still verifying this number (status PENDING)", "+390669881234",
         "globex-eu 120000000000001", "2026-11-25", "1 day",
         "examples/manifests/globex.yaml:14:9"],
    ]
    [expiring] = cells(page, "expiring")
    assert expiring[0] == "2026-12-04 soon in 8 days"
    assert expiring[3] == f"ops@acme.example {HOSTILE_REASON}"
    assert [row[0] for row in cells(page, "pending-numbers")] == ["+390669881234"]
    assert page.locator(".summary").inner_text() == (
        "3 findings open, the oldest for 8 days; 1 acknowledgement expires within 14 days.")


def test_a_hostile_label_or_reason_stays_text(opened: Watched) -> None:
    page = opened.page
    assert opened.dialogs == []
    assert page.title() != "pwned"
    assert page.locator("script, img, iframe, object, embed, link").count() == 0
    assert page.locator("td", has_text=HOSTILE_LABEL).count() == 2   # open, and expiring
    assert page.locator("td", has_text=HOSTILE_REASON).count() == 1
    assert opened.requests == [opened.page.url]


def test_a_narrow_screen_scrolls_tables_not_the_page(browser: Browser,
                                                     report_file: Path) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 800})
    try:
        page.goto(report_file.as_uri(), wait_until="load")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
    finally:
        page.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("CAMSCTL_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_screenshot_for_a_person_to_look_at(opened: Watched, artifacts: Path) -> None:
    shot = artifacts / "report-browser.png"
    opened.page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
