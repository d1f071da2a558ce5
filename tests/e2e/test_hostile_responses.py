"""Hostile answers from the service: every one ends as one clear error, never a traceback.

A raw asyncio server on loopback answers camsctl's calls with broken HTTP: non-JSON,
truncated JSON, HTML error pages, missing and mistyped fields, a huge body, or no answer at
all. camsctl must exit 1 with a message naming the operation (and the RequestId when the
answer had one), no traceback and no secret.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from e2ekit import KEY_SECRET, Camsctl, hostile_server, http_answer

SPACE = "900000000000001"
RID = "5C1E2F3A-HOSTILE-REQUEST-ID"


OK_LIST = {"RequestId": RID, "Code": "OK", "PhoneNumbers": []}

ANSWERS = {
    "not-json": (http_answer("200 OK", b"Service is fine, thanks"), "not a JSON object"),
    "truncated-json": (http_answer("200 OK", b'{"RequestId": "x", "Code": "OK", "Phone'),
                       "not a JSON object"),
    "html-error-page": (http_answer("502 Bad Gateway", b"<html><body><h1>502 Bad Gateway</h1>"
                              b"</body></html>", content_type="text/html"), "HTTP 502"),
    "missing-code": (http_answer("200 OK", json.dumps({"RequestId": RID}).encode()),
                     "answer without a Code"),
    "missing-phone-number": (http_answer("200 OK", json.dumps({
        **OK_LIST, "PhoneNumbers": [{"VerifiedName": "No number"}]}).encode()),
        f"PhoneNumbers[0].PhoneNumber: expected a string (missing) (RequestId {RID})"),
    "wrong-types": (http_answer("200 OK", json.dumps({**OK_LIST, "PhoneNumbers": "lots"}).encode()),
                    "PhoneNumbers: expected a list"),
    "error-with-request-id": (http_answer("400 Bad Request", json.dumps({
        "RequestId": RID, "Code": "Ram.PermissionDeny",
        "Message": "You are not authorized to perform the operation."}).encode()),
        f"Ram.PermissionDeny: You are not authorized to perform the operation. (RequestId {RID})"),
    "ram-denial-with-detail": (http_answer("403 Forbidden", json.dumps({
        "RequestId": RID, "Code": "Ram.PermissionDeny", "Message": "You are not authorized.",
        "AccessDeniedDetail": {"AuthAction": "cams:QueryChatappPhoneNumbers",
                               "NoPermissionType": "ImplicitDeny"}}).encode()),
        f'(RequestId {RID}; AccessDeniedDetail: {{"AuthAction": '
        '"cams:QueryChatappPhoneNumbers", "NoPermissionType": "ImplicitDeny"})'),
    "body-shorter-than-announced": (http_answer("200 OK", b'{"Code": "OK"', length=5000),
                                    "QueryChatappPhoneNumbers"),
    "ten-megabytes": (http_answer("200 OK", b'{"Code": "OK", "Pad": "' + b"x" * (10 << 20) + b'"}'),
                      "the answer is larger than 4,194,304 bytes; not reading it"),
    "ten-megabytes-unannounced": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        + b'{"Code": "OK", "Pad": "' + b"x" * (10 << 20) + b'"}',
        "the answer is larger than 4,194,304 bytes; not reading it"),
}


def _plan(camsctl: Camsctl, url: str, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f'version: 1\nspaces:\n  - {{id: "{SPACE}", numbers: []}}\n')
    done = subprocess.run([sys.executable, "-m", "reconciler", "--endpoint", url, *extra,
                           "plan", str(manifest)], cwd=camsctl.workdir, env=camsctl.env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_hostile_answer_is_one_clear_error(case: str, camsctl: Camsctl, tmp_path: Path) -> None:
    answer, expected = ANSWERS[case]
    with hostile_server(answer) as url:
        code, out, err = _plan(camsctl, url, tmp_path)
    assert code == 1, (out, err)
    assert "QueryChatappPhoneNumbers" in err
    assert expected in err, err
    assert "Traceback" not in err and KEY_SECRET not in err
    assert len(err) < 2000
