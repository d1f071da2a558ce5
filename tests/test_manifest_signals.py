"""Health expectations and acknowledgements in manifests (issue 14): what loads, into which
values, and every located error, against a fixed date of the run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.diagnostics import Location, Severity
from reconciler.loader import LoadResult, load
from reconciler.manifest import acknowledgeable_fields
from reconciler.schemas import load_schema
from reconciler.signals import MAX_ACK_DAYS, QUALITY_RATINGS, TIER_ORDER, Acknowledgement

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)
SPACE = "293483938849493"
OTHER = "120000000000001"


def _load(tmp_path: Path, text: str, name: str = "m.yaml") -> tuple[str, LoadResult]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path), load([str(path)], today=TODAY)


def _found(result: LoadResult, severity: Severity) -> list[tuple[int, int, str]]:
    return [(d.location.line, d.location.column, d.message) for d in result.diagnostics
            if d.severity is severity]


# --- The schema and the rules agree -------------------------------------------------------------


def test_the_schema_lists_what_the_plan_rules_know() -> None:
    defs = load_schema("manifest.schema.json")["$defs"]
    assert isinstance(defs, dict)
    assert tuple(defs["tier"]["enum"]) == TIER_ORDER
    assert tuple(defs["qualityRatings"]["items"]["examples"]) == QUALITY_RATINGS
    fields = defs["acknowledgement"]["properties"]["field"]["enum"]
    assert tuple(fields) == acknowledgeable_fields()
    assert "profile.websites" in fields and "waba.review_status" in fields


# --- Health expectations ------------------------------------------------------------------------

HEALTH = ('version: 1\n'
          'defaults:\n'
          '  status: [CONNECTED]\n'
          '{defaults}'
          'spaces:\n'
          '  - id: "1"\n'
          '    numbers:\n'
          '      - phone: "+86 138 0000 1234"\n'
          '        verified_name: Acme\n'
          '{own}'
          '      - phone: "+86 138 0000 5678"\n'
          '        verified_name: Acme\n')
FIRST, SECOND = "+8613800001234", "+8613800005678"
GY = frozenset({"GREEN", "YELLOW"})


@pytest.mark.parametrize(("defaults", "own", "first", "second"), [
    ("", "", (None, None), (None, None)),
    ("  quality_rating: [GREEN, YELLOW]\n", "", (GY, None), (GY, None)),
    ("  messaging_limit_tier: TIER_1K\n", "", (None, "TIER_1K"), (None, "TIER_1K")),
    ("", "        quality_rating: [RED]\n        messaging_limit_tier: TIER_50\n",
     (frozenset({"RED"}), "TIER_50"), (None, None)),
    ("  quality_rating: [GREEN, YELLOW]\n  messaging_limit_tier: TIER_1K\n",
     "        quality_rating: [GREEN]\n", (frozenset({"GREEN"}), "TIER_1K"), (GY, "TIER_1K")),
    ("  quality_rating: [GREEN, YELLOW]\n  messaging_limit_tier: TIER_1K\n",
     "        messaging_limit_tier: TIER_UNLIMITED\n", (GY, "TIER_UNLIMITED"), (GY, "TIER_1K")),
], ids=["none", "default-ratings", "default-tier", "own-only", "own-rating-over-defaults",
        "own-tier-over-defaults"])
def test_health_expectations_from_defaults_and_numbers(
        tmp_path: Path, defaults: str, own: str,
        first: tuple[frozenset[str] | None, str | None],
        second: tuple[frozenset[str] | None, str | None]) -> None:
    _, result = _load(tmp_path, HEALTH.format(defaults=defaults, own=own))
    assert result.diagnostics == ()
    assert result.desired is not None
    numbers = result.desired.spaces["1"].numbers
    assert (numbers[FIRST].quality_ratings, numbers[FIRST].min_tier) == first
    assert (numbers[SECOND].quality_ratings, numbers[SECOND].min_tier) == second


def test_defaults_apply_to_their_own_file_only(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEALTH.format(
        defaults="  quality_rating: [GREEN]\n  messaging_limit_tier: TIER_10K\n", own=""))
    (tmp_path / "b.yaml").write_text('version: 1\nspaces:\n  - id: "2"\n    numbers:\n'
                                     '      - {phone: "+86 138 0000 9999", verified_name: B}\n')
    desired = load([str(tmp_path)], today=TODAY).desired
    assert desired is not None
    assert desired.spaces["1"].numbers[FIRST].min_tier == "TIER_10K"
    other = desired.spaces["2"].numbers["+8613800009999"]
    assert (other.quality_ratings, other.min_tier) == (None, None)


@pytest.mark.parametrize(("defaults", "own", "severity", "where", "message"), [
    ("  quality_rating: [GREEN, ORANGE]\n", "", Severity.WARNING, (4, 27),
     "'ORANGE' is not a documented quality rating (GREEN, YELLOW, RED, UNKNOWN): it is "
     "accepted as written"),
    ("", "        quality_rating: [GREN]\n", Severity.WARNING, (9, 26),
     "'GREN' is not a documented quality rating (GREEN, YELLOW, RED, UNKNOWN): it is accepted "
     "as written; did you mean 'GREEN'?"),
    ("  quality_rating: [green]\n", "", Severity.ERROR, (4, 20),
     "defaults.quality_rating[0]: 'green' is not a quality rating: ratings are capital letters "
     "and underscores, like GREEN; did you mean 'GREEN'?"),
    ("", "        quality_rating: []\n", Severity.ERROR, (9, 25),
     "spaces[0].numbers[0].quality_rating must list at least one value"),
    ("", "        quality_rating: [RED, RED]\n", Severity.ERROR, (9, 25),
     "spaces[0].numbers[0].quality_rating lists the same value twice"),
    ("  quality_rating: GREEN\n", "", Severity.ERROR, (4, 19),
     "defaults.quality_rating must be a list, not a string"),
    ("  messaging_limit_tier: TIER_10\n", "", Severity.ERROR, (4, 25),
     "defaults.messaging_limit_tier: 'TIER_10' is not a tier camsctl can order; a minimum is "
     "one of TIER_50 < TIER_250 < TIER_1K < TIER_10K < TIER_100K < TIER_UNLIMITED; did you "
     "mean 'TIER_10K'?"),
    ("", "        messaging_limit_tier: tier_1k\n", Severity.ERROR, (9, 31),
     "spaces[0].numbers[0].messaging_limit_tier: 'tier_1k' is not a tier camsctl can order; "
     "a minimum is one of TIER_50 < TIER_250 < TIER_1K < TIER_10K < TIER_100K < "
     "TIER_UNLIMITED; did you mean 'TIER_1K'?"),
    ("  messaging_limit_tier: 1000\n", "", Severity.ERROR, (4, 25),
     "defaults.messaging_limit_tier: '1000' is not a tier camsctl can order"),
    ("  quality_ratings: [GREEN]\n", "", Severity.ERROR, (4, 3),
     "unknown key 'quality_ratings' in defaults; did you mean 'quality_rating'?"),
], ids=["undocumented-rating", "near-miss-rating", "malformed-rating", "no-rating",
        "rating-twice", "rating-not-a-list", "unknown-tier", "lowercase-tier", "numeric-tier",
        "misspelt-key"])
def test_health_values_are_checked_where_written(
        tmp_path: Path, defaults: str, own: str, severity: Severity, where: tuple[int, int],
        message: str) -> None:
    _, result = _load(tmp_path, HEALTH.format(defaults=defaults, own=own))
    [(line, column, said)] = _found(result, severity)
    assert (line, column) == where
    assert said.startswith(message), said
    assert (result.desired is None) == (severity is Severity.ERROR)


# --- Acknowledgements ---------------------------------------------------------------------------

# Two spaces, then the acknowledgement under test: its first key on line 13, one key a line.
SPACES = ('version: 1\n'
          'spaces:\n'
          f'  - id: "{SPACE}"\n'
          '    waba: {review_status: APPROVED}\n'
          '    numbers:\n'
          '      - phone: "+86 138 0000 1234"\n'
          '        verified_name: Acme\n'
          f'  - id: "{OTHER}"\n'
          '    numbers:\n'
          '      - phone: "+44 20 7946 0958"\n'
          '        verified_name: Globex\n')
ACKED = SPACES + 'acknowledgements:\n'
ACK_LINE = 13
VALID = {"space": f'"{SPACE}"', "phone": '"+86 138 0000 1234"', "field": "status",
         "actual": "FLAGGED", "reason": "Flagged by Meta, appeal TKT-1234 open",
         "owner": "ops@acme.example", "until": "2026-12-31"}


def _ack_text(changes: dict[str, str | None], base: dict[str, str] = VALID) -> str:
    """One acknowledgement: ``base`` with ``changes`` (None removes a key), a key a line."""
    fields = {**base, **changes}
    lines = [f"{key}: {value}" for key, value in fields.items() if value is not None]
    return "".join(("  - " if index == 0 else "    ") + line + "\n"
                   for index, line in enumerate(lines))


def _where(changes: dict[str, str | None], key: str | None, part: str) -> tuple[int, int]:
    """Line and column of ``key``'s name or value in :func:`_ack_text` (an empty value is
    placed right after the colon); the item's with no key."""
    if key is None:
        return ACK_LINE, 5
    present = [k for k, v in {**VALID, **changes}.items() if v is not None]
    column = 5 if part == "key" else 5 + len(key) + (1 if changes.get(key) == "" else 2)
    return ACK_LINE + present.index(key), column


