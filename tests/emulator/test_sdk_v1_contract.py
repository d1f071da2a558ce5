"""Contract: RPC Signature V1 (HMAC-SHA1) clients call the emulator over a socket.

The vendor's older Python SDK (``aliyun-python-sdk-core`` with ``aliyun-python-sdk-cams``),
through its generated request classes and through ``CommonRequest``, and the modern SDK with
``signature_algorithm="v2"``, run all five operations: in the query or a form body, GET or
POST. Every answer must be the state the emulator holds, and every refusal must reach the
SDK as its own normal exception (the old SDK parses the text of ``SignatureDoesNotMatch``).
Raw requests signed by the old SDK's own composer check what the SDKs cannot be made to send.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alibabacloud_cams20200606 import models as sdk
from alibabacloud_tea_openapi import utils_models as api_models
from aliyunsdkcams.request.v20200606.AddChatappPhoneNumberRequest import (
    AddChatappPhoneNumberRequest,
)
from aliyunsdkcams.request.v20200606.ChatappSyncPhoneNumberRequest import (
    ChatappSyncPhoneNumberRequest,
)
from aliyunsdkcams.request.v20200606.QueryChatappBindWabaRequest import (
    QueryChatappBindWabaRequest,
)
from aliyunsdkcams.request.v20200606.QueryChatappPhoneNumbersRequest import (
    QueryChatappPhoneNumbersRequest,
)
from aliyunsdkcams.request.v20200606.QueryPhoneBusinessProfileRequest import (
    QueryPhoneBusinessProfileRequest,
)
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.composer.rpc_signature_composer import get_signed_url
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from darabonba.runtime import RuntimeOptions
from vendor_clients import (
    KEY_ID,
    SECRET,
    SPACE,
    common_request,
    modern_client,
    old_client,
    to_emulator,
)

from reconciler.api.operations import API_VERSION
from reconciler.emulator import EmulatorApp, EmulatorServer, load_state, serve_in_thread
from reconciler.emulator.sts import TemporaryKey

PROFILED = "8613800005678"
TRICKY_NAME = "Café * ~ + / 名前"  # space, *, ~, +, / and non-ASCII must survive V1's encoding


def answer(client: AcsClient, request: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(client.do_action_with_exception(request))
    return body


def test_request_classes_run_all_five_operations(app: EmulatorApp,
                                                 server: EmulatorServer) -> None:
    client = old_client(server)
    space = app.state.spaces[SPACE]

    listed = to_emulator(QueryChatappPhoneNumbersRequest())
    listed.set_CustSpaceId(SPACE)
    listed.set_IsvCode("isv")
    assert answer(client, listed)["PhoneNumbers"] == space.numbers

    synced = to_emulator(ChatappSyncPhoneNumberRequest())
    synced.set_CustSpaceId(SPACE)
    assert answer(client, synced)["PhoneNumbers"] == space.numbers

    profile = to_emulator(QueryPhoneBusinessProfileRequest())
    profile.set_CustSpaceId(SPACE)
    profile.set_PhoneNumber(PROFILED)
    assert answer(client, profile)["Data"] == space.profiles[PROFILED]

    waba = to_emulator(QueryChatappBindWabaRequest())
    waba.set_CustSpaceId(SPACE)
    assert answer(client, waba)["Data"] == space.waba

    added = to_emulator(AddChatappPhoneNumberRequest())
    added.set_CustSpaceId(SPACE)
    added.set_Cc("86")
    added.set_PhoneNumber("13800001111")
    added.set_VerifiedName(TRICKY_NAME)
    body = answer(client, added)
    assert (body["Code"], body["Success"]) == ("OK", True) and body["RequestId"]
    assert space.numbers[-1] == {"PhoneNumber": "8613800001111", "VerifiedName": TRICKY_NAME,
                                 "Status": "PENDING", "NameStatus": "PENDING_REVIEW",
                                 "QualityRating": "UNKNOWN"}
    assert app.stats.calls == {"QueryChatappPhoneNumbers": 1, "ChatappSyncPhoneNumber": 1,
                               "QueryPhoneBusinessProfile": 1, "QueryChatappBindWaba": 1,
                               "AddChatappPhoneNumber": 1}
    assert sum(app.stats.rejected.values()) == 0


def test_common_request_over_get_and_with_a_form_body(app: EmulatorApp,
                                                      server: EmulatorServer) -> None:
    client = old_client(server)
    space = app.state.spaces[SPACE]
    reads = {"QueryChatappPhoneNumbers": {"CustSpaceId": SPACE},
             "ChatappSyncPhoneNumber": {"CustSpaceId": SPACE},
             "QueryPhoneBusinessProfile": {"CustSpaceId": SPACE, "PhoneNumber": PROFILED},
             "QueryChatappBindWaba": {"CustSpaceId": SPACE}}
    bodies = {}
    for action, params in reads.items():
        request = common_request(action, "GET")
        for name, value in params.items():
            request.add_query_param(name, value)
        bodies[action] = answer(client, request)
    assert bodies["QueryChatappPhoneNumbers"]["PhoneNumbers"] == space.numbers
    assert bodies["ChatappSyncPhoneNumber"]["PhoneNumbers"] == space.numbers
    assert bodies["QueryPhoneBusinessProfile"]["Data"] == space.profiles[PROFILED]
    assert bodies["QueryChatappBindWaba"]["Data"] == space.waba

    # Add's parameters as an application/x-www-form-urlencoded body, signed with the query.
    add = common_request("AddChatappPhoneNumber", "POST")
    for name, value in {"CustSpaceId": SPACE, "Cc": "86", "PhoneNumber": "13800002222",
                        "VerifiedName": TRICKY_NAME}.items():
        add.add_body_params(name, value)
    assert answer(client, add)["Code"] == "OK"
    assert space.numbers[-1]["PhoneNumber"] == "8613800002222"
    assert space.numbers[-1]["VerifiedName"] == TRICKY_NAME
    # ... and a form body with the space in the query: both places count.
    mixed = common_request("AddChatappPhoneNumber", "POST")
    mixed.add_query_param("CustSpaceId", SPACE)
    for name, value in {"Cc": "86", "PhoneNumber": "13800003333", "VerifiedName": "x"}.items():
        mixed.add_body_params(name, value)
    assert answer(client, mixed)["Code"] == "OK"
    assert space.numbers[-1]["PhoneNumber"] == "8613800003333"
    assert sum(app.stats.rejected.values()) == 0


def test_the_modern_sdk_in_rpc_v1_mode_parses_field_for_field(app: EmulatorApp,
                                                               server: EmulatorServer) -> None:
    client = modern_client(server, "v2")
    space = app.state.spaces[SPACE]
    listed = client.query_chatapp_phone_numbers(
        sdk.QueryChatappPhoneNumbersRequest(cust_space_id=SPACE, isv_code="isv"))
    assert listed.body.to_map()["PhoneNumbers"] == space.numbers
    synced = client.chatapp_sync_phone_number(sdk.ChatappSyncPhoneNumberRequest(
        cust_space_id=SPACE))
    assert synced.body.to_map()["PhoneNumbers"] == space.numbers
    profile = client.query_phone_business_profile(sdk.QueryPhoneBusinessProfileRequest(
        cust_space_id=SPACE, phone_number=PROFILED))
    assert profile.body.data.to_map() == space.profiles[PROFILED]
    waba = client.query_chatapp_bind_waba(sdk.QueryChatappBindWabaRequest(cust_space_id=SPACE))
    assert waba.body.data.to_map() == space.waba
    added = client.add_chatapp_phone_number(sdk.AddChatappPhoneNumberRequest(
        cust_space_id=SPACE, cc="86", phone_number="13800001111", verified_name=TRICKY_NAME))
    assert added.body.code == "OK" and space.numbers[-1]["VerifiedName"] == TRICKY_NAME

    # The same SDK's generic call with Add's parameters in a form body.
    params = api_models.Params(action="AddChatappPhoneNumber", version=API_VERSION,
                               protocol="HTTP", pathname="/", method="POST", auth_type="AK",
                               style="RPC", req_body_type="formData", body_type="json")
    form = api_models.OpenApiRequest(body={"CustSpaceId": SPACE, "Cc": "86",
                                           "PhoneNumber": "13800002222", "VerifiedName": "y"})
    result = client.call_api(params, form, RuntimeOptions())
    assert result["body"]["Code"] == "OK" and space.numbers[-1]["PhoneNumber"] == "8613800002222"
    assert sum(app.stats.calls.values()) == 6 and sum(app.stats.rejected.values()) == 0


def test_a_wrong_secret_reaches_the_old_sdk_as_its_own_exception(
        app: EmulatorApp, server: EmulatorServer) -> None:
    client = old_client(server, secret="not-the-secret")
    request = to_emulator(QueryChatappBindWabaRequest())
    request.set_CustSpaceId(SPACE)
    with pytest.raises(ServerException) as wrong:
        client.do_action_with_exception(request)
    # The SDK found its own string to sign after "server string to sign is:", so it knows
    # the request was well built and names the secret.
    assert (wrong.value.get_http_status(), wrong.value.get_error_code()) == (
        400, "InvalidAccessKeySecret")
    assert "AccessKeySecret is incorrect" in wrong.value.get_error_msg()
    assert wrong.value.get_request_id()

    common = common_request("QueryChatappBindWaba")
    common.add_query_param("CustSpaceId", SPACE)
    with pytest.raises(ServerException) as refused:
        client.do_action_with_exception(common)
    assert refused.value.get_error_code() == "SignatureDoesNotMatch"
    assert refused.value.get_error_msg() == (
        "Specified signature is not matched with our calculation. server string to sign is:"
        + common.request.string_to_sign)
    assert app.stats.rejected == {"SignatureDoesNotMatch": 2}


def test_a_burst_from_the_old_sdk_is_throttled() -> None:
    app = EmulatorApp(load_state(Path(__file__).parent / "state.yaml"), qps=2.0)
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        client = old_client(server)
        codes = []
        for _ in range(12):
            request = to_emulator(QueryChatappBindWabaRequest())
            request.set_CustSpaceId(SPACE)
            try:
                codes.append(answer(client, request)["Code"])
            except ServerException as refused:
                assert refused.get_http_status() == 400
                codes.append(refused.get_error_code())
    assert codes.count("Throttling.User") >= 6 and set(codes) == {"OK", "Throttling.User"}
    assert app.stats.throttled == codes.count("Throttling.User")


def test_a_temporary_key_needs_its_security_token(app: EmulatorApp,
                                                  server: EmulatorServer) -> None:
    app.temporary_keys["STS.temporary"] = TemporaryKey("temporary-secret", "CAES+token/=",
                                                       time.time() + 3600)

    def outcome(client: AcsClient) -> str:
        request = to_emulator(QueryChatappBindWabaRequest())
        request.set_CustSpaceId(SPACE)
        try:
            return str(answer(client, request)["Code"])
        except ServerException as refused:
            return str(refused.get_error_code())

    def with_token(token: str) -> AcsClient:
        credential = StsTokenCredential("STS.temporary", "temporary-secret", token)
        return AcsClient(region_id="cn-hangzhou", credential=credential, port=server.port,
                         auto_retry=False)

    assert outcome(with_token("CAES+token/=")) == "OK"  # sent as the SecurityToken parameter
    assert outcome(with_token("CAES-other")) == "InvalidSecurityToken.MismatchWithAccessKey"
    assert outcome(old_client(server, "STS.temporary", "temporary-secret")) == (
        "MissingSecurityToken")


def test_the_action_is_the_signed_parameter(app: EmulatorApp, server: EmulatorServer) -> None:
    # The old SDK also sends x-acs-action, unsigned in V1: the Action parameter decides.
    request = common_request("QueryChatappBindWaba")
    request.add_query_param("CustSpaceId", SPACE)
    request.add_header("x-acs-action", "AddChatappPhoneNumber")
    assert answer(old_client(server), request)["Data"] == app.state.spaces[SPACE].waba
    assert app.stats.calls == {"QueryChatappBindWaba": 1}


# -- raw requests, signed by the old SDK's own composer ---------------------------------------


@pytest.fixture
def raw(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, trust_env=False) as client:
        yield client


def composed(method: str = "GET", body: dict[str, str] | None = None, accept: str = "JSON",
             **extra: str) -> tuple[str, str]:
    """(path and query, string to sign) of QueryChatappPhoneNumbers, as the old SDK signs."""
    params = {"Action": "QueryChatappPhoneNumbers", "Version": API_VERSION,
              "CustSpaceId": SPACE, "Label": "Acme", **extra}
    url, string_to_sign = get_signed_url(params, KEY_ID, SECRET, accept, method, body or {})
    return str(url), str(string_to_sign)


def code_and_message(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) >= {"Code", "Message", "RequestId"}
    return response.status_code, body["Code"], body["Message"]


MISMATCH = "Specified signature is not matched with our calculation. server string to sign is:"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_a_raw_request_needs_no_acs_headers(raw: httpx.Client) -> None:
    url, _ = composed()
    response = raw.get(url)
    assert response.status_code == 200 and response.json()["Code"] == "OK"
    url, _ = composed("POST", body={"Status": "CONNECTED"})
    response = raw.post(url, content=b"Status=CONNECTED", headers=FORM)
    assert [n["Status"] for n in response.json()["PhoneNumbers"]] == ["CONNECTED"] * len(
        response.json()["PhoneNumbers"])


def test_what_is_signed_cannot_be_changed(raw: httpx.Client) -> None:
    url, string_to_sign = composed()
    tampered = raw.get(url.replace("Label=Acme", "Label=Evil"))
    assert code_and_message(tampered) == (
        400, "SignatureDoesNotMatch", MISMATCH + string_to_sign.replace("Acme", "Evil"))

    url, string_to_sign = composed()
    as_post = raw.post(url)  # the method is signed
    assert code_and_message(as_post) == (
        400, "SignatureDoesNotMatch", MISMATCH + "POST" + string_to_sign.removeprefix("GET"))

    url, string_to_sign = composed("POST", body={"Status": "CONNECTED"})
    other_body = raw.post(url, content=b"Status=FLAGGED", headers=FORM)  # so is the form body
    assert code_and_message(other_body) == (
        400, "SignatureDoesNotMatch", MISMATCH + string_to_sign.replace("CONNECTED", "FLAGGED"))


@pytest.mark.parametrize(("change", "code"), [
    (("SignatureNonce", None), "IncompleteSignature"),
    (("Timestamp", None), "IncompleteSignature"),
    (("AccessKeyId", None), "IncompleteSignature"),
    (("SignatureMethod", "HMAC-SHA256"), "IncompleteSignature"),
    (("SignatureVersion", "2.0"), "IncompleteSignature"),
    (("Version", None), "MissingVersion"),
    (("Version", "2017-01-01"), "InvalidVersion"),
    (("Timestamp", "2026-11-26 10:00:00"), "InvalidTimeStamp.Format"),
])
def test_malformed_v1_requests_are_refused(raw: httpx.Client, change: tuple[str, str | None],
                                           code: str) -> None:
    url, _ = composed()
    query = dict(httpx.URL(url).params)
    name, value = change
    if value is None:
        del query[name]
    else:
        query[name] = value
    response = raw.get("/", params=query)
    assert (response.status_code, response.json()["Code"]) == (400, code)


def test_only_json_answers_are_served(raw: httpx.Client) -> None:
    url, _ = composed(accept="XML")
    response = raw.get(url)
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidParameter")
    assert "JSON" in response.json()["Message"]
