"""Create or update the one sticky pull-request comment that carries camsctl's Markdown plan.

The comment is found by the hidden marker ``<!-- camsctl:plan -->`` among the pull request's
comments (every page), then updated in place; with none, it is created. Standard library only.

Environment: ``CAMSCTL_MARKDOWN`` (the Markdown file), ``GITHUB_TOKEN``, ``GITHUB_API_URL``,
``GITHUB_REPOSITORY``, ``GITHUB_EVENT_PATH`` (the pull request's number). A comment that cannot
be written (a fork's read-only token, a missing ``pull-requests: write``) is a warning, not a
failure: the plan is also in the job summary.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.request
from typing import Any

MARKER = "<!-- camsctl:plan -->"
LIMIT = 65_536
"""GitHub refuses a comment body over 65,536 characters."""
CUT_NOTE = "\n\n*The plan was cut here: it is longer than a comment may be. The job summary " \
    "has all of it.*\n"
TIMEOUT = 30


class GitHub:
    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token

    def call(self, method: str, url: str, body: dict[str, Any] | None = None) \
            -> tuple[Any, str]:
        """(decoded JSON answer, Link header)."""
        if not url.startswith(("http://", "https://")):
            url = self.api_url + url
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
            "User-Agent": "camsctl-action",
        })
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return json.loads(answer.read() or b"null"), answer.headers.get("Link", "")

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """Every comment of the pull request, following ``Link: rel="next"``."""
        found: list[dict[str, Any]] = []
        url: str | None = f"/repos/{repo}/issues/{number}/comments?per_page=100"
        while url:
            page, link = self.call("GET", url)
            found += page
            url = next_page(link)
        return found


def next_page(link: str) -> str | None:
    for part in link.split(","):
        match = re.match(r'\s*<([^>]+)>\s*;\s*rel="next"', part)
        if match:
            return match.group(1)
    return None


def body_of(markdown: str) -> str:
    body = f"{MARKER}\n{markdown}"
    if len(body) <= LIMIT:
        return body
    return body[:LIMIT - len(CUT_NOTE)] + CUT_NOTE


def sticky(comments: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The comment to update: the first with the marker written by a bot (the workflow's
    token), else the first with the marker at all."""
    marked = [c for c in comments if str(c.get("body") or "").startswith(MARKER)]
    bots = [c for c in marked if (c.get("user") or {}).get("type") == "Bot"]
    return (bots or marked)[0] if marked else None


def pull_request_number(event_path: str) -> int:
    with open(event_path, encoding="utf-8") as event:
        number = json.load(event)["pull_request"]["number"]
    if type(number) is not int:
        raise ValueError("the pull request's number is not a number")
    return number


def main() -> int:
    env = os.environ
    try:
        number = pull_request_number(env["GITHUB_EVENT_PATH"])
        with open(env["CAMSCTL_MARKDOWN"], encoding="utf-8") as plan:
            body = body_of(plan.read())
    except (OSError, KeyError, TypeError, ValueError) as exc:
        print(f"::warning title=camsctl action::no plan comment: {type(exc).__name__}: {exc}")
        return 0
    github = GitHub(env.get("GITHUB_API_URL", "https://api.github.com"),
                    env.get("GITHUB_TOKEN", ""))
    repo = env.get("GITHUB_REPOSITORY", "")
    try:
        mine = sticky(github.comments(repo, number))
        if mine is not None:
            try:
                github.call("PATCH", f"/repos/{repo}/issues/comments/{int(mine['id'])}",
                            {"body": body})
                print(f"Updated the plan comment on pull request #{number}")
                return 0
            except urllib.error.HTTPError as exc:
                if exc.code not in (403, 404):
                    raise
                # Someone else's comment with the marker, or one deleted meanwhile: a new one.
        github.call("POST", f"/repos/{repo}/issues/{number}/comments", {"body": body})
        print(f"Commented the plan on pull request #{number}")
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as exc:
        reason = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) \
            else type(exc).__name__
        print(f"::warning title=camsctl action::could not comment the plan on pull request "
              f"#{number} ({reason}); it is in the job summary. The job needs "
              "'permissions: pull-requests: write' (a fork's pull request has a read-only "
              "token).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
