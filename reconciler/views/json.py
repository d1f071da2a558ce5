"""The JSON view: the plan in its published wire format, outcomes and diagnostics as JSON.

The plan's encoding belongs to :mod:`reconciler.planfile`; this view only hands it over, so
``plan --format json`` and ``plan --out FILE`` write the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from reconciler.diagnostics import Diagnostic
from reconciler.outcome import Outcome
from reconciler.plan import Plan
from reconciler.planfile import PlanMeta, dumps
from reconciler.views.wording import apply_summary


class JsonView:
    def plan(self, plan: Plan, meta: PlanMeta | None = None) -> str:
        if meta is None:
            raise ValueError("the JSON plan needs its meta (created_at, endpoint)")
        return dumps(plan, meta)

    def outcomes(self, outcomes: Sequence[Outcome]) -> str:
        document = {
            "summary": apply_summary(outcomes),
            "outcomes": [{"space": o.add.space_id, "phone": o.add.phone.e164,
                          "result": o.result.name.lower().replace("_", "-"),
                          "request_id": o.request_id, "reason": o.reason} for o in outcomes],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    def diagnostics(self, diagnostics: Sequence[Diagnostic]) -> str:
        return json.dumps([{"file": d.location.file, "line": d.location.line,
                            "column": d.location.column, "severity": d.severity.value,
                            "message": d.message} for d in diagnostics],
                          indent=2, ensure_ascii=False) + "\n"
