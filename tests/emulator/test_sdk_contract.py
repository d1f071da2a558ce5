"""Contract: the official SDK (alibabacloud-cams20200606) calls the emulator over a socket.

Every answer must parse into the SDK's models with no field lost: ``body.to_map()`` (which
keeps only the fields the SDK knows) must equal what the emulator holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from alibabacloud_cams20200606 import models as sdk
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ClientException
from alibabacloud_tea_openapi.utils_models import Config

from reconciler.api.credentials import Credentials
from reconciler.api.signing import RpcCall, sign_request
from reconciler.emulator import EmulatorApp, EmulatorServer

SPACE = "293483938849493"
KEY = Credentials("LTAI5tTestKey", "test-secret")


def sdk_client(server: EmulatorServer, key_id: str = KEY.access_key_id,
               secret: str = KEY.access_key_secret) -> Client:
    return Client(Config(access_key_id=key_id, access_key_secret=secret,
                         endpoint=f"127.0.0.1:{server.port}", protocol="http"))


def test_all_five_operations_parse_field_for_field(app: EmulatorApp,
                                                   server: EmulatorServer) -> None:
    client = sdk_client(server)
    space = app.state.spaces[SPACE]

    listed = client.query_chatapp_phone_numbers(
        sdk.QueryChatappPhoneNumbersRequest(cust_space_id=SPACE, isv_code="isv"))
    assert listed.status_code == 200 and listed.body.code == "OK"
    assert listed.body.to_map()["PhoneNumbers"] == space.numbers
    assert listed.body.request_id

    synced = client.chatapp_sync_phone_number(sdk.ChatappSyncPhoneNumberRequest(
        cust_space_id=SPACE))
    assert synced.body.to_map()["PhoneNumbers"] == space.numbers and synced.body.success

    profile = client.query_phone_business_profile(sdk.QueryPhoneBusinessProfileRequest(
        cust_space_id=SPACE, phone_number="8613800005678"))
    assert profile.body.data.to_map() == space.profiles["8613800005678"]
    assert profile.body.data.websites == ["https://acme.example", "https://shop.acme.example"]

    waba = client.query_chatapp_bind_waba(sdk.QueryChatappBindWabaRequest(cust_space_id=SPACE))
    assert waba.body.data.to_map() == space.waba
    assert waba.body.data.account_review_status == "APPROVED"

    # Values with spaces, *, ~, +, / and non-ASCII text must survive the SDK's wire encoding.
    name = "Café * ~ + / 名前"
    added = client.add_chatapp_phone_number(sdk.AddChatappPhoneNumberRequest(
        cust_space_id=SPACE, cc="86", phone_number="13800001111", verified_name=name))
    assert added.body.code == "OK" and added.body.request_id
    assert space.numbers[-1] == {"PhoneNumber": "8613800001111", "VerifiedName": name,
                                 "Status": "PENDING", "NameStatus": "PENDING_REVIEW",
                                 "QualityRating": "UNKNOWN"}
    assert sum(app.stats.calls.values()) == 5


@pytest.mark.parametrize(("space", "status", "code"), [
    ("999", 400, "Unknown.ResourceOwnerId"),
    (SPACE, 400, "PhoneNumber.AlreadyExists"),
])
def test_errors_have_the_service_shape(server: EmulatorServer, space: str, status: int,
                                       code: str) -> None:
    with pytest.raises(ClientException) as caught:
        sdk_client(server).add_chatapp_phone_number(sdk.AddChatappPhoneNumberRequest(
            cust_space_id=space, cc="86", phone_number="13800005678", verified_name="x"))
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert set(caught.value.data) >= {"Code", "Message", "RequestId"}


def test_wrong_secret_and_unknown_key_are_refused(server: EmulatorServer) -> None:
    request = sdk.QueryChatappBindWabaRequest(cust_space_id=SPACE)
    with pytest.raises(ClientException) as wrong:
        sdk_client(server, secret="not-the-secret").query_chatapp_bind_waba(request)
    assert (wrong.value.status_code, wrong.value.code) == (400, "SignatureDoesNotMatch")
    with pytest.raises(ClientException) as unknown:
        sdk_client(server, key_id="LTAI-nobody").query_chatapp_bind_waba(request)
    assert (unknown.value.status_code, unknown.value.code) == (404,
                                                               "InvalidAccessKeyId.NotFound")


@pytest.fixture
def raw(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, trust_env=False) as client:
        yield client


def signed(server: EmulatorServer, when: datetime | None = None, nonce: str = "n-1",
           name: str = "Acme") -> tuple[str, dict[str, str]]:
    call = RpcCall("QueryChatappPhoneNumbers", (("CustSpaceId", SPACE), ("Label", name)),
                   host=f"127.0.0.1:{server.port}")
    result = sign_request(call, KEY, when or datetime.now(UTC), nonce)
    return f"/?{result.query_string}", dict(result.headers)


def test_tampered_stale_and_replayed_requests_are_refused(server: EmulatorServer,
                                                          raw: httpx.Client) -> None:
    url, headers = signed(server, nonce="tamper")
    tampered = raw.post(url.replace("Acme", "Evil"), headers=headers)
    assert (tampered.status_code, tampered.json()["Code"]) == (400, "SignatureDoesNotMatch")

    url, headers = signed(server, when=datetime.now(UTC) - timedelta(minutes=16), nonce="old")
    stale = raw.post(url, headers=headers)
    assert (stale.status_code, stale.json()["Code"]) == (400, "InvalidTimeStamp.Expired")

    url, headers = signed(server, nonce="once", name="名前 * ~")
    assert raw.post(url, headers=headers).json()["Code"] == "OK"
    replay = raw.post(url, headers=headers)
    assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")
    assert set(replay.json()) >= {"Code", "Message", "RequestId"}


def test_a_burst_is_throttled(app: EmulatorApp, server: EmulatorServer) -> None:
    client = sdk_client(server)
    request = sdk.QueryChatappBindWabaRequest(cust_space_id=SPACE)

    def call(_: int) -> str:
        try:
            client.query_chatapp_bind_waba(request)
            return "OK"
        except AlibabaCloudException as exc:  # the SDK raises ThrottlingException here
            return str(exc.code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(call, range(30)))
    assert codes.count("Throttling.User") >= 10
    assert app.stats.throttled == codes.count("Throttling.User")


def test_stats_and_state_endpoints(app: EmulatorApp, server: EmulatorServer,
                                   raw: httpx.Client) -> None:
    sdk_client(server).query_chatapp_bind_waba(sdk.QueryChatappBindWabaRequest(
        cust_space_id=SPACE))
    stats = raw.get("/_emulator/stats").json()
    assert stats["calls"] == {"QueryChatappBindWaba": 1}
    assert (stats["throttled"], stats["faulted"]) == (0, 0)
    state = raw.get("/_emulator/state").json()
    assert state["spaces"][SPACE]["numbers"] == app.state.spaces[SPACE].numbers
    assert state["access_keys"][0] == {"id": "LTAI5tTestKey", "secret": "***"}  # never secrets
