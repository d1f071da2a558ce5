"""Signature V3: our signer against the official SDK's, value for value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alibabacloud_tea_openapi.utils import Utils as SdkUtils
from darabonba.request import DaraRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.api.credentials import Credentials
from reconciler.api.signing import (
    EMPTY_BODY_SHA256,
    RpcCall,
    canonical_query,
    parse_authorization,
    sign_request,
)

WHEN = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
KEY = Credentials("LTAI5tExampleKey", "example-secret")


def sdk_authorization(call: RpcCall, headers: dict[str, str], secret: str, key_id: str) -> str:
    request = DaraRequest()
    request.method = "POST"
    request.pathname = "/"
    request.query = dict(call.params)
    # The SDK signs every header it holds; hand it exactly what we send, minus Authorization.
    request.headers = {k: v for k, v in headers.items() if k != "authorization"}
    return str(SdkUtils.get_authorization(request, "ACS3-HMAC-SHA256", EMPTY_BODY_SHA256,
                                          key_id, secret))


def ours(call: RpcCall, credentials: Credentials = KEY) -> dict[str, str]:
    return dict(sign_request(call, credentials, WHEN, "3b1e7b8c9d0a4f6e").headers)


TRICKY = ["Acme Retail", "a*b", "tilde~ok", "plus+sign", "slash/path", "Café Ünïcode",
          "日本語の名前", "emoji 😀", "", "percent%20literal", "a&b=c", "semi;colon"]


@pytest.mark.parametrize("value", TRICKY)
def test_signature_matches_sdk_for_tricky_values(value: str) -> None:
    call = RpcCall("AddChatappPhoneNumber",
                   (("CustSpaceId", "293483938849493"), ("Cc", "86"),
                    ("PhoneNumber", "13800001234"), ("VerifiedName", value)),
                   host="cams.ap-southeast-1.aliyuncs.com",
                   extra_headers=(("accept", "application/json"), ("user-agent", "camsctl/0")))
    headers = ours(call)
    assert headers["authorization"] == sdk_authorization(call, headers, KEY.access_key_secret,
                                                         KEY.access_key_id)


def test_signature_matches_sdk_with_sts_token() -> None:
    sts = Credentials("STS.key", "sts-secret", "token+with/odd=chars")
    call = RpcCall("QueryChatappBindWaba", (("CustSpaceId", "1"),), host="127.0.0.1:8080")
    headers = ours(call, sts)
    assert headers["x-acs-security-token"] == "token+with/odd=chars"
    assert "x-acs-security-token" in headers["authorization"]
    assert headers["authorization"] == sdk_authorization(call, headers, "sts-secret", "STS.key")


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,12}", fullmatch=True),
                       st.text(max_size=30), max_size=5))
def test_signature_matches_sdk_for_any_parameters(params: dict[str, str]) -> None:
    call = RpcCall("QueryChatappPhoneNumbers", tuple(params.items()), host="localhost:1")
    headers = ours(call)
    assert headers["authorization"] == sdk_authorization(call, headers, KEY.access_key_secret,
                                                         KEY.access_key_id)


def test_canonical_query_encoding() -> None:
    assert canonical_query([("b", "x y*~+/é"), ("a", "1")]) == "a=1&b=x%20y%2A~%2B%2F%C3%A9"


def test_signing_is_pure_and_headers_complete() -> None:
    call = RpcCall("QueryChatappPhoneNumbers", (("CustSpaceId", "1"),), host="h")
    first, second = ours(call), ours(call)
    assert first == second
    assert first["x-acs-date"] == "2026-11-23T10:00:00Z"
    assert first["x-acs-content-sha256"] == EMPTY_BODY_SHA256
    auth = parse_authorization(first["authorization"])
    assert auth is not None
    assert auth.access_key_id == KEY.access_key_id
    assert set(auth.signed_headers) == {"host", "x-acs-action", "x-acs-version", "x-acs-date",
                                        "x-acs-signature-nonce", "x-acs-content-sha256"}


def test_secrets_stay_out_of_reprs() -> None:
    sts = Credentials("id", "very-secret", "very-token")
    signed = sign_request(RpcCall("X", (), host="h"), sts, WHEN, "n")
    for text in (repr(sts), str(sts), repr(signed)):
        assert "very-secret" not in text and "very-token" not in text
