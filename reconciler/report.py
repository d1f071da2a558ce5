"""The audit report: one self-contained HTML page that tells, from the drift ledger, how the
account has kept to its manifests over time.

Pure: ledger records and the run's moment in, a page out; no I/O and no clock (``camsctl
report`` reads the files and the clock). The page asks nothing of any other host: its style
and its chart (SVG) are inline, it runs no script, and its Content-Security-Policy forbids
loading anything, so even text that slipped through could not fetch or run a thing.

Everything read from a ledger is untrusted: every value goes through one of
:class:`_Escaper`'s methods (made visible, masked with ``mask`` unless it is an id or a date,
then HTML-escaped), every phone number through its ``phone``. This module's own words and
numbers are the only text left unescaped.

What the page says, and why:

* The report is about one account: the endpoint of the latest run. Runs against other
  endpoints are left out, and a note names them (mixing two accounts would make every count
  and every "since" wrong).
* A finding is *current* if the latest run that read its space found it: a run of ``plan
  --space`` or ``--changed-since`` tells nothing about the spaces it did not read. Since when
  it is open is :func:`reconciler.ledger.opened_at`'s answer, its age counted in days to the
  report's date.
* The chart has one point per run and category: what that run found, so a run that read
  only some spaces shows fewer findings (its tooltip says so).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.ledger import CATEGORIES, LedgerFinding, LedgerRecord, encode, opened_at
from reconciler.phone import mask_e164, mask_in_text
from reconciler.plan import FieldValue
from reconciler.signals import PENDING_STATUSES
from reconciler.views.text import visible

EXPIRY_WINDOW_DAYS = 14
"""Acknowledgements that end within this many days of the report's date are listed."""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""Nothing may be loaded or run: inline style only (and data: images, of which there are none)."""


@dataclass(frozen=True)
class Series:
    """How a category looks in the chart. The Okabe-Ito palette (safe for every common form of
    colour blindness), and each series also has its own marker shape and dash."""

    category: str
    name: str
    meaning: str
    colour: str
    shape: str
    dash: str


SERIES = (
    Series("drift", "Drift", "a declared value differs from the live one", "#D55E00",
           "circle", ""),
    Series("unmanaged", "Unmanaged", "a live number no manifest declares", "#0072B2",
           "square", "7 4"),
    Series("pending", "Pending", "WhatsApp is still verifying the number", "#B07800",
           "triangle", "2 3"),
    Series("acknowledged", "Acknowledged", "a known finding, accepted until a date", "#009E73",
           "diamond", "9 3 2 3"),
)
assert tuple(s.category for s in SERIES) == CATEGORIES

_SERIES = {s.category: s for s in SERIES}


# --- what the page is about (values, no HTML) --------------------------------------------------


@dataclass(frozen=True)
class OpenFinding:
    """A current finding, with since when it is open (None if the ledger cannot say)."""

    finding: LedgerFinding
    since: dt.date | None
    age: int | None

    @property
    def overdue_pending(self) -> bool:
        """A number pending past ``--pending-deadline``: the ledger holds it as drift of its
        status, live a status WhatsApp gives while it verifies."""
        f = self.finding
        return f.category == "drift" and f.field == "status" and f.actual in PENDING_STATUSES


@dataclass(frozen=True)
class Expiring:
    """An acknowledgement that ends soon (or has ended): ``days_left`` < 0 once it has;
    None when its date is not one."""

    finding: LedgerFinding
    days_left: int | None


@dataclass(frozen=True)
class Audit:
    """What the report shows, worked out from the ledger; the page only renders it."""

    endpoint: str | None
    runs: tuple[LedgerRecord, ...]
    """The runs of the endpoint reported on, oldest first."""
    ignored: tuple[tuple[str, int], ...]
    """Other endpoints in the ledgers and how many runs each."""
    open: tuple[OpenFinding, ...]
    """Current findings other than acknowledged ones, oldest first."""
    expiring: tuple[Expiring, ...]
    pending: tuple[OpenFinding, ...]
    """Pending numbers (and pending ones overdue, now drift), oldest first."""
    labels: dict[str, str]
    today: dt.date


