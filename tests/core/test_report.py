"""The audit report's pure core: ledger records in, one self-contained HTML page out.

No I/O and no clock: records are built here and the report's moment is passed in. The page is
read back with the standard library's HTML parser, so the tests see what a browser would
parse (elements, attributes, text), not just substrings.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from html.parser import HTMLParser

import pytest

from reconciler.ledger import LedgerAcknowledgement, LedgerFinding, LedgerRecord
from reconciler.report import CSP, audit, merge, render_report

ENDPOINT = "https://cams.ap-southeast-1.aliyuncs.com"
ACME, GLOBEX = "293483938849493", "120000000000001"
LABELS = {ACME: "acme-retail", GLOBEX: "globex-eu"}
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)

NAME = LedgerFinding(ACME, "+8613800005678", "verified_name", "drift", "Acme Retail", "ACME",
                     source="examples/manifests/acme-retail.yaml:21:9")
TIER = LedgerFinding(GLOBEX, "+442079460958", "messaging_limit_tier", "drift", "TIER_1K",
                     "TIER_250", source="examples/manifests/globex.yaml:16:9")
UNMANAGED = LedgerFinding(ACME, "+8613800009999", "unmanaged", "unmanaged", None, "CONNECTED")
PENDING = LedgerFinding(ACME, "+8613800002468", "status", "pending", ("CONNECTED",), "PENDING",
                        source="examples/manifests/acme-retail.yaml:28:9")
ROME = LedgerFinding(GLOBEX, "+390669881234", "status", "pending", ("CONNECTED",), "PENDING",
                     source="examples/manifests/globex.yaml:14:9")


def acknowledged(until: str, phone: str = "+8613800004321", reason: str = "appeal TKT-1234",
                 owner: str = "ops@acme.example") -> LedgerFinding:
    return LedgerFinding(ACME, phone, "status", "acknowledged", ("CONNECTED",), "FLAGGED",
                         LedgerAcknowledgement(reason, owner, until,
                                               "examples/manifests/acme-retail.yaml:32:5"),
                         source="examples/manifests/acme-retail.yaml:23:9")


def run(day: int, *findings: LedgerFinding, endpoint: str = ENDPOINT,
        spaces: tuple[str, ...] = (GLOBEX, ACME), labels: dict[str, str] | None = None,
        scope: dict[str, object] | None = None) -> LedgerRecord:
    """A run on 2026-11-``day`` at 02:00 UTC."""
    return LedgerRecord(time=f"2026-11-{day:02d}T02:00:00Z", endpoint=endpoint, scope=scope,
                        spaces=spaces, summary={}, findings=findings,
                        labels=LABELS if labels is None else labels)


def page(records: list[LedgerRecord], *, mask: bool = False, now: dt.datetime = NOW) -> str:
    return render_report(records, now=now, mask=mask).html


class Parsed(HTMLParser):
    """Every element with its attributes, every text node, and the rows of each table."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._in_body = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "table":
            self._table = attributes.get("class") or ""
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table is not None:
            self.tables[self._table].append([])
        elif tag == "td" and self._in_body:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())


def points(html: str) -> list[tuple[int, str, int]]:
    """The chart's markers: (run, category, count)."""
    return [(int(a["data-run"] or 0), a["data-category"] or "", int(a["data-count"] or 0))
            for _, a in Parsed(html).elements if a.get("class") == "point"]


HISTORY = [run(20, TIER, UNMANAGED, PENDING, acknowledged("2027-11-20")),
           run(21, TIER, NAME, UNMANAGED, PENDING, acknowledged("2027-11-20")),
           run(22, TIER, NAME, PENDING, acknowledged("2027-11-20")),
           run(23, TIER, NAME, PENDING, ROME, acknowledged("2027-11-20"))]


# --- the chart -------------------------------------------------------------------------------


