"""Contract: Signature V3 in both its algorithms, and the request shapes V3 clients send.

The modern SDK (``alibabacloud-cams20200606``) in its ``ACS3-HMAC-SM3`` mode runs all five
operations and parses every answer field for field, as ``test_sdk_contract.py`` does for
``ACS3-HMAC-SHA256``. Then, for both algorithms, the SDK's generic call sends Add's parameters
as a form body (covered by the body's hash in ``x-acs-content-sha256``) and a read over GET.
Requests signed with the SDK's own signing function check that a changed body is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from alibabacloud_cams20200606 import models as sdk
from alibabacloud_tea_openapi import utils_models as api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils as SdkUtils
from darabonba.request import DaraRequest
from darabonba.runtime import RuntimeOptions
from vendor_clients import KEY_ID, SECRET, SPACE, modern_client

from reconciler.api.operations import API_VERSION
from reconciler.api.signing import SM3_ALGORITHM, algorithm_available
from reconciler.emulator import EmulatorApp, EmulatorServer, load_state
from reconciler.emulator.app import ApiRequest

PROFILED = "8613800005678"
SHA256 = "ACS3-HMAC-SHA256"
needs_sm3 = pytest.mark.skipif(not algorithm_available(SM3_ALGORITHM),
                               reason="this Python's OpenSSL has no SM3")
ALGORITHMS = [SHA256, pytest.param(SM3_ALGORITHM, marks=needs_sm3)]


class RecordingApp(EmulatorApp):
    """The emulator, noting the algorithm each request names (to see what the SDK sent)."""

    def __init__(self) -> None:
        super().__init__(load_state(Path(__file__).parent / "state.yaml"))
        self.algorithms: list[str] = []

    async def handle(self, request: ApiRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        self.algorithms.append(request.headers.get("authorization", "").partition(" ")[0])
        return await super().handle(request)


@pytest.fixture
def app() -> RecordingApp:
    return RecordingApp()


@needs_sm3
def test_the_sm3_mode_parses_field_for_field(app: RecordingApp, server: EmulatorServer) -> None:
    client = modern_client(server, SM3_ALGORITHM)
    space = app.state.spaces[SPACE]

    listed = client.query_chatapp_phone_numbers(
        sdk.QueryChatappPhoneNumbersRequest(cust_space_id=SPACE, isv_code="isv"))
    assert listed.body.to_map()["PhoneNumbers"] == space.numbers
    synced = client.chatapp_sync_phone_number(sdk.ChatappSyncPhoneNumberRequest(
        cust_space_id=SPACE))
    assert synced.body.to_map()["PhoneNumbers"] == space.numbers and synced.body.success
    profile = client.query_phone_business_profile(sdk.QueryPhoneBusinessProfileRequest(
        cust_space_id=SPACE, phone_number=PROFILED))
    assert profile.body.data.to_map() == space.profiles[PROFILED]
    waba = client.query_chatapp_bind_waba(sdk.QueryChatappBindWabaRequest(cust_space_id=SPACE))
    assert waba.body.data.to_map() == space.waba
    name = "Café * ~ + / 名前"
    added = client.add_chatapp_phone_number(sdk.AddChatappPhoneNumberRequest(
        cust_space_id=SPACE, cc="86", phone_number="13800001111", verified_name=name))
    assert added.body.code == "OK" and added.body.request_id
    assert space.numbers[-1]["VerifiedName"] == name
    assert app.algorithms == [SM3_ALGORITHM] * 5


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_form_body_and_a_get_are_accepted(algorithm: str, app: RecordingApp,
                                            server: EmulatorServer) -> None:
    client = modern_client(server, None if algorithm == SHA256 else algorithm)
    space = app.state.spaces[SPACE]

    def params(action: str, method: str) -> api_models.Params:
        return api_models.Params(action=action, version=API_VERSION, protocol="HTTP",
                                 pathname="/", method=method, auth_type="AK", style="RPC",
                                 req_body_type="formData", body_type="json")

    form = api_models.OpenApiRequest(body={"CustSpaceId": SPACE, "Cc": "86",
                                           "PhoneNumber": "13800002222",
                                           "VerifiedName": "Form & body = ok"})
    added = client.call_api(params("AddChatappPhoneNumber", "POST"), form, RuntimeOptions())
    assert added["body"]["Code"] == "OK"
    assert space.numbers[-1]["PhoneNumber"] == "8613800002222"
    assert space.numbers[-1]["VerifiedName"] == "Form & body = ok"

    query = api_models.OpenApiRequest(query={"CustSpaceId": SPACE})
    listed = client.call_api(params("QueryChatappPhoneNumbers", "GET"), query, RuntimeOptions())
    assert listed["body"]["PhoneNumbers"] == space.numbers
    assert app.algorithms == [algorithm] * 2


@pytest.fixture
def raw(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, trust_env=False) as client:
        yield client


def sdk_signed_form(server: EmulatorServer, algorithm: str, form: dict[str, str]
                    ) -> tuple[bytes, dict[str, str]]:
    """An Add with a form body, signed by the SDK's own V3 function: (body, headers)."""
    body = urlencode(form).encode()
    headers = {
        "host": f"127.0.0.1:{server.port}",
        "x-acs-action": "AddChatappPhoneNumber",
        "x-acs-version": API_VERSION,
        "x-acs-date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": SdkUtils.hash(body, algorithm).hex(),
        "content-type": "application/x-www-form-urlencoded",
    }
    request = DaraRequest()
    request.method = "POST"
    request.pathname = "/"
    request.query = {}
    request.headers = headers
    headers["authorization"] = SdkUtils.get_authorization(
        request, algorithm, headers["x-acs-content-sha256"], KEY_ID, SECRET)
    return body, headers


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_changed_form_body_is_refused(algorithm: str, app: RecordingApp,
                                        server: EmulatorServer, raw: httpx.Client) -> None:
    form = {"CustSpaceId": SPACE, "Cc": "86", "PhoneNumber": "13800006161", "VerifiedName": "a"}
    body, headers = sdk_signed_form(server, algorithm, form)
    changed = raw.post("/", content=body.replace(b"6161", b"6262"), headers=headers)
    assert (changed.status_code, changed.json()["Code"]) == (400, "SignatureDoesNotMatch")
    sent = raw.post("/", content=body, headers=headers)
    assert (sent.status_code, sent.json()["Code"]) == (200, "OK")
    assert app.state.find_number("8613800006161") is not None
    assert app.state.find_number("8613800006262") is None


@needs_sm3
def test_without_sm3_in_openssl_the_request_is_refused_saying_why(
        server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reconciler.emulator.auth.algorithm_available", lambda _: False)
    with pytest.raises(ClientException) as refused:
        modern_client(server, SM3_ALGORITHM).query_chatapp_bind_waba(
            sdk.QueryChatappBindWabaRequest(cust_space_id=SPACE))
    assert (refused.value.status_code, refused.value.code) == (400, "IncompleteSignature")
    assert "SM3" in str(refused.value.message)
