"""Output hygiene, with no I/O: what the service says reaches a person as text, never as
terminal commands, Markdown or HTML; with masking on, no full number survives in free text.

Each view has one escaping function for its format (text: :func:`visible`; Markdown:
:func:`escape_markdown`; GitHub annotations: the workflow-command encoding in
:func:`annotation`), and every live value it prints goes through it. The manifests written by
``camsctl import`` quote every live value as a YAML scalar (:mod:`reconciler.importer`).
"""

from __future__ import annotations

import re
from types import MappingProxyType

import pytest
import yaml
from planbuild import desired, have, live, live_space, space, want

from reconciler.diagnostics import Location
from reconciler.importer import import_notes, render_manifest
from reconciler.live import LiveNumber, LiveSpace, LiveWaba
from reconciler.outcome import Outcome, Result
from reconciler.phone import from_live_digits, mask_in_text, parse_phone
from reconciler.plan import AddNumber, Plan, build_plan
from reconciler.views import GithubView, MarkdownView, TextView
from reconciler.views.markdown import escape_markdown
from reconciler.views.text import visible
from reconciler.views.wording import NO_CHANGES, outcome_line

FORGED = "Acme\n No changes. Live state matches the manifests.\x1b[2K"
"""A live name that, printed raw, erases a line and forges the in-sync summary."""

CONTROLS = "\x1b[2K\x1b]0;title\x07\x9b31m\x7f\x00\r\t\u202e\u2066\u2028\u2029"
"""ESC (CSI, OSC), BEL, C1 CSI, DEL, NUL, CR, TAB, bidi override and isolate, line and
paragraph separators."""

SURROGATE = "\ud800"
"""A lone surrogate, which JSON can carry and UTF-8 cannot encode."""

RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029"
                         "\ud800-\udfff]")
"""Any character a person's terminal could act on; LF only as the view's own line ends."""


def drifted_name_plan(name: str) -> Plan:
    return build_plan(desired(space("1", want("+86 138 0000 1234", "Acme"))),
                      live(live_space("1", have("8613800001234", name))))


def hostile_plan() -> Plan:
    """A declared number whose live status is hostile, and an unmanaged number whose listed
    phone, name and status are hostile."""
    unparseable = LiveNumber(phone=from_live_digits("1</details>`<img src=x>"),
                             verified_name="Old | *Line* [x](http://evil) " + CONTROLS,
                             status="</details><img src=x onerror=alert(1)>")
    return build_plan(
        desired(space("1", want("+86 138 0000 1234", "Acme"))),
        live(live_space("1", have("8613800001234", "Acme", "CONNECTED\n</details>\n# Owned"),
                        unparseable)))


def failed(reason: str, request_id: str | None = None) -> Outcome:
    add = AddNumber("293483938849493", parse_phone("+86 138 0000 1234"), "Acme",
                    Location("m.yaml", 12, 9))
    return Outcome(add, Result.FAILED, request_id=request_id, reason=reason)


# --- text -------------------------------------------------------------------------------------


def test_visible_names_every_control_and_keeps_ordinary_text() -> None:
    assert visible("Acme Retail Café 商店 مرحبا") == "Acme Retail Café 商店 مرحبا"
    assert visible(CONTROLS + SURROGATE) == ("\\x1b[2K\\x1b]0;title\\x07\\x9b31m\\x7f\\x00"
                                             "\\r\\t\\u202e\\u2066\\u2028\\u2029\\ud800")
    assert visible("a\nb") == "a\\nb"


def test_a_forged_summary_in_a_live_name_stays_on_its_drift_line() -> None:
    rendered = TextView().plan(drifted_name_plan(FORGED))
    assert "\x1b" not in rendered
    lines = rendered.splitlines()
    assert not any(line.strip().startswith("No changes.") for line in lines)
    drift = [line for line in lines if "verified_name:" in line]
    assert drift == ['  ~ +8613800001234  verified_name: "Acme" -> "Acme\\n No changes. Live '
                     'state matches the manifests.\\x1b[2K"  (m.yaml:10)']
    assert lines[-1] == "Plan: 0 to add, 1 drifted, 0 unmanaged."
    assert NO_CHANGES not in lines


@pytest.mark.parametrize("color", [False, True])
def test_text_plan_prints_no_raw_control_from_live_values(color: bool) -> None:
    rendered = TextView(color=color).plan(hostile_plan())
    if color:  # camsctl's own styles are the only escape sequences
        rendered = re.sub(r"\x1b\[[0-9;]*m", "", rendered)
    assert not RAW_CONTROL.search(rendered), rendered
    assert "\\u202e" in rendered and "\\x9b31m" in rendered and "\\u2028" in rendered
    assert "one of [CONNECTED] -> CONNECTED\\n</details>\\n# Owned" in rendered