def merge(ledgers: Iterable[Sequence[LedgerRecord]]) -> list[LedgerRecord]:
    """The runs of several ledgers as one history, ordered by time; a run found in two of
    them (the same ledger given twice, a copy) counts once."""
    seen: set[str] = set()
    runs = []
    for records in ledgers:
        for record in records:
            line = encode(record)
            if line not in seen:
                seen.add(line)
                runs.append(record)
    return sorted(runs, key=lambda r: r.moment)  # stable: equal moments keep file order


def _days(since: dt.date | None, today: dt.date) -> int | None:
    return None if since is None else max(0, (today - since).days)


def _age_order(item: OpenFinding) -> tuple[dt.date, str, str, str]:
    f = item.finding
    return (item.since or dt.date.max, f.space, f.phone or "", f.field)


def audit(records: Sequence[LedgerRecord], now: dt.datetime) -> Audit:
    """What the report says about ``records`` (any order) as of ``now``."""
    today = now.astimezone(dt.UTC).date()
    history = merge([records])
    if not history:
        return Audit(None, (), (), (), (), (), {}, today)
    endpoint = history[-1].endpoint
    runs = tuple(r for r in history if r.endpoint == endpoint)
    others = Counter(r.endpoint for r in history if r.endpoint != endpoint)
    # Each space as the latest run that read it saw it.
    latest: dict[str, LedgerRecord] = {}
    labels: dict[str, str] = {}
    for run in runs:
        for space in run.spaces:
            latest[space] = run
        labels.update(run.labels)
    current = [f for space, run in sorted(latest.items()) for f in run.findings
               if f.space == space]
    found = []
    for f in current:
        moment = opened_at(runs, f.key)
        since = None if moment is None else moment.astimezone(dt.UTC).date()
        found.append(OpenFinding(f, since, _days(since, today)))
    open_ = sorted((o for o in found if o.finding.category != "acknowledged"), key=_age_order)
    pending = tuple(o for o in open_ if o.finding.category == "pending" or o.overdue_pending)
    expiring = []
    for o in found:
        ack = o.finding.acknowledgement
        if o.finding.category != "acknowledged" or ack is None:
            continue
        try:
            left: int | None = (dt.date.fromisoformat(ack.until) - today).days
        except ValueError:
            left = None
        if left is None or left <= EXPIRY_WINDOW_DAYS:
            expiring.append(Expiring(o.finding, left))
    expiring.sort(key=lambda e: (e.days_left if e.days_left is not None else -math.inf,
                                 e.finding.space, e.finding.phone or "", e.finding.field))
    return Audit(endpoint, runs, tuple(sorted(others.items())), tuple(open_),
                 tuple(expiring), pending, labels, today)


def account(endpoint: str) -> str:
    """The endpoint as a reader names the account: its host (``cams.ap-southeast-1.aliyuncs.com``)
    rather than a URL, which the page has no reason to hold; other endpoints as they are."""
    for scheme in ("https://", "http://"):
        if endpoint.startswith(scheme):
            return endpoint.removeprefix(scheme).rstrip("/")
    return endpoint


