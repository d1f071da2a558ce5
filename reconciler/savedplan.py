"""A saved plan is checked against the manifests, never trusted: what ``apply --plan`` may add.

A plan file travels between jobs (in the example workflows, from a pull-request job whose code
the pull request's author controls), so anything can have been written into it. Before a saved
plan is applied, every change must be a number the manifests declare, in the space that declares
it, with exactly the request fields the manifests give; no change may repeat; the plan must have
been made against the endpoint in use. Pure: values in, problems out.
"""

from __future__ import annotations

from collections import Counter

from reconciler.manifest import Desired
from reconciler.plan import AddNumber, Plan


def saved_plan_problems(plan: Plan, plan_endpoint: str, desired: Desired, endpoint: str,
                        *, mask: bool = False) -> list[str]:
    """Why ``plan`` (made against ``plan_endpoint``) must not be applied; empty when it may.

    ``mask`` hides the middle digits of numbers in the messages (``--mask-numbers``).
    """
    problems: list[str] = []
    if plan_endpoint != endpoint:
        problems.append(f"the plan was made against {plan_endpoint}, not {endpoint} (the "
                        "endpoint in use)")

    def name(add: AddNumber) -> str:
        return add.phone.masked() if mask else add.phone.e164

    repeats = Counter(add.phone.e164 for add in plan.adds)
    told: set[str] = set()
    for index, add in enumerate(plan.adds, start=1):
        what = f"change {index} ({name(add)} in space {add.space_id})"
        if repeats[add.phone.e164] > 1 and add.phone.e164 not in told:
            told.add(add.phone.e164)
            problems.append(f"{what}: the plan adds this number {repeats[add.phone.e164]} times")
        space = desired.spaces.get(add.space_id)
        if space is None:
            problems.append(f"{what}: the manifests declare no space {add.space_id}")
            continue
        number = space.numbers.get(add.phone.e164)
        if number is None:
            problems.append(f"{what}: the manifests do not declare this number in this space")
            continue
        declared = AddNumber(space.id, number.phone, number.verified_name, number.source)
        for key, value in add.request().items():
            if declared.request()[key] != value:
                problems.append(f"{what}: {key} is {value!r} in the plan but "
                                f"{declared.request()[key]!r} in the manifests "
                                f"({number.source.short})")
    for planned in plan.spaces:
        space = desired.spaces.get(planned.id)
        if space is not None and planned.isv_code != space.isv_code \
                and any(add.space_id == planned.id for add in plan.adds):
            problems.append(f"space {planned.id}: the plan reads it with IsvCode "
                            f"{planned.isv_code!r}, the manifests with {space.isv_code!r}")
    return problems