def test_outcome_lines_make_the_service_s_words_visible() -> None:
    outcome = failed("Bad.Code\x1b[1A\x1b[2K: refused\nApply complete: 1 added, 0 failed.",
                     request_id="RID\x1b[2J")
    text = TextView().outcomes([outcome])
    assert "\x1b" not in text
    assert text.splitlines()[0].endswith("failed: Bad.Code\\x1b[1A\\x1b[2K: refused\\nApply "
                                         "complete: 1 added, 0 failed.")
    assert text.splitlines()[-1] == "Apply complete: 0 added, 1 failed."
    assert len(text.splitlines()) == 2


# --- markdown ---------------------------------------------------------------------------------


def test_escape_markdown_leaves_ordinary_values_and_neutralises_the_rest() -> None:
    assert escape_markdown("Acme Retail (HK) - Café, 商店") == "Acme Retail (HK) - Café, 商店"
    escaped = escape_markdown("</details><img src=x> | `code` *b* _i_ [l](u) ~~s~~ &amp; \\\n")
    assert not set(escaped) & set("<>|`*_[]~\n")
    assert "&amp;amp;" in escaped and "&#92;n" in escaped  # shown as \\n


def test_markdown_plan_escapes_hostile_statuses_and_unparseable_phones() -> None:
    rendered = MarkdownView().plan(hostile_plan())
    assert "<img" not in rendered and "# Owned" not in rendered.splitlines()
    assert rendered.count("</details>") == 1  # the section's own
    assert rendered.count("<details>") == 1
    assert not RAW_CONTROL.search(rendered)
    rows = [line for line in rendered.splitlines() if line.startswith("| `")]
    assert len(rows) == 2  # the drift and the unmanaged number, nothing else forged
    # Every row keeps its four cells: no live | splits one.
    for row in rows:
        cells = re.split(r"(?<!\\)\|", row)
        assert len(cells) == 6, row
    assert "&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;" in rendered


def test_markdown_keeps_code_spans_for_ordinary_values() -> None:
    rendered = MarkdownView().plan(drifted_name_plan("ACME"))
    assert "| `~` drift | `+8613800001234` | `verified_name`: \"Acme\" → \"ACME\" | " \
        "`m.yaml:10` |" in rendered


def test_markdown_outcomes_and_diagnostics_escape_what_they_quote() -> None:
    rendered = MarkdownView().outcomes([failed("Bad|Code: no <b>\n- forged item", "R`1")])
    assert "<b>" not in rendered and "\n- forged" not in rendered
    assert rendered.count("\n- ") == 1


# --- GitHub annotations -----------------------------------------------------------------------


def test_github_annotations_are_one_line_each_with_controls_visible() -> None:
    rendered = GithubView().plan(hostile_plan())
    lines = rendered.splitlines()
    assert all(line.startswith("::") for line in lines[:-1])
    assert lines[-1] == "Plan: 0 to add, 1 drifted, 1 unmanaged."
    assert not RAW_CONTROL.search(rendered)
    outcomes = GithubView().outcomes([failed("x\n::error::forged")])
    assert len(outcomes.splitlines()) == 2


# --- masking numbers inside free text ---------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("The phone number 8613800001234 already exists.",
     "The phone number 86138****1234 already exists."),
    ("number +86 138 0000 1234 is taken", "number +86138****1234 is taken"),
    ("call 138-0000-1234 now", "call 1380***1234 now"),
    ("HTTP 400 Code (RequestId 5C1E2F3A-0A1B-4C2D-9E8F-123456789012)",
     "HTTP 400 Code (RequestId 5C1E2F3A-0A1B-4C2D-9E8F-123456789012)"),
    ("space 42: 123456 is short", "space 42: 123456 is short"),
    ("sent at 2026-11-20T10:00:00Z", "sent at 2026-11-20T10:00:00Z"),
])
def test_mask_in_text_hides_phone_like_runs_only(text: str, expected: str) -> None:
    assert mask_in_text(text) == expected