def _in(days: int) -> str:
    return (TODAY + dt.timedelta(days=days)).isoformat()


ACK_ERRORS: list[tuple[str, dict[str, str | None], str | None, str, str]] = [
    # (id, changes to VALID, the key where it is, at its "key" or "value", the message or its
    # start)
    ("unknown-key", {"reasons": "x"}, "reasons", "key",
     "unknown key 'reasons' in acknowledgements[0]; did you mean 'reason'?"),
    ("missing-space", {"space": None}, None, "",
     "missing required key 'space' in acknowledgements[0]"),
    ("missing-field", {"field": None}, None, "",
     "missing required key 'field' in acknowledgements[0]"),
    ("missing-reason", {"reason": None}, None, "",
     "missing required key 'reason' in acknowledgements[0]"),
    ("missing-owner", {"owner": None}, None, "",
     "missing required key 'owner' in acknowledgements[0]"),
    ("missing-until", {"until": None}, None, "",
     "missing required key 'until' in acknowledgements[0]"),
    ("unquoted-space", {"space": SPACE}, "space", "value",
     f'acknowledgements[0].space must be a string; write space: "{SPACE}" with quotes'),
    ("space-not-digits", {"space": "acme"}, "space", "value",
     "acknowledgements[0].space must be digits only, got 'acme'"),
    ("undeclared-space", {"space": '"293483938849494"'}, "space", "value",
     "space 293483938849494 is not declared in the manifests of this run; an acknowledgement "
     f"is about a declared space; did you mean '{SPACE}'?"),
    ("undeclared-space-line-break", {"space": f'"{SPACE}\\n"'}, "space", "value",
     f"space '{SPACE}\\n' is not declared in the manifests of this run"),
    ("phone-unparsable", {"phone": '"+86 12"'}, "phone", "value",
     "'+86 12' is not a possible phone number: it is too short for its country"),
    ("phone-not-a-string", {"phone": "8613800001234"}, "phone", "value",
     'acknowledgements[0].phone must be a string; write phone: "8613800001234" with quotes'),
    ("phone-undeclared", {"phone": '"+86 138 0000 9999"'}, "phone", "value",
     f"+8613800009999 is not declared in space {SPACE}; an acknowledgement of status is about "
     "a declared number (a live number the manifests do not declare is acknowledged with "
     "field: unmanaged)"),
    ("phone-of-another-space", {"phone": '"+44 20 7946 0958"'}, "phone", "value",
     f"+442079460958 is not declared in space {SPACE} (it is declared in space {OTHER} at "
     "{file}:10); an acknowledgement of status is about a declared number (a live number the "
     "manifests do not declare is acknowledged with field: unmanaged)"),
    ("unmanaged-declared", {"field": "unmanaged", "actual": None}, "phone", "value",
     f"+8613800001234 is declared in space {SPACE} at {{file}}:6, so it is never unmanaged: "
     "acknowledge one of its fields, or remove phone"),
    ("unmanaged-with-actual", {"field": "unmanaged", "phone": '"+86 138 0000 9999"'},
     "actual", "value", "actual cannot be given with field unmanaged: an unmanaged number has "
     "no value to match; remove it"),
    ("waba-field-with-phone", {"field": "waba.review_status"}, "phone", "value",
     "waba.review_status is a field of the space's WhatsApp Business Account, not of a "
     "number: remove phone"),
    ("unknown-field", {"field": "profile.abut"}, "field", "value",
     "acknowledgements[0].field: 'profile.abut' is not a field an acknowledgement can name: "
     "verified_name, status, quality_rating, messaging_limit_tier, unmanaged, profile.<name> "
     "or waba.<name>; did you mean 'profile.about'?"),
    ("field-without-name", {"field": "profile"}, "field", "value",
     "acknowledgements[0].field: 'profile' is not a field an acknowledgement can name"),
    ("field-unknown-waba", {"field": "waba.status", "phone": None}, "field", "value",
     "acknowledgements[0].field: 'waba.status' is not a field an acknowledgement can name"),
    ("actual-unquoted-number", {"field": "waba.id", "phone": None, "actual": "20393988393993"},
     "actual", "value",
     'acknowledgements[0].actual must be a string; write actual: "20393988393993" with quotes'),
    ("blank-reason", {"reason": '"  "'}, "reason", "value",
     "acknowledgements[0].reason must not be empty or blank"),
    ("empty-owner", {"owner": '""'}, "owner", "value",
     "acknowledgements[0].owner must not be empty or blank"),
    ("invisible-owner", {"owner": '"\\u200b\\u2060"'}, "owner", "value",
     "acknowledgements[0].owner must not be empty or blank: it holds only invisible "
     "characters (U+200B ZERO WIDTH SPACE, U+2060 WORD JOINER)"),
    ("reason-not-text", {"reason": "[a, b]"}, "reason", "value",
     "acknowledgements[0].reason must be a string, not a list"),
    ("reason-with-bidi", {"reason": '"appeal \\u202eopen"'}, "reason", "value",
     "acknowledgements[0].reason: U+202E RIGHT-TO-LEFT OVERRIDE (character 8) is a "
     "bidirectional control: it makes text display in another order than it is written, so "
     "what is read is not what is sent; remove it"),
    ("actual-with-line-break", {"actual": '"FLAG\\nGED"'}, "actual", "value",
     "acknowledgements[0].actual: U+000A LINE FEED (character 5) is a line break: this text "
     "is one line; remove it"),
    ("until-too-far", {"until": _in(MAX_ACK_DAYS + 1)}, "until", "value",
     f"acknowledgements[0].until {_in(367)} is 367 days after the date of this run "
     f"(2026-11-26); an acknowledgement lasts at most 366 days: {_in(366)} at the latest"),
    ("until-quoted-too-far", {"until": f'"{_in(400)}"'}, "until", "value",
     f"acknowledgements[0].until {_in(400)} is 400 days after the date of this run"),
    ("until-with-time", {"until": "2026-12-31 10:00:00"}, "until", "value",
     "acknowledgements[0].until must be a date written YYYY-MM-DD, like 2026-12-31, not a "
     "date and time"),
    ("until-number", {"until": "20261231"}, "until", "value",
     "acknowledgements[0].until must be a date written YYYY-MM-DD, like 2026-12-31, not a "
     "number"),
    ("until-empty", {"until": ""}, "until", "value",
     "acknowledgements[0].until must be a date written YYYY-MM-DD, like 2026-12-31, not empty "
     "(null)"),
    ("until-short-form", {"until": '"2026-1-5"'}, "until", "value",
     "acknowledgements[0].until must be a date written YYYY-MM-DD, like 2026-12-31, not "
     "'2026-1-5'"),
    ("until-line-break", {"until": '"2026-12-31\\n"'}, "until", "value",
     "acknowledgements[0].until must be a date written YYYY-MM-DD, like 2026-12-31, not "
     "'2026-12-31\\n'"),
    ("until-not-a-day", {"until": '"2026-02-30"'}, "until", "value",
     "acknowledgements[0].until: '2026-02-30' is not a day of the calendar"),
    ("until-unquoted-not-a-day", {"until": "2026-02-30"}, "until", "value",
     "cannot read '2026-02-30' as a timestamp; quote it if it is text"),
]


