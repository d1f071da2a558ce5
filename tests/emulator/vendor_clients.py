"""The vendor's own clients, each driven the same way, for the emulator's contract tests.

Every kind below sends QueryChatappBindWaba to a socket emulator the way one of the vendor's
SDKs does, and reports what that SDK itself reported: ``(HTTP status, Code)``, taken from its
answer or from its own exception. Each can also pin the nonce and the time the SDK signs with,
through the SDK's own helpers, to replay a request or send a stale one; nothing else of the
SDK is touched.

| kind            | SDK                                        | scheme                     |
|-----------------|--------------------------------------------|----------------------------|
| v3-sha256       | alibabacloud-cams20200606 (default)        | V3 ACS3-HMAC-SHA256, POST  |
| v3-sm3          | alibabacloud-cams20200606, SM3             | V3 ACS3-HMAC-SM3, POST     |
| v1-modern       | alibabacloud-cams20200606, algorithm "v2"  | RPC V1 HMAC-SHA1, POST     |
| v1-request      | aliyun-python-sdk-cams request classes     | RPC V1 HMAC-SHA1, POST     |
| v1-common-get   | aliyun-python-sdk-core CommonRequest       | RPC V1 HMAC-SHA1, GET      |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pytest
from alibabacloud_cams20200606 import models as sdk
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils import Utils as ModernUtils
from alibabacloud_tea_openapi.utils_models import Config
from aliyunsdkcams.request.v20200606.QueryChatappBindWabaRequest import (
    QueryChatappBindWabaRequest,
)
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import AcsRequest, CommonRequest
from aliyunsdkcore.utils import parameter_helper

from reconciler.api.operations import API_VERSION
from reconciler.emulator import EmulatorServer

SPACE = "293483938849493"
KEY_ID, SECRET = "LTAI5tTestKey", "test-secret"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

Outcome = tuple[int, str]
"""(HTTP status, Code) as the client reported it."""
Caller = Callable[[EmulatorServer, str, str], Outcome]
"""Sends QueryChatappBindWaba with (server, AccessKey id, secret)."""


def modern_client(server: EmulatorServer, algorithm: str | None = None, key_id: str = KEY_ID,
                  secret: str = SECRET) -> Client:
    """The modern SDK; ``algorithm``: None (SHA-256), "ACS3-HMAC-SM3", or "v2" (RPC V1)."""
    return Client(Config(access_key_id=key_id, access_key_secret=secret,
                         endpoint=f"127.0.0.1:{server.port}", protocol="http",
                         signature_algorithm=algorithm))


def old_client(server: EmulatorServer, key_id: str = KEY_ID, secret: str = SECRET) -> AcsClient:
    """The old SDK's client, without its own retries (a test counts every call)."""
    return AcsClient(key_id, secret, "cn-hangzhou", port=server.port, auto_retry=False)


def to_emulator(request: AcsRequest) -> AcsRequest:
    """Point one of the old SDK's requests at the emulator (its endpoint, plain HTTP)."""
    request.set_endpoint("127.0.0.1")
    request.set_protocol_type("http")
    return request


def common_request(action: str, method: str = "GET") -> CommonRequest:
    request = CommonRequest(domain="127.0.0.1", version=API_VERSION, action_name=action)
    request.set_protocol_type("http")
    request.set_method(method)
    return request


def old_outcome(client: AcsClient, request: AcsRequest) -> Outcome:
    try:
        body = json.loads(client.do_action_with_exception(request))
    except ServerException as refused:
        return refused.get_http_status(), refused.get_error_code()
    return 200, str(body["Code"])


def _modern(algorithm: str | None) -> Caller:
    def call(server: EmulatorServer, key_id: str, secret: str) -> Outcome:
        try:
            answer = modern_client(server, algorithm, key_id, secret).query_chatapp_bind_waba(
                sdk.QueryChatappBindWabaRequest(cust_space_id=SPACE))
        except AlibabaCloudException as refused:
            return int(refused.status_code), str(refused.code)
        return int(answer.status_code), str(answer.body.code)
    return call


def _old_request_class(server: EmulatorServer, key_id: str, secret: str) -> Outcome:
    request = to_emulator(QueryChatappBindWabaRequest())
    request.set_CustSpaceId(SPACE)
    return old_outcome(old_client(server, key_id, secret), request)


def _old_common_get(server: EmulatorServer, key_id: str, secret: str) -> Outcome:
    request = common_request("QueryChatappBindWaba", "GET")
    request.add_query_param("CustSpaceId", SPACE)
    return old_outcome(old_client(server, key_id, secret), request)


@dataclass(frozen=True)
class Kind:
    """One way the vendor's clients call; see the module's table."""

    name: str
    call: Caller
    old_sdk: bool  # aliyun-python-sdk-core, else the modern SDK
    wrong_secret_code: str  # the Code the client itself reports for a wrong secret

    def query_waba(self, server: EmulatorServer, key_id: str = KEY_ID,
                   secret: str = SECRET) -> Outcome:
        return self.call(server, key_id, secret)

    def pin_nonce(self, monkeypatch: pytest.MonkeyPatch, nonce: str) -> None:
        """Make the SDK sign every request with ``nonce``."""
        if self.old_sdk:
            monkeypatch.setattr(parameter_helper, "get_uuid", lambda: nonce)
        else:
            monkeypatch.setattr(ModernUtils, "get_nonce", staticmethod(lambda: nonce))

    def pin_clock(self, monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
        """Make the SDK stamp every request with ``when`` (UTC)."""
        stamp = when.strftime(TIME_FORMAT)
        if self.old_sdk:
            monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: stamp)
        else:
            monkeypatch.setattr(ModernUtils, "get_timestamp", staticmethod(lambda: stamp))


KINDS = (
    Kind("v3-sha256", _modern(None), False, "SignatureDoesNotMatch"),
    Kind("v3-sm3", _modern("ACS3-HMAC-SM3"), False, "SignatureDoesNotMatch"),
    Kind("v1-modern", _modern("v2"), False, "SignatureDoesNotMatch"),
    # The old SDK reads the gateway's "server string to sign is:..." and, when it equals its
    # own string to sign, reports the wrong secret as such: the proof that the wording holds.
    Kind("v1-request", _old_request_class, True, "InvalidAccessKeySecret"),
    # A CommonRequest keeps its string to sign on an inner request, so the SDK compares the
    # server's with an empty one and keeps the gateway's code.
    Kind("v1-common-get", _old_common_get, True, "SignatureDoesNotMatch"),
)