def test_masked_outcome_lines_hide_numbers_in_the_service_s_message() -> None:
    outcome = failed("PhoneNumber.AlreadyExists: The phone number 8613800001234 already exists "
                     "in a WhatsApp Business Account. (RequestId 0AB1-77)")
    line = outcome_line(outcome, mask=True)
    assert "8613800001234" not in line and "13800001234" not in line
    assert line.startswith("+86138****1234 (space 293483938849493): failed: ")
    for view in (TextView(mask=True), MarkdownView(mask=True), GithubView(mask=True)):
        assert "13800001234" not in view.outcomes([outcome])
    assert "8613800001234" in outcome_line(outcome, mask=False)


# --- import: every live value a quoted YAML scalar --------------------------------------------


def _imported(*numbers: LiveNumber, waba: LiveWaba | None = None) -> str:
    spaces = [LiveSpace(id="293483938849493", waba_read=True, waba=waba,
                        numbers=MappingProxyType({n.phone.e164: n for n in numbers}))]
    return render_manifest(spaces, isv_code="isv\n- id: 1", schema_path="schema.json")


def _declared_numbers(text: str) -> list[dict[str, object]]:
    document = yaml.safe_load(text)
    assert list(document) == ["version", "spaces"]
    (only,) = document["spaces"]
    numbers: list[dict[str, object]] = only["numbers"]
    return numbers


YAML_SIGNIFICANT = 'x: y # not a comment, "quoted" \'single\' - [a] {b: c} &d *e !f %g @h |'
"""A name a manifest may hold that would change the YAML around it if written unquoted."""


def test_import_quotes_hostile_names_and_never_injects_a_number() -> None:
    # A name with a line break or a control is one a manifest refuses (the free-text rule):
    # left out, in a comment that holds it escaped, so the file still loads; never injected.
    name = 'Evil\n      - phone: "+8613900000001"\n        verified_name: Injected'
    text = _imported(have("8613800001234", name),
                     have("8613800005678", YAML_SIGNIFICANT, "FLAGGED"),
                     have("8613800004321", "Bidi \u202eevil\u2028" + CONTROLS + SURROGATE))
    numbers = _declared_numbers(text)
    assert numbers == [{"phone": "+8613800005678", "verified_name": YAML_SIGNIFICANT,
                        "status": ["FLAGGED"], "quality_rating": ["GREEN"]}]
    comments = [line.strip() for line in text.splitlines() if line.strip().startswith("#")]
    assert '# not imported: "+8613800001234": its verified name holds U+000A LINE FEED, ' \
        "which a manifest refuses in text" in comments
    assert '# not imported: "+8613800004321": its verified name holds U+202E RIGHT-TO-LEFT ' \
        "OVERRIDE, which a manifest refuses in text" in comments
    assert "+8613900000001" not in [n["phone"] for n in numbers]
    assert not RAW_CONTROL.search(text), text  # written as YAML escapes
    assert yaml.safe_load(text)["spaces"][0]["isv_code"] == "isv\n- id: 1"


def test_import_writes_well_formed_statuses_it_does_not_know_as_they_are() -> None:
    numbers = _declared_numbers(_imported(have("8613800001234", "Acme", "OFFLINE"),
                                          have("8613800005678", "Acme", "PAUSED")))
    assert [n["status"] for n in numbers] == [["OFFLINE"], ["PAUSED"]]
    assert [n["quality_rating"] for n in numbers] == [["GREEN"], ["GREEN"]]


@pytest.mark.parametrize("status", [
    "CONNECTED\n        - phone: \"+8613900000001\"", "connected", "NOT ALLOWED", "OK]",
    "BAD\x1b[2K", "", "_LEADING", "A-B"])
def test_import_never_writes_a_malformed_status(status: str) -> None:
    text = _imported(have("8613800001234", "Acme", status))
    numbers = _declared_numbers(text)
    assert numbers == [{"phone": "+8613800001234", "verified_name": "Acme",
                        "quality_rating": ["GREEN"]}]
    comments = [line.strip() for line in text.splitlines() if line.strip().startswith("#")]
    assert any("cannot be declared" in line for line in comments), text
    assert not RAW_CONTROL.search(text)
    notes = import_notes([LiveSpace(id="1", numbers=MappingProxyType(
        {"+8613800001234": have("8613800001234", "Acme", status)}))])
    assert len(notes) == 1 and "status" in notes[0]
    assert not RAW_CONTROL.search(notes[0])


def test_import_leaves_out_numbers_a_manifest_cannot_declare() -> None:
    text = _imported(have("8613800001234", "Acme"), have("999", "Too short"),
                     have("8613800005678", "   "))
    assert [n["phone"] for n in _declared_numbers(text)] == ["+8613800001234"]
    assert text.count("# not imported:") == 2