@pytest.mark.parametrize(("changes", "key", "part", "message"),
                         [case[1:] for case in ACK_ERRORS], ids=[c[0] for c in ACK_ERRORS])
def test_each_acknowledgement_error_is_located(
        tmp_path: Path, changes: dict[str, str | None], key: str | None, part: str,
        message: str) -> None:
    file, result = _load(tmp_path, ACKED + _ack_text(changes))
    assert result.desired is None
    [(line, column, said)] = _found(result, Severity.ERROR)
    assert (line, column) == _where(changes, key, part), said
    assert said.startswith(message.replace("{file}", file)), said


def test_a_valid_acknowledgement_is_that_value(tmp_path: Path) -> None:
    file, result = _load(tmp_path, ACKED + _ack_text({}))
    assert result.diagnostics == ()
    assert result.desired is not None
    assert result.desired.acknowledgements == (Acknowledgement(
        space_id=SPACE, phone="+8613800001234", field="status", actual="FLAGGED",
        reason="Flagged by Meta, appeal TKT-1234 open", owner="ops@acme.example",
        until=dt.date(2026, 12, 31), source=Location(file, ACK_LINE, 5)),)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"until": '"2026-12-31"'}, {"until": dt.date(2026, 12, 31)}),
    ({"until": "'2026-12-31'"}, {"until": dt.date(2026, 12, 31)}),
    ({"until": _in(MAX_ACK_DAYS)}, {"until": TODAY + dt.timedelta(days=MAX_ACK_DAYS)}),
    ({"until": TODAY.isoformat()}, {"until": TODAY}),
    # Expired: it loads, and the plan says it expired and counts the finding again.
    ({"until": "2020-01-01"}, {"until": dt.date(2020, 1, 1)}),
    ({"until": f'"{_in(-1)}"'}, {"until": TODAY - dt.timedelta(days=1)}),
    ({"phone": None}, {"phone": None}),
    ({"phone": '"+86-138-0000-1234"', "actual": None}, {"actual": None}),
    ({"field": "unmanaged", "phone": '"+86 138 0000 9999"', "actual": None},
     {"field": "unmanaged", "phone": "+8613800009999", "actual": None}),
    ({"field": "unmanaged", "phone": '"+44 20 7946 0958"', "actual": None},
     {"field": "unmanaged", "phone": "+442079460958", "actual": None}),
    ({"field": "unmanaged", "phone": None, "actual": None},
     {"field": "unmanaged", "phone": None, "actual": None}),
    ({"field": "waba.review_status", "phone": None, "actual": "PENDING"},
     {"field": "waba.review_status", "phone": None, "actual": "PENDING"}),
    ({"field": "profile.websites", "actual": '"https://a.example, https://b.example"'},
     {"field": "profile.websites", "actual": "https://a.example, https://b.example"}),
    ({"field": "quality_rating", "actual": "RED"}, {"field": "quality_rating", "actual": "RED"}),
    ({"field": "messaging_limit_tier", "actual": "TIER_50"},
     {"field": "messaging_limit_tier", "actual": "TIER_50"}),
    ({"field": "verified_name", "actual": '"Acme \u200dRetail"'},
     {"field": "verified_name", "actual": "Acme \u200dRetail"}),
    ({"actual": '""'}, {"actual": ""}),
], ids=["until-double-quoted", "until-single-quoted", "until-366-days-ahead", "until-today",
        "until-long-past", "until-yesterday-quoted", "every-number", "any-value",
        "unmanaged-number", "unmanaged-declared-elsewhere", "every-unmanaged-number",
        "waba-field", "list-field-joined", "rating", "tier", "name-with-joiner", "empty-actual"])
