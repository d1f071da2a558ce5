"""The transport against hostile servers: deadlines, retry-after, unreadable JSON, bad secrets.

Each test runs camsctl as a user would (a child process) against a small raw server on
loopback that answers by the action it was asked for. Each failure must end as one clear error
(exit 1) well within the child's time limit, never a traceback, never a secret.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from e2ekit import KEY_SECRET, Answer, Camsctl, fixed, http_answer, raw_server, silent

SPACE = "900000000000001"
OTHER = "900000000000002"
RID = "5C1E2F3A-TRANSPORT-REQUEST-ID"


def ok_list(*numbers: dict[str, str]) -> bytes:
    return http_answer("200 OK", json.dumps({"RequestId": RID, "Code": "OK",
                                      "PhoneNumbers": list(numbers)}).encode())


def drip(answer: bytes, every: float = 0.2) -> Answer:
    """One byte every ``every`` seconds: each read succeeds, the answer never completes."""
    async def send(_head: str, writer: asyncio.StreamWriter) -> None:
        for byte in answer:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)
    return send


def by_action(**answers: Answer) -> Callable[[str], Answer]:
    def pick(head: str) -> Answer:
        for action, answer in answers.items():
            if f"x-acs-action: {action.lower()}" in head:
                return answer
        raise AssertionError(f"unexpected request: {head[:200]}")
    return pick


def run(camsctl: Camsctl, url: str, tmp_path: Path, *args: str,
        spaces: tuple[str, ...] = (SPACE,), numbers: str = "[]") -> tuple[int, str, str]:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\nspaces:\n" + "".join(
        f'  - {{id: "{space}", numbers: {numbers.replace("INDEX", str(index))}}}\n'
        for index, space in enumerate(spaces)))
    command = [arg.replace("MANIFEST", str(manifest)) for arg in args]
    done = subprocess.run([sys.executable, "-m", "reconciler", "--endpoint", url, *command],
                          cwd=camsctl.workdir, env=camsctl.env, capture_output=True, text=True,
                          timeout=90, check=False, stdin=subprocess.DEVNULL)
    assert "Traceback" not in done.stderr and KEY_SECRET not in done.stderr + done.stdout
    return done.returncode, done.stdout, done.stderr


def test_timeout_bounds_a_whole_answer_not_one_read(camsctl: Camsctl, tmp_path: Path) -> None:
    # 200 bytes at 5 per second: 40 s to complete, each read 0.2 s apart.
    with raw_server(by_action(QueryChatappPhoneNumbers=drip(ok_list()))) as url:
        code, _, err = run(camsctl, url, tmp_path, "--timeout", "1", "plan", "MANIFEST")
    assert code == 1
    assert "QueryChatappPhoneNumbers: no complete answer from 127.0.0.1" in err
    assert "within 1 s (--timeout)" in err


def test_a_server_that_never_answers_times_out_clearly(camsctl: Camsctl,
                                                       tmp_path: Path) -> None:
    with raw_server(lambda _head: silent) as url:
        code, _, err = run(camsctl, url, tmp_path, "--timeout", "0.5", "plan", "MANIFEST")
    assert code == 1
    assert "QueryChatappPhoneNumbers: no complete answer" in err and "within 0.5 s" in err


DEEP = b"[" * 100_000
HUGE = b'{"RequestId": "x", "Code": "OK", "TotalCount": ' + b"7" * 5000 + b"}"


@pytest.mark.parametrize(("body", "expected"), [
    (DEEP, "JSON nested too deeply to read"),
    (HUGE, "JSON with a number too long to read"),
    (b'{"Code": "OK", "RequestId": "\xff\xfe"}', "not UTF-8 text"),
])
def test_unreadable_json_in_a_read_is_one_error(body: bytes, expected: str,
                                                camsctl: Camsctl, tmp_path: Path) -> None:
    answer = fixed(http_answer("200 OK", body))
    with raw_server(by_action(QueryChatappPhoneNumbers=answer)) as url:
        code, _, err = run(camsctl, url, tmp_path, "plan", "MANIFEST")
    assert code == 1
    assert f"QueryChatappPhoneNumbers: HTTP 200 with a body that is not a JSON object: " \
           f"{expected}" in err


@pytest.mark.parametrize("body", [DEEP, HUGE])
def test_unreadable_json_from_an_add_is_an_unknown_outcome(body: bytes, camsctl: Camsctl,
                                                           tmp_path: Path) -> None:
    no_waba = http_answer("200 OK", json.dumps({"RequestId": RID, "Code": "OK"}).encode())
    answers = by_action(QueryChatappPhoneNumbers=fixed(ok_list()),
                        QueryChatappBindWaba=fixed(no_waba),
                        AddChatappPhoneNumber=fixed(http_answer("200 OK", body)))
    with raw_server(answers) as url:
        code, out, err = run(camsctl, url, tmp_path, "apply", "--visibility-window", "0.1",
                             "--auto-approve", "MANIFEST",
                             numbers='[{phone: "+86 138 0000 1234", verified_name: "A"}]')
    assert code == 1
    # The answer could not be read, so the add may have happened: never "failed", never
    # sent twice; the space did not list it on re-reading.
    assert "+8613800001234 (space 900000000000001): unknown" in out + err, out + err
    assert "Apply complete: 0 added, 1 unknown (re-run apply later), 0 failed." in out


def test_a_huge_retry_after_holds_back_no_other_call(camsctl: Camsctl,
                                                     tmp_path: Path) -> None:
    throttled = fixed(http_answer("429 Too Many Requests", json.dumps({
        "RequestId": RID, "Code": "Throttling.User", "Message": "Request was denied due to "
        "user flow control."}).encode(), "x-acs-retry-after: 1000000000000"))

    def answers(head: str) -> Answer:
        return throttled if f"custspaceid={SPACE}" in head else fixed(ok_list())
    with raw_server(answers) as url:
        code, _, err = run(camsctl, url, tmp_path, "plan", "MANIFEST", spaces=(SPACE, OTHER))
    assert code == 1
    # The throttled space fails at once (the wait asked for is beyond its retry budget); the
    # other space was read, not held back until the year 33,658.
    assert f"space {SPACE}: QueryChatappPhoneNumbers: HTTP 429 Throttling.User" in err
    assert OTHER not in err


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("ALIBABA_CLOUD_SECURITY_TOKEN", "CAES-token\nInjected: header", "a line break"),
    ("ALIBABA_CLOUD_SECURITY_TOKEN", "CAES-tökén", "a character that is not ASCII"),
    ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sec\x1bret", "a control character"),
])
def test_credentials_that_cannot_be_sent_are_refused_unquoted(
        variable: str, value: str, problem: str, camsctl: Camsctl, tmp_path: Path) -> None:
    camsctl.env[variable] = value
    with raw_server(by_action(QueryChatappPhoneNumbers=fixed(ok_list()))) as url:
        code, out, err = run(camsctl, url, tmp_path, "-vv", "plan", "MANIFEST")
    assert code == 1
    what = "security token" if "TOKEN" in variable else "AccessKey secret"
    assert f"credentials from environment: the {what} contains {problem}" in err, err
    assert value not in out + err and value.split()[0][:8] not in err
    assert "QueryChatappPhoneNumbers" not in err  # refused before any call


def test_a_secret_with_bytes_that_are_not_utf8_is_refused(camsctl: Camsctl,
                                                          tmp_path: Path) -> None:
    env = {key.encode(): value.encode() for key, value in camsctl.env.items()}
    env[b"ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = b"Zq9\xffXw7"
    with raw_server(by_action(QueryChatappPhoneNumbers=fixed(ok_list()))) as url:
        manifest = tmp_path / "m.yaml"
        manifest.write_text(f'version: 1\nspaces:\n  - {{id: "{SPACE}", numbers: []}}\n')
        done = subprocess.run([sys.executable, "-m", "reconciler", "--endpoint", url, "plan",
                               str(manifest)], cwd=camsctl.workdir, env=env,
                              capture_output=True, timeout=90, check=False)
    assert done.returncode == 1
    assert b"the AccessKey secret contains bytes that are not UTF-8" in done.stderr
    assert b"Traceback" not in done.stderr and b"Zq9" not in done.stderr


def _oidc(camsctl: Camsctl, url: str, tmp_path: Path, token: bytes = b"eyJ.token.sig") -> Path:
    token_file = tmp_path / "token"
    token_file.write_bytes(token)
    del camsctl.env["ALIBABA_CLOUD_ACCESS_KEY_ID"], camsctl.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
    camsctl.env.update(ALIBABA_CLOUD_ROLE_ARN="acs:ram::1:role/ci",
                       ALIBABA_CLOUD_OIDC_PROVIDER_ARN="acs:ram::1:oidc-provider/gh",
                       ALIBABA_CLOUD_OIDC_TOKEN_FILE=str(token_file),
                       CAMSCTL_STS_ENDPOINT=url)
    return token_file


@pytest.mark.parametrize(("answer", "expected"), [
    (fixed(http_answer("200 OK", DEEP)), "STS is JSON nested too deeply to read"),
    (fixed(http_answer("400 Bad Request", b'{"Code": ' + b"9" * 5000 + b"}")),
     "STS is JSON with a number too long to read"),
    (drip(http_answer("200 OK", b"{}" * 100)), "AssumeRoleWithOIDC: no complete answer from "
                                       "127.0.0.1"),
    (fixed(http_answer("200 OK", json.dumps({"RequestId": RID, "Credentials": {
        "AccessKeyId": "STS.id", "AccessKeySecret": "secret\nInjected: yes",
        "SecurityToken": "tok", "Expiration": "2099-01-01T00:00:00Z"}}).encode())),
     "AssumeRoleWithOIDC: STS answered credentials from OIDC role acs:ram::1:role/ci: the "
     "AccessKey secret contains a line break"),
])
def test_hostile_sts_answers_are_one_error(answer: Answer, expected: str, camsctl: Camsctl,
                                           tmp_path: Path) -> None:
    with raw_server(lambda _head: answer) as url:
        _oidc(camsctl, url, tmp_path)
        code, _, err = run(camsctl, url, tmp_path, "--timeout", "1", "plan", "MANIFEST")
    assert code == 1
    assert expected in err, err
    assert "Injected" not in err


def test_an_oidc_token_file_that_is_a_fifo_is_refused(camsctl: Camsctl,
                                                      tmp_path: Path) -> None:
    import os
    with raw_server(lambda _head: fixed(ok_list())) as url:
        token_file = _oidc(camsctl, url, tmp_path)
        token_file.unlink()
        os.mkfifo(token_file)
        code, _, err = run(camsctl, url, tmp_path, "plan", "MANIFEST")
    assert code == 1
    assert f"the OIDC token file {token_file} is not a regular file (a FIFO)" in err


@pytest.mark.parametrize(("content", "expected"), [
    (b'{"current": "\xff"}', "not UTF-8 text"),
    (b"[" * 100_000, "JSON nested too deeply to read"),
    (None, "is not a regular file (a FIFO)"),
])
def test_a_hostile_aliyun_config_is_one_error(content: bytes | None, expected: str,
                                              camsctl: Camsctl, tmp_path: Path) -> None:
    import os
    config = Path(camsctl.env["HOME"]) / ".aliyun" / "config.json"
    config.parent.mkdir()
    if content is None:
        os.mkfifo(config)
    else:
        config.write_bytes(content)
    del camsctl.env["ALIBABA_CLOUD_ACCESS_KEY_ID"], camsctl.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
    with raw_server(lambda _head: fixed(ok_list())) as url:
        code, _, err = run(camsctl, url, tmp_path, "plan", "MANIFEST")
    assert code == 1
    assert str(config) in err and expected in err, err


def test_a_lone_surrogate_in_a_live_name_is_replaced(camsctl: Camsctl, tmp_path: Path) -> None:
    # Valid JSON whose string decodes to a lone surrogate, which no UTF-8 output accepts.
    body = (b'{"RequestId": "r", "Code": "OK", "PhoneNumbers": [{"PhoneNumber": '
            b'"8613800001234", "VerifiedName": "Acme \\ud800 Retail", "Status": "CONNECTED"}]}')
    plan_file = tmp_path / "plan.json"
    answer = by_action(QueryChatappPhoneNumbers=fixed(http_answer("200 OK", body)))
    with raw_server(answer) as url:
        code, out, err = run(camsctl, url, tmp_path, "plan", "MANIFEST", "--out",
                             str(plan_file), "--detailed-exitcode")
    assert code == 8, err  # success; the live number is unmanaged (exit bit 8)
    assert "Acme \ufffd Retail" in out
    saved = json.loads(plan_file.read_text(encoding="utf-8"))
    assert saved["unmanaged"][0]["verified_name"] == "Acme \ufffd Retail"


def test_a_ram_denial_of_add_stops_apply_after_one_add(camsctl: Camsctl,
                                                       tmp_path: Path) -> None:
    adds: list[str] = []
    denial = http_answer("403 Forbidden", json.dumps({
        "RequestId": RID, "Code": "Ram.PermissionDeny", "Message": "You are not authorized.",
        "AccessDeniedDetail": {"AuthAction": "cams:AddChatappPhoneNumber",
                               "NoPermissionType": "ImplicitDeny"}}).encode())

    async def deny(head: str, writer: asyncio.StreamWriter) -> None:
        adds.append(head)
        await fixed(denial)(head, writer)
    no_waba = http_answer("200 OK", json.dumps({"RequestId": RID, "Code": "OK"}).encode())
    answers = by_action(QueryChatappPhoneNumbers=fixed(ok_list()),
                        QueryChatappBindWaba=fixed(no_waba), AddChatappPhoneNumber=deny)
    spaces = tuple(f"90000000000001{i}" for i in range(4))
    with raw_server(answers) as url:
        code, out, err = run(camsctl, url, tmp_path, "apply", "--auto-approve", "MANIFEST",
                             spaces=spaces,
                             numbers='[{phone: "+86 138 0000 123INDEX", verified_name: "A"}]')
    assert code == 1
    assert len(adds) == 1
    assert "Apply complete: 0 added, 3 not sent, 1 failed." in out, out
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, err
    assert "AddChatappPhoneNumber: HTTP 403 Ram.PermissionDeny" in errors[0]
    assert f"RequestId {RID}" in errors[0] and "cams:AddChatappPhoneNumber" in errors[0]
    assert "Used credentials from environment (AccessKey ****)" in errors[0]
    assert "Check that a RAM policy of the identity in AccessDeniedDetail allows the action " \
           "AddChatappPhoneNumber" in errors[0]