def _count(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _age_words(days: int | None) -> str:
    if days is None:
        return "unknown"
    return "today" if days == 0 else _count(days, "day")


def headline(report: Audit) -> str:
    """One plain sentence: what is open, since when, and what needs a decision soon."""
    if not report.runs:
        return "The ledgers hold no runs yet."
    ages = [o.age for o in report.open if o.age is not None]
    if report.open:
        oldest = max(ages, default=None)
        opened = "opened today" if oldest == 0 else f"the oldest for {_age_words(oldest)}"
        words = f"{_count(len(report.open), 'finding')} open, {opened}"
    else:
        words = "No findings open"
    soon = sum(1 for e in report.expiring if e.days_left is None or e.days_left >= 0)
    ended = sum(1 for e in report.expiring if e.days_left is not None and e.days_left < 0)
    if soon:
        words += f"; {_count(soon, 'acknowledgement')} " \
                 f"{'expires' if soon == 1 else 'expire'} within {EXPIRY_WINDOW_DAYS} days"
    if ended:
        words += f"; {_count(ended, 'acknowledgement')} {'has' if ended == 1 else 'have'} expired"
    return words + "."


# --- escaping: every value from the ledger goes through one of these ------------------------


class _Escaper:
    def __init__(self, mask: bool) -> None:
        self.mask = mask

    def text(self, value: str) -> str:
        """Free text from the ledger (names, reasons, values, paths): controls made visible,
        phone-like digits masked with ``mask``, then escaped for HTML text and attributes."""
        shown = visible(value)
        return html.escape(mask_in_text(shown) if self.mask else shown, quote=True)

    def ident(self, value: str) -> str:
        """An identifier or a date (a space id, an acknowledgement's last day): never
        masked, escaped all the same."""
        return html.escape(visible(value), quote=True)

    def phone(self, e164: str | None) -> str:
        if e164 is None:
            return "WhatsApp Business Account"
        return self.text(mask_e164(e164) if self.mask else e164)


# --- plain-language descriptions ---------------------------------------------------------------


_TIERS = {"TIER_50": "50", "TIER_250": "250", "TIER_1K": "1,000", "TIER_10K": "10,000",
          "TIER_100K": "100,000", "TIER_UNLIMITED": "unlimited"}

_FIELD_NAMES = {
    "verified_name": "Display name", "status": "Status", "quality_rating": "Quality rating",
    "messaging_limit_tier": "Daily messaging limit",
}


def _field_name(field: str, e: _Escaper) -> str:
    if field in _FIELD_NAMES:
        return _FIELD_NAMES[field]
    if field.startswith("profile."):
        return f"Business profile “{e.text(field.removeprefix('profile.'))}”"
    if field.startswith("waba."):
        return f"Business account “{e.text(field.removeprefix('waba.'))}”"
    return f"“{e.text(field)}”"


def _value(value: FieldValue, e: _Escaper, *, quoted: bool = True) -> str:
    if value is None:
        return "<em>nothing</em>"
    if isinstance(value, tuple):
        return " or ".join(_value(v, e, quoted=quoted) for v in value) if value \
            else "<em>nothing</em>"
    shown = e.text(value)
    return f"“{shown}”" if quoted else f"<b>{shown}</b>"


def describe(f: LedgerFinding, e: _Escaper) -> str:
    """The finding in words a person without the manifests in mind can follow (HTML)."""
    if f.category == "unmanaged" or f.field == "unmanaged":
        return (f"A live number that no manifest declares (its status: "
                f"{_value(f.actual, e, quoted=False)})")
    if f.category == "pending" or (f.field == "status" and f.actual in PENDING_STATUSES):
        waiting = "WhatsApp is still verifying this number"
        if f.category != "pending":
            waiting += ", for longer than the allowed time"
        return f"{waiting} (status {_value(f.actual, e, quoted=False)})"
    name = _field_name(f.field, e)
    if f.field in ("status", "quality_rating"):
        return (f"{name} is {_value(f.actual, e, quoted=False)}; the manifest allows "
                f"{_value(f.expected, e, quoted=False)}")
    if f.field == "messaging_limit_tier" and isinstance(f.expected, str) \
            and isinstance(f.actual, str | None):
        def tier(value: str | None) -> str:
            if value is None:
                return "<em>unknown</em>"
            return f"<b>{_TIERS[value]}</b> conversations a day" if value in _TIERS \
                else _value(value, e)
        return (f"{name} is {tier(f.actual)}; the manifest asks for at least "
                f"{tier(f.expected)}")
    return f"{name} differs: declared {_value(f.expected, e)}, live {_value(f.actual, e)}"


# --- the chart -----------------------------------------------------------------------------------


_W, _H = 960, 320
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 48, 20, 52


def _nice_step(top: int, ticks: int = 4) -> int:
    """A step of 1, 2 or 5 times a power of ten, so that ``ticks`` steps reach ``top``."""
    rough = max(1.0, top / ticks)
    power = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 5, 10):
        if factor * power >= rough:
            return int(factor * power)
    raise AssertionError("unreachable")


def _marker(shape: str, x: float, y: float, r: float) -> tuple[str, str]:
    """The element name and geometry of a marker of ``shape`` centred at (x, y)."""
    if shape == "circle":
        return "circle", f'cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}"'
    if shape == "square":
        s = r * 0.9
        return "rect", f'x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s:.1f}" height="{2 * s:.1f}"'
    if shape == "triangle":
        t = r * 1.25
        return "polygon", (f'points="{x:.1f},{y - t:.1f} {x + t:.1f},{y + t * 0.8:.1f} '
                           f'{x - t:.1f},{y + t * 0.8:.1f}"')
    d = r * 1.3
    return "polygon", (f'points="{x:.1f},{y - d:.1f} {x + d:.1f},{y:.1f} {x:.1f},{y + d:.1f} '
                       f'{x - d:.1f},{y:.1f}"')