def test_valid_acknowledgements_load(tmp_path: Path, changes: dict[str, str | None],
                                     expected: dict[str, object]) -> None:
    _, result = _load(tmp_path, ACKED + _ack_text(changes))
    assert result.diagnostics == ()
    assert result.desired is not None
    [ack] = result.desired.acknowledgements
    for name, value in expected.items():
        assert getattr(ack, name) == value, name


def test_an_exact_duplicate_is_an_error_at_the_second(tmp_path: Path) -> None:
    # The same space, number (in any notation), field and actual value; reason and date aside.
    second = _ack_text({"phone": '"+8613800001234"', "reason": "again", "until": "2026-07-01"})
    file, result = _load(tmp_path, ACKED + _ack_text({}) + second)
    assert _found(result, Severity.ERROR) == [(
        ACK_LINE + 7, 5, f"the same acknowledgement (status of +8613800001234 in space {SPACE}, "
                         f"actual 'FLAGGED') is already written at {file}:{ACK_LINE}; keep one")]


def test_an_alias_that_repeats_an_acknowledgement_is_a_duplicate(tmp_path: Path) -> None:
    text = (SPACES + f'x-appeal: &appeal {{space: "{SPACE}", field: status, reason: Appeal, '
            'owner: ops@acme.example, until: 2026-12-31}\n'
            'acknowledgements: [*appeal, *appeal]\n')
    _, result = _load(tmp_path, text)
    assert _found(result, Severity.ERROR) == [(12, 11, (
        f"the same acknowledgement (status of every number in space {SPACE}) is listed again "
        "by an alias; keep one"))]


