"""Print the counts of a camsctl JSON plan as GitHub step outputs (``name=value`` lines).

Usage: ``python outputs.py PLAN.json >> "$GITHUB_OUTPUT"``. Exit 1, printing nothing, when the
file is not a plan (missing, not JSON, no ``summary`` of whole numbers).
"""

from __future__ import annotations

import json
import sys

COUNTS = ("add", "drift", "unmanaged", "pending", "acknowledged")


def counts(path: str) -> dict[str, int]:
    with open(path, encoding="utf-8") as plan:
        summary = json.load(plan)["summary"]
    found = {name: summary.get(name, 0) for name in COUNTS}
    if not all(type(value) is int for value in found.values()):
        raise ValueError("summary counts must be whole numbers")
    return found


def main(argv: list[str]) -> int:
    try:
        found = counts(argv[1])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        print(f"outputs.py: not a camsctl plan: {type(exc).__name__}", file=sys.stderr)
        return 1
    sys.stdout.write("".join(f"{name}={value}\n" for name, value in found.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
