"""Views against golden files, with no I/O but reading the goldens.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 python -m pytest tests/core`` and
review the diff like code.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
from planbuild import (
    desired,
    example_inputs,
    example_plan,
    have,
    live,
    live_space,
    space,
    want,
)

from reconciler.plan import Plan, build_plan
from reconciler.planfile import PlanMeta, dumps
from reconciler.schemas import load_schema
from reconciler.views import GithubView, JsonView, MarkdownView, TextView
from reconciler.views.wording import NO_CHANGES

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden"
META = PlanMeta(created_at="2026-11-23T10:00:00Z",
                endpoint="https://cams.ap-southeast-1.aliyuncs.com")


def in_sync_plan() -> Plan:
    return build_plan(desired(space("1", want("+86 138 0000 1234", "Acme"))),
                      live(live_space("1", have("8613800001234", "Acme"))))


def render_text(plan: Plan, *, color: bool = False, mask: bool = False) -> str:
    return TextView(color=color, mask=mask).plan(plan)


def render_markdown(plan: Plan, *, mask: bool = False, limit: int = 65_000) -> str:
    return MarkdownView(mask=mask, limit=limit).plan(plan)


RENDERINGS = {
    "example.txt": lambda: render_text(example_plan()),
    "example-color.txt": lambda: render_text(example_plan(), color=True),
    "example-masked.txt": lambda: render_text(example_plan(), mask=True),
    "example.md": lambda: render_markdown(example_plan()),
    "example-masked.md": lambda: render_markdown(example_plan(), mask=True),
    "example.json": lambda: dumps(example_plan(), META),
    "in-sync.txt": lambda: render_text(in_sync_plan()),
    "in-sync.md": lambda: render_markdown(in_sync_plan()),
}


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_golden(name: str) -> None:
    rendered = RENDERINGS[name]()
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


def test_rendering_twice_gives_the_same_bytes() -> None:
    for render in RENDERINGS.values():
        assert render() == render()


def test_json_validates_against_the_published_schema() -> None:
    document = json.loads(dumps(example_plan(), META))
    jsonschema.Draft202012Validator(load_schema("plan.schema.json")).validate(document)
    document = json.loads(dumps(in_sync_plan(), META))
    jsonschema.Draft202012Validator(load_schema("plan.schema.json")).validate(document)


def test_text_last_line_is_the_summary() -> None:
    assert render_text(example_plan()).splitlines()[-1] == \
        "Plan: 2 to add, 2 drifted, 1 unmanaged, 1 pending, 1 acknowledged."
    assert render_text(in_sync_plan()).splitlines()[-1] == NO_CHANGES


def test_masking_hides_every_declared_and_live_number() -> None:
    declared, current = example_inputs()
    numbers = {e164 for s in declared.spaces.values() for e164 in s.numbers}
    numbers |= {e164 for s in current.spaces.values() for e164 in s.numbers}
    for text in (render_text(example_plan(), mask=True),
                 render_markdown(example_plan(), mask=True)):
        for e164 in numbers:
            assert e164 not in text
        assert "+86138****1234" in text


def test_markdown_starts_with_the_summary() -> None:
    lines = render_markdown(example_plan()).splitlines()
    assert lines[2] == "**Plan: 2 to add, 2 drifted, 1 unmanaged, 1 pending, 1 acknowledged.**"


def test_markdown_is_cut_to_the_limit_and_says_what_was_left_out() -> None:
    spaces = [space(f"{1000 + i}", *(want(f"+86 138 {i:04d} {j:04d}", f"Name {i}-{j}")
                                     for j in range(40)), label=f"space-{i}")
              for i in range(60)]
    big = build_plan(desired(*spaces), live(*(live_space(s.id) for s in spaces)))
    full = render_markdown(big, limit=10**9)
    assert len(full) > 65_000
    cut = render_markdown(big)
    assert len(cut) <= 65_000
    match = re.search(r"… (\d+) more sections \((\d+) entries\) left out", cut)
    assert match is not None
    shown = cut.count("<details>")
    assert shown + int(match.group(1)) == 60
    assert int(match.group(2)) == 40 * int(match.group(1))
    assert cut.splitlines()[2] == "**Plan: 2400 to add, 0 drifted, 0 unmanaged.**"


def test_markdown_escapes_table_breaking_names() -> None:
    plan = build_plan(desired(space("1", want("+86 138 0000 1234", "A | B <script>"))),
                      live(live_space("1")))
    rendered = render_markdown(plan)
    assert "A &#124; B &lt;script&gt;" in rendered


def test_every_view_reads_the_plan_in_time_linear_in_its_size() -> None:
    """Views iterate the plan's spaces once; nothing regroups a flat list per space (that
    made the old renderers quadratic: 100,000 adds in 1,000 spaces took tens of seconds)."""
    spaces = [space(f"{1000 + i}", *(want(f"+86 138 {i:04d} {j:04d}", f"N {i}-{j}")
                                     for j in range(20)))
              for i in range(400)]
    big = build_plan(desired(*spaces), live(*(live_space(s.id) for s in spaces)))
    # Each space's entries are its own: the grouping is the plan's, not the view's.
    assert all(len(s.adds) == 20 and {a.space_id for a in s.adds} == {s.id}
               for s in big.spaces)
    assert big.adds == tuple(a for s in big.spaces for a in s.adds)
    for view in (TextView(), MarkdownView(limit=10**9), GithubView()):
        rendered = view.plan(big)
        assert rendered.count("+86138") >= 8000
    assert len(JsonView().plan(big, META)) > 0