@pytest.mark.parametrize("second", [
    {"actual": "BANNED"}, {"actual": None}, {"phone": None}, {"field": "verified_name"}],
    ids=["other-actual", "any-actual", "every-number", "other-field"])
def test_overlapping_acknowledgements_are_not_duplicates(
        tmp_path: Path, second: dict[str, str | None]) -> None:
    _, result = _load(tmp_path, ACKED + _ack_text({}) + _ack_text(second))
    assert result.diagnostics == ()
    assert result.desired is not None and len(result.desired.acknowledgements) == 2


def test_acknowledgements_may_be_about_a_space_of_another_file(tmp_path: Path) -> None:
    (tmp_path / "a-spaces.yaml").write_text(SPACES)
    (tmp_path / "b-acks.yaml").write_text(
        "version: 1\nspaces: []\nacknowledgements:\n" + _ack_text({})
        + _ack_text({"space": '"999"', "phone": None}))
    result = load([str(tmp_path)], today=TODAY)
    [(line, column, message)] = _found(result, Severity.ERROR)
    assert result.errors[0].location.file.endswith("b-acks.yaml")
    assert (line, column) == (11, 12)
    assert message.startswith("space 999 is not declared in the manifests of this run")
    (tmp_path / "b-acks.yaml").write_text(
        "version: 1\nspaces: []\nacknowledgements:\n" + _ack_text({}))
    desired = load([str(tmp_path)], today=TODAY).desired
    assert desired is not None
    [ack] = desired.acknowledgements
    assert ack.source.file.endswith("b-acks.yaml") and ack.source.line == 4