def _day(record: LedgerRecord) -> str:
    return record.moment.astimezone(dt.UTC).strftime("%Y-%m-%d")


def _when(record: LedgerRecord) -> str:
    return record.moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _partial(record: LedgerRecord) -> bool:
    return record.scope is not None


def chart(runs: Sequence[LedgerRecord]) -> str:
    """An SVG line chart: per category, one marker per run (``data-run``, counted from 1) at
    the number of findings that run recorded; dates along the bottom, counts up the side."""
    counts = [Counter(f.category for f in run.findings) for run in runs]
    top = max((c[s.category] for c in counts for s in SERIES), default=0)
    step = _nice_step(top)
    y_max = max(step * math.ceil(top / step), step)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    start, end = (runs[0].moment, runs[-1].moment) if runs else (None, None)
    span = (end - start).total_seconds() if start and end else 0.0

    def x_of(index: int) -> float:
        if len(runs) == 1:
            return _LEFT + plot_w / 2
        if span > 0 and start is not None:  # by time, so a missed night shows as a gap
            return _LEFT + plot_w * (runs[index].moment - start).total_seconds() / span
        return _LEFT + plot_w * index / (len(runs) - 1)

    def y_of(value: int) -> float:
        return _TOP + plot_h * (1 - value / y_max)

    parts = [f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" '
             'aria-labelledby="chart-title chart-desc">',
             '<title id="chart-title">Findings per category, run by run</title>',
             f'<desc id="chart-desc">{_count(len(runs), "run")}; one point per run for each '
             'of drift, unmanaged, pending and acknowledged.</desc>']
    for tick in range(0, y_max + 1, step):
        y = y_of(tick)
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text class="tick" x="{_LEFT - 10}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{tick}</text>')
    parts.append(f'<text class="axis-name" x="14" y="{_TOP + plot_h / 2:.0f}" '
                 f'transform="rotate(-90 14 {_TOP + plot_h / 2:.0f})" '
                 'text-anchor="middle">findings</text>')
    # Date labels: the first and last run, and as many between as fit without touching.
    labelled: list[float] = []
    candidates = [0, len(runs) - 1, *range(1, len(runs) - 1)] if runs else []
    for index in candidates:
        x = x_of(index)
        if all(abs(x - other) >= 96 for other in labelled) and \
                (index in (0, len(runs) - 1) or len(labelled) < 12):
            labelled.append(x)
            parts.append(f'<line class="tick-mark" x1="{x:.1f}" x2="{x:.1f}" '
                         f'y1="{_TOP + plot_h}" y2="{_TOP + plot_h + 5}"/>'
                         f'<text class="tick" x="{x:.1f}" y="{_TOP + plot_h + 22}" '
                         f'text-anchor="middle">{_day(runs[index])}</text>')
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_TOP + plot_h}" '
                 f'y2="{_TOP + plot_h}"/>')
    radius = 4.5 if len(runs) <= 60 else 3.0 if len(runs) <= 200 else 2.0
    # Where two series have the same count, their markers would hide each other: with room
    # enough, each series is nudged a few pixels sideways (under an hour on a week's chart),
    # and drift, what most needs acting on, is drawn last, on top.
    room = len(runs) <= 1 or plot_w / (len(runs) - 1) >= 40
    for series in reversed(SERIES):
        nudge = (SERIES.index(series) - 1.5) * 5.0 if room else 0.0
        points = [(x_of(i) + nudge, y_of(c[series.category])) for i, c in enumerate(counts)]
        dash = f' stroke-dasharray="{series.dash}"' if series.dash else ""
        parts.append(f'<g class="series{" dense" if radius < 4 else ""}" '
                     f'data-category="{series.category}" '
                     f'stroke="{series.colour}" fill="{series.colour}">')
        if len(points) > 1:
            line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline class="line" points="{line}" fill="none"{dash}/>')
        for index, ((x, y), run) in enumerate(zip(points, runs, strict=True), start=1):
            element, geometry = _marker(series.shape, x, y, radius)
            count = counts[index - 1][series.category]
            note = " (this run read only some spaces)" if _partial(run) else ""
            parts.append(f'<{element} class="point" data-run="{index}" '
                         f'data-category="{series.category}" data-count="{count}" {geometry}>'
                         f'<title>{_when(run)}: {_count(count, series.name.lower() + " finding")}'
                         f'{note}</title></{element}>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    items = []
    for s in SERIES:
        element, geometry = _marker(s.shape, 20, 8, 4.5)
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        items.append(
            '<li><svg class="swatch" viewBox="0 0 40 16" width="40" height="16" '
            'aria-hidden="true">'
            f'<line x1="2" x2="38" y1="8" y2="8" stroke="{s.colour}" stroke-width="2.5"{dash}/>'
            f'<{element} {geometry} fill="{s.colour}"/></svg>'
            f'<span><b>{s.name}</b>: {s.meaning}</span></li>')
    return f'<ul class="legend">{"".join(items)}</ul>'


def _chart_table(runs: Sequence[LedgerRecord]) -> str:
    rows = []
    for run in reversed(runs):
        counts = Counter(f.category for f in run.findings)
        cells = "".join(f'<td class="num">{counts[s.category]}</td>' for s in SERIES)
        note = " <small>(some spaces)</small>" if _partial(run) else ""
        rows.append(f"<tr><td>{_when(run)}{note}</td>{cells}</tr>")
    head = "".join(f'<th class="num">{s.name}</th>' for s in SERIES)
    return ('<details class="numbers"><summary>The numbers behind the chart</summary>'
            f'<table><thead><tr><th>Run</th>{head}</tr></thead><tbody>{"".join(rows)}'
            '</tbody></table></details>')


# --- the page --------------------------------------------------------------------------------


_CSS = """
:root { --ink: #1d2430; --muted: #5b6573; --line: #dde2e8; --soft: #f5f7fa; --accent: #0b5cad;
  --warn: #9a3412; --warn-bg: #fff4ec; --ok: #17663a; --ok-bg: #ecf8f0; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 32px 24px 48px; }
header { border-bottom: 1px solid var(--line); padding-bottom: 20px; margin-bottom: 8px; }
.kicker { margin: 0; color: var(--muted); font-size: 14px; letter-spacing: .04em;
  text-transform: uppercase; }
h1 { font-size: 30px; line-height: 1.2; margin: 4px 0 8px; }
h2 { font-size: 21px; margin: 40px 0 4px; }
.lead { margin: 0 0 16px; color: var(--muted); max-width: 48em; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 40px; margin: 0; }
.facts div { min-width: 0; max-width: 100%; }
.facts dt { font-size: 13px; color: var(--muted); }
.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.summary { margin: 24px 0 0; padding: 16px 20px; border-radius: 10px; font-size: 19px;
  font-weight: 600; background: var(--warn-bg); color: var(--warn); border: 1px solid #f6d5bf; }
.summary.calm { background: var(--ok-bg); color: var(--ok); border-color: #c5e8d1; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px;
  margin: 16px 0 0; padding: 0; list-style: none; }
.cards li { border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.cards b { display: block; font-size: 28px; line-height: 1.2; }
.cards span { color: var(--muted); font-size: 14px; }
.section-note { margin: 0 0 12px; color: var(--muted); max-width: 52em; }
.chart-box { border: 1px solid var(--line); border-radius: 10px; padding: 12px 12px 4px; }
.chart { display: block; width: 100%; height: auto; }
.chart .grid { stroke: #e8ecf0; stroke-width: 1; }
.chart .axis, .chart .tick-mark { stroke: #8a94a3; stroke-width: 1; }
.chart .tick { fill: var(--muted); font-size: 13px; }
.chart .axis-name { fill: var(--muted); font-size: 13px; }
.chart .line { stroke-width: 2.5; stroke-linejoin: round; }
.chart .point { stroke: #fff; stroke-width: 1.2; }
.chart .dense .point { stroke: none; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 24px; list-style: none; margin: 8px 4px 8px;
  padding: 0; font-size: 14px; }
.legend li { display: flex; align-items: center; gap: 8px; }
.legend .swatch { flex: none; }
.numbers { margin: 8px 4px 8px; font-size: 14px; }
.numbers summary { cursor: pointer; color: var(--accent); }
.numbers table { margin-top: 8px; max-width: 640px; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 10px; }
table { border-collapse: collapse; width: 100%; font-size: 15px; }
th, td { text-align: left; vertical-align: top; padding: 10px 12px;
  border-bottom: 1px solid var(--line); }
thead th { background: var(--soft); font-size: 13px; color: var(--muted); font-weight: 600;
  white-space: nowrap; }
tbody tr:last-child td { border-bottom: 0; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.nowrap { white-space: nowrap; }
table.open-findings td:first-child, table.expiring td:nth-child(3) { min-width: 16em; }
td.space, table.expiring td:nth-child(4) { overflow-wrap: anywhere; }
td.space { max-width: 16em; }
.number { font-variant-numeric: tabular-nums; white-space: nowrap; }
.space small, .where, .muted { color: var(--muted); }
.space small, small.block { display: block; font-size: 12px; white-space: nowrap; }
.block { display: block; }
.where { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  overflow-wrap: break-word; min-width: 12em; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; border: 1px solid currentColor; margin-right: 6px; white-space: nowrap; }
.badge.drift { color: #a8470a; background: #fff3ea; }
.badge.unmanaged { color: #005a8c; background: #eaf4fb; }
.badge.pending { color: #7a5500; background: #fff7e0; }
.badge.acknowledged { color: #00684d; background: #e8f7f1; }
.badge.expired { color: #fff; background: #b3261e; border-color: #b3261e; }
.badge.soon { color: #7a5500; background: #fff7e0; }
.empty { margin: 0; padding: 16px 20px; border: 1px dashed var(--line); border-radius: 10px;
  color: var(--ok); background: var(--ok-bg); }
.note { margin: 16px 0 0; padding: 12px 16px; border-left: 4px solid var(--accent);
  background: var(--soft); border-radius: 0 8px 8px 0; }
footer { margin-top: 48px; padding-top: 16px; border-top: 1px solid var(--line);
  color: var(--muted); font-size: 14px; }
footer dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
footer dt { font-weight: 600; color: var(--ink); }
footer dd { margin: 0; }
@media (max-width: 640px) {
  main { padding: 20px 14px 32px; }
  h1 { font-size: 24px; }
  th, td { padding: 8px; }
  footer dl { grid-template-columns: 1fr; }
}
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  .summary, .cards li, .chart-box, .table-wrap, .empty { break-inside: avoid; }
  .table-wrap { overflow: visible; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
  h2 { break-after: avoid; }
  .numbers { display: none; }
  tbody tr:nth-child(even) td { background: none; }
}
"""


def _space(space: str, labels: dict[str, str], e: _Escaper) -> str:
    label = labels.get(space)
    if label:
        return f'<td class="space">{e.text(label)} <small>{e.ident(space)}</small></td>'
    return f'<td class="space">{e.ident(space)}</td>'


def _where(source: str | None, e: _Escaper, missing: str = "in no manifest") -> str:
    if source is None:
        return f'<td class="where muted">{missing}</td>'
    # A break may come after each folder, never in the middle of a name.
    return f'<td class="where">{e.text(source).replace("/", "/<wbr>")}</td>'


def _since(item: OpenFinding) -> str:
    if item.since is None:
        return '<td class="nowrap">unknown</td><td class="num">&ndash;</td>'
    return (f'<td class="nowrap">{item.since.isoformat()}</td>'
            f'<td class="num nowrap">{_age_words(item.age)}</td>')


def _table(head: Sequence[tuple[str, str]], rows: Sequence[str], css: str) -> str:
    cells = "".join(f'<th class="{cls}" scope="col">{name}</th>' if cls
                    else f'<th scope="col">{name}</th>' for name, cls in head)
    return (f'<div class="table-wrap"><table class="{css}"><thead><tr>{cells}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _badge(category: str, overdue: bool = False) -> str:
    name = _SERIES[category].name if category in _SERIES else category
    if overdue:
        name = "Drift: pending too long"
    return f'<span class="badge {category}">{html.escape(name)}</span> '


def _open_section(report: Audit, e: _Escaper) -> str:
    rows = [f'<tr data-category="{o.finding.category}">'
            f'<td>{_badge(o.finding.category, o.overdue_pending)}'
            f'{describe(o.finding, e)}</td>'
            f'<td class="number">{e.phone(o.finding.phone)}</td>'
            f'{_space(o.finding.space, report.labels, e)}{_since(o)}'
            f'{_where(o.finding.source, e)}</tr>' for o in report.open]
    body = _table((("What differs", ""), ("Number", ""), ("Space", ""), ("Open since", ""),
                   ("Age", "num"), ("Where in the manifests", "")), rows, "open-findings") \
        if rows else '<p class="empty">No open findings: the account matches its manifests.</p>'
    return ('<section id="open"><h2>Open findings</h2><p class="section-note">What the latest '
            'audit found that differs from the manifests, oldest first. camsctl only reports '
            'these: someone decides whether to fix the account, change the manifest, or '
            'acknowledge the difference.</p>' + body + "</section>")


def _expiry_words(days_left: int | None) -> str:
    if days_left is None:
        return '<span class="badge expired">not a date</span>'
    if days_left < 0:
        return f'<span class="badge expired">expired</span> {_count(-days_left, "day")} ago'
    if days_left == 0:
        return '<span class="badge soon">last day</span> today'
    return f'<span class="badge soon">soon</span> in {_count(days_left, "day")}'


def _space_words(space: str, labels: dict[str, str], e: _Escaper) -> str:
    label = labels.get(space)
    return f"{e.text(label)} ({e.ident(space)})" if label else e.ident(space)


def _acknowledgement_section(report: Audit, e: _Escaper) -> str:
    rows = []
    for item in report.expiring:
        f = item.finding
        ack = f.acknowledgement
        assert ack is not None
        state = "expired" if item.days_left is None or item.days_left < 0 else "soon"
        rows.append(f'<tr data-expiry="{state}">'
                    f'<td class="nowrap"><b>{e.ident(ack.until)}</b><br>'
                    f'{_expiry_words(item.days_left)}</td>'
                    f'<td><span class="number">{e.phone(f.phone)}</span> '
                    f'<small class="block muted">{_space_words(f.space, report.labels, e)}'
                    f'</small></td><td>{describe(f, e)}</td>'
                    f'<td><b>{e.text(ack.owner)}</b> <span class="block">{e.text(ack.reason)}'
                    f'</span></td>{_where(ack.source, e, "not recorded")}</tr>')
    body = _table((("Until", ""), ("Number", ""), ("Finding", ""), ("Owner and reason", ""),
                   ("Written at", "")), rows, "expiring") if rows else (
        f'<p class="empty">No acknowledgement ends within {EXPIRY_WINDOW_DAYS} days.</p>')
    return ('<section id="acknowledgements"><h2>Acknowledgements ending soon</h2>'
            '<p class="section-note">An acknowledgement accepts a known difference until a '
            f'date. These end within {EXPIRY_WINDOW_DAYS} days (or have ended): after that the '
            'finding counts as drift again, unless someone renews or resolves it.</p>'
            + body + "</section>")


def _pending_section(report: Audit, e: _Escaper) -> str:
    late = ' <small class="muted">(pending too long: counted as drift)</small>'
    rows = [f'<tr><td class="number">{e.phone(o.finding.phone)}</td>'
            f'{_space(o.finding.space, report.labels, e)}'
            f'<td>{_value(o.finding.actual, e, quoted=False)}{late if o.overdue_pending else ""}'
            f'</td>{_since(o)}{_where(o.finding.source, e)}</tr>' for o in report.pending]
    body = _table((("Number", ""), ("Space", ""), ("Status", ""), ("Waiting since", ""),
                   ("Waiting", "num"), ("Declared at", "")), rows, "pending-numbers") \
        if rows else '<p class="empty">No numbers are waiting for WhatsApp.</p>'
    return ('<section id="pending"><h2>Numbers waiting for WhatsApp</h2>'
            '<p class="section-note">Every new number waits while WhatsApp verifies it; that '
            'is normal for a few days. Longest wait first.</p>' + body + "</section>")


def _cards(report: Audit) -> str:
    latest = report.runs[-1]
    oldest = max((o.age for o in report.open if o.age is not None), default=None)
    cards = [(str(len(report.open)), "findings open"),
             ("none" if oldest is None else _age_words(oldest), "oldest open finding"),
             (str(len(report.expiring)), f"acknowledgements ending within {EXPIRY_WINDOW_DAYS}"
                                         " days"),
             (str(len(report.pending)), "numbers waiting for WhatsApp"),
             (str(sum(1 for f in latest.findings if f.category == "acknowledged")),
              "acknowledged findings in the latest run")]
    return '<ul class="cards">' + "".join(f"<li><b>{value}</b><span>{what}</span></li>"
                                          for value, what in cards) + "</ul>"


def _notes(report: Audit, e: _Escaper) -> str:
    notes = []
    if report.ignored:
        others = ", ".join(f"{e.text(account(endpoint))} ({_count(count, 'run')})"
                           for endpoint, count in report.ignored)
        notes.append("The ledgers also hold runs against another account, left out of this "
                     f"report: {others}. Make a report from those runs alone to see them.")
    partial = sum(1 for run in report.runs if _partial(run))
    if partial:
        notes.append(f"{_count(partial, 'run')} read only some spaces (a pull-request plan or "
                     "<code>--space</code>): in the chart they show only what they read. "
                     "The tables use, for each space, the latest run that read it.")
    return "".join(f'<p class="note">{n}</p>' for n in notes)


def _glossary() -> str:
    terms = [(s.name, s.meaning[0].upper() + s.meaning[1:] + ".") for s in SERIES]
    terms += [("Age", "Days since the first run, in the latest unbroken series of runs, that "
                      "found the finding."),
              ("Where", "The manifest file, line and column that declares the number (or "
                        "writes the acknowledgement).")]
    items = "".join(f"<dt>{term}</dt><dd>{meaning}</dd>" for term, meaning in terms)
    return f"<dl>{items}</dl>"


def render(report: Audit, *, mask: bool) -> str:
    """The page (HTML5, UTF-8) of ``report``."""
    e = _Escaper(mask)
    generated = report.today.isoformat()
    head = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            f'<title>WhatsApp numbers audit report, {generated}</title>'
            f"<style>{_CSS}</style></head><body><main>")
    intro = ('<p class="kicker">camsctl audit report</p><h1>WhatsApp phone numbers: how the '
             'account matches its manifests</h1><p class="lead">At each audit run camsctl '
             'compares the phone numbers written down in the manifests with the ones live in '
             'the Alibaba Cloud account, and keeps a record. This page sums up that record. '
             'Nothing here was changed by camsctl: it only reports.</p>')
    if not report.runs:
        return (head + "<header>" + intro + '<p class="summary calm">The ledgers hold no runs '
                "yet: run <code>camsctl drift --ledger FILE</code> first.</p></header>"
                "</main></body></html>\n")
    first, last = report.runs[0], report.runs[-1]
    days = (last.moment.date() - first.moment.date()).days + 1
    period = _day(first) if days == 1 else f"{_day(first)} to {_day(last)} ({_count(days, 'day')})"
    assert report.endpoint is not None
    facts = [("Account", e.text(account(report.endpoint))), ("Period covered", period),
             ("Audit runs", str(len(report.runs))), ("Latest run", _when(last)),
             ("Report made on", generated)]
    if mask:
        facts.append(("Phone numbers", "partly hidden"))
    calm = " calm" if not report.open and not report.expiring else ""
    header = ("<header>" + intro + '<dl class="facts">'
              + "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
              + f'</dl><p class="summary{calm}">{html.escape(headline(report))}</p>'
              + _cards(report) + _notes(report, e) + "</header>")
    trend = ('<section id="trend"><h2>Findings over time</h2><p class="section-note">How many '
             'findings of each kind every audit run recorded. Hover over a point to see its '
             'date and count.</p><div class="chart-box">' + _legend() + chart(report.runs)
             + _chart_table(report.runs) + "</div></section>")
    footer = ("<footer><h2>How to read this report</h2>" + _glossary()
              + f"<p>Made by <code>camsctl report</code> on {generated} from "
              f"{_count(len(report.runs), 'ledger run')}. The page loads nothing from "
              "anywhere else and runs no scripts.</p></footer>")
    return (head + header + trend + _open_section(report, e)
            + _acknowledgement_section(report, e) + _pending_section(report, e) + footer
            + "</main></body></html>\n")


@dataclass(frozen=True)
class Report:
    html: str
    headline: str
    runs: int


def render_report(records: Sequence[LedgerRecord], *, now: dt.datetime,
                  mask: bool = False) -> Report:
    """The page of ``records`` (from one or several ledgers, any order) as of ``now``, and
    the sentence that sums it up."""
    report = audit(records, now)
    return Report(render(report, mask=mask), headline(report), len(report.runs))