@pytest.mark.parametrize("runs", [1, 2, 8, 365])
def test_the_chart_has_one_point_per_run_and_category(runs: int) -> None:
    history = [LedgerRecord(time=(NOW - dt.timedelta(days=runs - i)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"), endpoint=ENDPOINT, scope=None, spaces=(ACME,), summary={},
        findings=(NAME,) * (i % 3)) for i in range(runs)]
    found = points(page(history))
    assert Counter((r, c) for r, c, _ in found) == {
        (r, c): 1 for r in range(1, runs + 1)
        for c in ("drift", "unmanaged", "pending", "acknowledged")}
    assert {(r, n) for r, c, n in found if c == "drift"} == {(i + 1, i % 3)
                                                           for i in range(runs)}


def test_the_chart_counts_what_each_run_found_with_dates_and_tooltips() -> None:
    html = page(HISTORY)
    assert [(r, n) for r, c, n in points(html) if c == "pending"] == [(1, 1), (2, 1), (3, 1),
                                                                     (4, 2)]
    assert [(r, n) for r, c, n in points(html) if c == "unmanaged"] == [(1, 1), (2, 1), (3, 0),
                                                                       (4, 0)]
    parsed = Parsed(html)
    assert "2026-11-21 02:00 UTC: 2 drift findings" in parsed.texts
    assert "2026-11-23 02:00 UTC: 1 acknowledged finding" in parsed.texts
    assert "2026-11-20" in parsed.texts and "2026-11-23" in parsed.texts   # x axis
    # Every series is its own colour, marker shape and dash.
    series = [a for _, a in parsed.elements if (a.get("class") or "").startswith("series")]
    assert len({a["stroke"] for a in series}) == 4
    assert len({tag for tag, a in parsed.elements if a.get("class") == "point"}) >= 3
    assert len({a.get("stroke-dasharray") for a in parsed.tags("polyline")}) == 4


def test_hundreds_of_runs_get_a_few_date_labels_not_hundreds() -> None:
    history = [LedgerRecord(time=(NOW - dt.timedelta(days=300 - i)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"), endpoint=ENDPOINT, scope=None, spaces=(ACME,), summary={},
        findings=()) for i in range(300)]
    labels = [t for t in Parsed(page(history)).texts if re.fullmatch(r"\d{4}-\d\d-\d\d", t)]
    assert 2 <= len(labels) <= 12
    assert history[0].time[:10] in labels and history[-1].time[:10] in labels


# --- the tables ------------------------------------------------------------------------------


def test_open_findings_say_what_where_and_since_when_oldest_first() -> None:
    rows = Parsed(page(HISTORY)).tables["open-findings"]
    assert rows == [
        ["Drift Daily messaging limit is 250 conversations a day; the manifest asks for at "
         "least 1,000 conversations a day", "+442079460958", "globex-eu 120000000000001",
         "2026-11-20", "6 days", "examples/manifests/globex.yaml:16:9"],
        ["Pending WhatsApp is still verifying this number (status PENDING)",
         "+8613800002468", "acme-retail 293483938849493", "2026-11-20", "6 days",
         "examples/manifests/acme-retail.yaml:28:9"],
        ["Drift Display name differs: declared “Acme Retail”, live “ACME”", "+8613800005678",
         "acme-retail 293483938849493", "2026-11-21", "5 days",
         "examples/manifests/acme-retail.yaml:21:9"],
        ["Pending WhatsApp is still verifying this number (status PENDING)", "+390669881234",
         "globex-eu 120000000000001", "2026-11-23", "3 days",
         "examples/manifests/globex.yaml:14:9"],
    ]
    text = Parsed(page(HISTORY)).text
    assert "4 findings open, the oldest for 6 days." in text


@pytest.mark.parametrize(("days", "since", "age"), [
    ([20, 21, 22, 23, 24, 25, 26], "2026-11-20", "6 days"),
    ([26], "2026-11-26", "today"),
    ([20, 21, 23, 24], "2026-11-23", "3 days"),   # not found on the 22nd: open again since 23
])
def test_a_finding_is_open_since_the_latest_unbroken_series_of_runs(
        days: list[int], since: str, age: str) -> None:
    history = [run(day, NAME) if day in days else run(day) for day in range(20, max(days) + 1)]
    [row] = Parsed(page(history)).tables["open-findings"]
    assert row[3:5] == [since, age]


def test_a_run_that_did_not_read_a_space_neither_hides_nor_closes_its_findings() -> None:
    partial = run(24, spaces=(ACME,), scope={"changed_since": "main", "declared": 2,
                                             "read": [ACME]})
    html = page([run(22, TIER, NAME), partial])
    rows = Parsed(html).tables["open-findings"]
    assert [r[1] for r in rows] == ["+442079460958"]      # globex as the run of the 22nd saw it
    assert rows[0][3] == "2026-11-22"
    assert "1 run read only some spaces" in Parsed(html).text


@pytest.mark.parametrize(("until", "shown", "state"), [
    ("2026-11-25", "expired 1 day ago", "expired"),
    ("2026-11-26", "last day today", "soon"),
    ("2026-12-09", "soon in 13 days", "soon"),
    ("2026-12-10", "soon in 14 days", "soon"),
    ("2026-12-11", None, None),                  # 15 days: not yet
    ("2027-11-20", None, None),
    ("someday", "not a date", "expired"),        # not a date: shown, so someone looks
])
def test_acknowledgements_ending_within_14_days(until: str, shown: str | None,
                                                state: str | None) -> None:
    html = page([run(26, acknowledged(until))])
    rows = Parsed(html).tables.get("expiring", [])
    if shown is None:
        assert rows == []
        assert "No acknowledgement ends within 14 days." in Parsed(html).text
        return
    [row] = rows
    assert row[0] == f"{until} {shown}"
    assert row[1] == "+8613800004321 acme-retail (293483938849493)"
    assert row[2] == "Status is FLAGGED; the manifest allows CONNECTED"
    assert row[3] == "ops@acme.example appeal TKT-1234"
    assert row[4] == "examples/manifests/acme-retail.yaml:32:5"
    assert f'data-expiry="{state}"' in html


def test_the_headline_counts_acknowledgements_ending_and_ended() -> None:
    report = render_report([run(26, acknowledged("2026-12-01"),
                                acknowledged("2026-11-20", phone="+8613800001111"))], now=NOW)
    assert report.headline == ("No findings open; 1 acknowledgement expires within 14 days; "
                               "1 acknowledgement has expired.")
    rows = Parsed(report.html).tables["expiring"]
    assert [r[0] for r in rows] == ["2026-11-20 expired 6 days ago", "2026-12-01 soon in 5 days"]


def test_pending_numbers_longest_wait_first_with_overdue_ones_marked() -> None:
    overdue = LedgerFinding(ACME, "+8613800001111", "status", "drift", ("CONNECTED",),
                            "UNVERIFIED", source="m.yaml:9:9")
    history = [run(10, overdue), run(18, overdue, PENDING), run(25, overdue, PENDING, ROME)]
    rows = Parsed(page(history)).tables["pending-numbers"]
    assert [(r[0], r[3], r[4]) for r in rows] == [("+8613800001111", "2026-11-10", "16 days"),
                                                  ("+8613800002468", "2026-11-18", "8 days"),
                                                  ("+390669881234", "2026-11-25", "1 day")]
    assert rows[0][2] == "UNVERIFIED (pending too long: counted as drift)"


@pytest.mark.parametrize(("records", "words"), [
    ([run(26)], ["No findings open.", "No open findings", "No acknowledgement ends",
                 "No numbers are waiting for WhatsApp."]),
    ([], ["The ledgers hold no runs yet"]),
])
def test_empty_states_are_friendly(records: list[LedgerRecord], words: list[str]) -> None:
    html = page(records)
    text = Parsed(html).text
    for word in words:
        assert word in text
    if records:
        assert len(points(html)) == 4                      # one run: one point per category


def test_one_account_per_report_with_a_note_naming_the_others() -> None:
    other = "emulator:examples/live-state.yaml"
    history = [run(20, NAME, endpoint=other), run(21, TIER), run(22, NAME, endpoint=other),
               run(23, TIER)]
    report = audit(history, NOW)
    assert report.endpoint == ENDPOINT and len(report.runs) == 2
    assert report.ignored == ((other, 2),)
    text = Parsed(page(history)).text
    assert f"left out of this report: {other} (2 runs)" in text
    assert "cams.ap-southeast-1.aliyuncs.com" in text
    assert {r for r, _, _ in points(page(history))} == {1, 2}


def test_ledgers_are_merged_in_time_order_and_a_run_given_twice_counts_once() -> None:
    first, second = [HISTORY[0], HISTORY[2]], [HISTORY[1], HISTORY[3], HISTORY[2]]
    assert merge([first, second]) == HISTORY
    assert render_report([*second, *first], now=NOW).runs == 4


# --- masking, escaping, self-containment ------------------------------------------------------


PHONES = ["+8613800005678", "+442079460958", "+8613800009999", "+8613800002468",
          "+390669881234", "+8613800004321"]


def test_mask_numbers_hides_every_number_even_in_free_text() -> None:
    said = "told +86 138 0000 4321 and 8613800005678 about it"
    history = [*HISTORY, run(24, TIER, NAME, UNMANAGED, PENDING, ROME,
                              acknowledged("2026-12-01", reason=said),
                              LedgerFinding(ACME, "+8613800005678", "profile.about", "drift",
                                            "call 13800005678", "call +8613800005678"))]
    html = page(history, mask=True)
    for e164 in PHONES:
        digits = e164[1:]
        assert digits not in html and digits[-10:-4] not in html, e164
    assert "+86138****5678" in html and "+44207***0958" in html
    assert "told +86138****4321 and 86138****5678 about it" in html
    assert "Phone numbers" in Parsed(html).text and "partly hidden" in html
    assert ACME in html                    # a space id is no phone number: left as it is
    unmasked = page(history)
    assert all(e164 in unmasked for e164 in PHONES)


HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(2)>',
           "</style><svg onload=alert(3)>", "javascript:alert(4)", "\x1b[31m\u202e"]


@pytest.mark.parametrize("evil", HOSTILE)
def test_every_value_from_the_ledger_is_text_never_markup(evil: str) -> None:
    finding = LedgerFinding(evil, evil, evil, "drift", evil, (evil, evil), source=evil)
    ack = LedgerFinding(ACME, "+8613800004321", evil, "acknowledged", evil, evil,
                        LedgerAcknowledgement(evil, evil, evil, evil), source=evil)
    history = [LedgerRecord(time="2026-11-25T02:00:00Z", endpoint=evil, scope=None,
                            spaces=(evil, ACME), summary={}, findings=(finding, ack),
                            labels={evil: evil, ACME: evil})]
    html = page(history)
    parsed = Parsed(html)
    assert {tag for tag, _ in parsed.elements} <= {
        "html", "head", "meta", "title", "style", "body", "main", "header", "p", "h1", "h2",
        "dl", "div", "dt", "dd", "ul", "li", "b", "span", "svg", "desc", "line", "text", "g",
        "circle", "rect", "polygon", "polyline", "details", "summary", "table", "thead",
        "tbody", "tr", "th", "td", "small", "section", "br", "em", "code", "wbr", "footer"}
    for tag, attrs in parsed.elements:
        assert not any(name.startswith("on") or name in ("src", "href") for name in attrs), tag
        assert not any("alert" in (value or "") for value in attrs.values()), (tag, attrs)
    assert html.count("<style>") == 1 and html.count("</style>") == 1
    if evil.startswith("\x1b"):
        assert "\x1b" not in html and "\u202e" not in html and "\\x1b[31m\\u202e" in html
    else:
        assert evil in parsed.text                     # shown as written, as text


def test_the_page_asks_nothing_of_any_other_host() -> None:
    website = "https://globex.example"
    history = [*HISTORY, run(24, LedgerFinding(GLOBEX, "+442079460958", "profile.websites",
                                               "drift", (website,), ("http://old.example",)))]
    html = page(history)
    parsed = Parsed(html)
    [csp] = [a for a in parsed.tags("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp["content"] == CSP == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert not parsed.tags("script") and not parsed.tags("link") and not parsed.tags("img")
    for tag, attrs in parsed.elements:
        for name, value in attrs.items():
            assert name not in ("src", "href", "xmlns", "action", "srcset"), tag
            assert "//" not in (value or ""), (tag, name)
    assert "@import" not in html and "url(" not in html
    # The only URLs are values quoted from the ledger, as text; the endpoint is a host name.
    assert re.findall(r"https?://[^\s<&“”\"]*", html) == [website, "http://old.example"]
    assert "cams.ap-southeast-1.aliyuncs.com" in parsed.text