def test_a_space_declared_in_a_file_with_errors_is_still_declared(tmp_path: Path) -> None:
    # Only the file's own error is reported, not "space not declared" as well.
    (tmp_path / "a.yaml").write_text(SPACES.replace("    waba:", "    lable: x\n    waba:"))
    (tmp_path / "b.yaml").write_text("version: 1\nspaces: []\nacknowledgements:\n"
                                     + _ack_text({}))
    result = load([str(tmp_path)], today=TODAY)
    assert [e.message for e in result.errors] == [
        "unknown key 'lable' in spaces[0]; did you mean 'label'?"]


def test_acknowledgements_anchored_and_merged(tmp_path: Path) -> None:
    text = (SPACES + 'x-appeal: &appeal {reason: Appeal open, owner: ops@acme.example, '
              'until: 2026-12-31}\n'
            + f'acknowledgements:\n  - {{<<: *appeal, space: "{SPACE}", field: status}}\n'
            + f'  - {{<<: *appeal, space: "{SPACE}", field: verified_name}}\n')
    _, result = _load(tmp_path, text)
    assert result.diagnostics == ()
    assert result.desired is not None
    assert [(a.field, a.reason, a.until) for a in result.desired.acknowledgements] == [
        ("status", "Appeal open", dt.date(2026, 12, 31)),
        ("verified_name", "Appeal open", dt.date(2026, 12, 31))]


def test_acknowledgements_must_be_a_list(tmp_path: Path) -> None:
    _, result = _load(tmp_path, ACKED + "  space: x\n")
    [(line, column, message)] = _found(result, Severity.ERROR)
    assert (line, column, message) == (13, 3, "acknowledgements must be a list, not a mapping")


# --- The date of the run, from the command line ---------------------------------------------------


@pytest.mark.parametrize(("days", "exit_code"), [(MAX_ACK_DAYS, 0), (MAX_ACK_DAYS + 1, 1)])
def test_validate_checks_until_against_source_date_epoch(
        tmp_path: Path, days: int, exit_code: int) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(ACKED + _ack_text({"until": _in(days)}), encoding="utf-8")
    epoch = dt.datetime(TODAY.year, TODAY.month, TODAY.day, 23, 59, tzinfo=dt.UTC).timestamp()
    done = CliRunner().invoke(cli, ["--no-color", "validate", str(path)],
                              env={"SOURCE_DATE_EPOCH": str(int(epoch))})
    assert done.exit_code == exit_code, done.output
    if exit_code:
        assert f"{path}:19:12: error: acknowledgements[0].until {_in(days)} is {days} days " \
               "after the date of this run (2026-11-26)" in done.stderr
