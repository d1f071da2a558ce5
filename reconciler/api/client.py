"""The CAMS client: one async method per API operation, returning typed values.

This module owns the HTTP exchange. It signs each attempt (``signing``), sends it through an
injected httpx transport (the real network, or any other: the emulator package wires its
in-process transport in with ``reconciler.emulator.open_emulated_client``; this package knows
nothing of the emulator), maps every foreign
exception and every error answer onto ``errors`` exactly once, and applies the flow control
of ``flow``: one permit schedule and one concurrency bound for all calls, retries for reads.

Writes are different: AddChatappPhoneNumber is retried only when it certainly was not applied
(a throttled answer; a connection that never opened). When the outcome is unknown (a 5xx, or
a timeout/reset after the request went out) it raises :class:`AmbiguousWriteError`, and the
caller re-reads the space before deciding to add again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypedDict

import httpx

from reconciler import __version__
from reconciler.api.credential_types import Credentials, CredentialSource
from reconciler.api.credentials import resolve_credentials
from reconciler.api.endpoint import Endpoint, resolve_endpoint
from reconciler.api.errors import (
    AccountWideError,
    AmbiguousWriteError,
    CamsError,
    NetworkError,
    ResponseError,
    ServiceAnswer,
    ThrottledError,
    TransientError,
    classify_answer,
    is_account_wide,
)
from reconciler.api.exchange import exchange
from reconciler.api.flow import FlowControl, RetryPolicy
from reconciler.api.models import (
    BoundWaba,
    BusinessProfile,
    FieldReader,
    JSONValue,
    NotJson,
    NumbersResult,
    ProfileResult,
    WabaResult,
    parse_json,
)
from reconciler.api.operations import Operation
from reconciler.api.signing import RpcCall, sign_request

log = logging.getLogger(__name__)

DEFAULT_REGION = "ap-southeast-1"
USER_AGENT = f"camsctl/{__version__}"
MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""Largest answer read: a space's numbers take a few KiB; anything far larger is not CAMS."""


def _now() -> datetime:
    return datetime.now(UTC)


def _nonce() -> str:
    return uuid.uuid4().hex


def _retry_after_seconds(headers: httpx.Headers) -> float | None:
    raw = headers.get("x-acs-retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw) / 1000.0)  # the header is in milliseconds
    except ValueError:
        return None


def _is_retryable_read(failure: BaseException) -> bool:
    return isinstance(failure, ThrottledError | TransientError)


def _is_retryable_write(failure: BaseException) -> bool:
    # Only failures after which the add certainly did not happen: the service refused it
    # for rate (a throttled answer is given before the request is processed), or the
    # connection never opened, so nothing was sent.
    if isinstance(failure, ThrottledError):
        return True
    return isinstance(failure, NetworkError) and not failure.request_sent


class CamsClient:
    """Async CAMS client. Build it with :func:`open_client`; all calls share one flow control."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        credentials: CredentialSource,
        http: httpx.AsyncClient,
        flow: FlowControl,
        retry: RetryPolicy,
        timeout: float = 30.0,
        clock: Callable[[], datetime] = _now,
        nonce: Callable[[], str] = _nonce,
    ) -> None:
        self.endpoint = endpoint
        self._timeout = timeout
        self._identity: str | None = None  # of the credentials the last attempt used
        self._credentials = credentials
        self._http = http
        self.flow = flow
        self._retry = retry
        self._clock = clock
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"CamsClient(endpoint={self.endpoint.url!r})"

    async def authenticate(self) -> None:
        """Obtain credentials now (an OIDC exchange, say), so a failure is one clear error
        before any call rather than the same error once per call."""
        try:
            await self._credentials.credentials()
        except CamsError as exc:
            if is_account_wide(exc):  # STS refused the exchange
                raise AccountWideError(exc, None) from None
            raise

    # -- the five operations ------------------------------------------------------------

    async def add_phone_number(
        self, space_id: str, cc: str, phone_number: str, verified_name: str
    ) -> str:
        """AddChatappPhoneNumber; returns the RequestId.

        Raises AmbiguousWriteError when the add may or may not have been applied.
        """
        add = Operation.ADD_PHONE_NUMBER
        params = {"CustSpaceId": space_id, "Cc": cc, "PhoneNumber": phone_number,
                  "VerifiedName": verified_name}
        try:
            body = await self._call(add, params, _is_retryable_write)
        except NetworkError as exc:
            if not exc.request_sent:
                raise
            raise AmbiguousWriteError(add, exc) from None
        except TransientError as exc:  # HTTP 5xx: the service may have committed it
            raise AmbiguousWriteError(add, exc) from None
        except ResponseError as exc:  # an answer we cannot read: it may have been applied
            raise AmbiguousWriteError(add, exc) from None
        try:
            return body.required_str("RequestId")
        except ResponseError as exc:
            raise AmbiguousWriteError(add, exc) from None

    async def list_phone_numbers(
        self, space_id: str, isv_code: str | None = None
    ) -> NumbersResult:
        """QueryChatappPhoneNumbers: the numbers of a space."""
        params = {"CustSpaceId": space_id}
        if isv_code:
            params["IsvCode"] = isv_code
        body = await self._call(Operation.LIST_PHONE_NUMBERS, params, _is_retryable_read)
        return NumbersResult.from_api(body)

    async def sync_phone_numbers(self, space_id: str) -> NumbersResult:
        """ChatappSyncPhoneNumber: pull fresh data from WhatsApp, then list the space."""
        body = await self._call(Operation.SYNC_PHONE_NUMBERS, {"CustSpaceId": space_id},
                                _is_retryable_read)
        return NumbersResult.from_api(body)

    async def query_business_profile(self, space_id: str, phone_number: str) -> ProfileResult:
        """QueryPhoneBusinessProfile for a live number (digits, Cc + national number)."""
        params = {"CustSpaceId": space_id, "PhoneNumber": phone_number.lstrip("+")}
        body = await self._call(Operation.QUERY_BUSINESS_PROFILE, params, _is_retryable_read)
        return ProfileResult(
            request_id=body.required_str("RequestId"),
            profile=BusinessProfile.from_api(body.optional_object("Data")),
        )

    async def query_bind_waba(self, space_id: str, isv_code: str | None = None) -> WabaResult:
        """QueryChatappBindWaba; ``waba`` is None when the space has no WABA bound."""
        params = {"CustSpaceId": space_id}
        if isv_code:
            params["IsvCode"] = isv_code
        body = await self._call(Operation.QUERY_BIND_WABA, params, _is_retryable_read)
        return WabaResult(
            request_id=body.required_str("RequestId"),
            waba=BoundWaba.from_api(body.optional_object("Data")),
        )

    # -- one call ------------------------------------------------------------------------

    async def _call(
        self,
        action: Operation,
        params: Mapping[str, str],
        should_retry: Callable[[BaseException], bool],
    ) -> FieldReader:
        call = RpcCall(
            action=action,
            params=tuple(params.items()),
            host=self.endpoint.host,
            extra_headers=(("accept", "application/json"), ("user-agent", USER_AGENT)),
        )
        sent: list[float] = []  # holds the time.monotonic() of the first send, once sent
        try:
            async with self.flow.call():  # one slot for all attempts: a retry keeps its place
                async for attempt in self._retry.retrying(should_retry,
                                                          lambda: sent[0] if sent else None):
                    with attempt:
                        number = attempt.retry_state.attempt_number
                        return await self._attempt(call, number, sent)
        except CamsError as exc:
            if is_account_wide(exc):
                raise AccountWideError(exc, self._identity) from None
            raise
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    async def _attempt(self, call: RpcCall, number: int, sent: list[float]) -> FieldReader:
        operation = call.action
        permit = await self.flow.permit()
        if not sent:
            sent.append(time.monotonic())
        credentials: Credentials = await self._credentials.credentials()
        self._identity = credentials.identity
        signed = sign_request(call, credentials, self._clock(), self._nonce())
        request = self._http.build_request(
            "POST", f"{self.endpoint.url}/?{signed.query_string}", headers=signed.headers,
            content=b"")
        response = await exchange(self._http, request, operation=operation,
                                  host=self.endpoint.host, deadline=self._timeout,
                                  limit=MAX_ANSWER_BYTES)
        request_id = response.headers.get("x-acs-request-id")
        log.debug("%s attempt %d: HTTP %d (RequestId %s)", operation, number,
                  response.status_code, request_id)
        try:
            body = self._interpret(operation, response)
        except ThrottledError as exc:
            # The limiter slows down, and holds every call for the wait the service asked for,
            # but only a wait within the retry budget: a longer one ends this call (the budget
            # stops its retries) and must not hold back the others.
            wait = exc.retry_after
            self.flow.throttled(permit, wait if wait is not None
                                and wait < self._retry.max_elapsed else None)
            raise
        self.flow.succeeded(permit)
        return body

    def _interpret(self, operation: str, response: httpx.Response) -> FieldReader:
        status = response.status_code
        retry_after = _retry_after_seconds(response.headers)
        try:
            document: JSONValue = parse_json(response.content)
            unreadable = "not a JSON object"
        except NotJson as exc:
            document, unreadable = None, f"not a JSON object: {exc}"
        if not isinstance(document, dict):
            if 200 <= status < 300:
                raise ResponseError(operation, f"HTTP {status} with a body that is {unreadable}")
            answer = ServiceAnswer(
                http_status=status, code=f"HTTP{status}",
                message=response.reason_phrase or "answer without a JSON body",
                request_id=response.headers.get("x-acs-request-id"),
            )
            raise classify_answer(operation, answer, retry_after)
        rid = document.get("RequestId")
        body = FieldReader(operation, "response", document,
                           rid if isinstance(rid, str) else response.headers.get(
                               "x-acs-request-id"))
        code = body.optional_str("Code")
        if 200 <= status < 300 and code == "OK":
            return body
        if 200 <= status < 300 and code is None:
            raise ResponseError(operation, f"HTTP {status} answer without a Code")
        answer = ServiceAnswer(
            http_status=status,
            code=code or f"HTTP{status}",
            message=body.optional_str("Message") or "",
            request_id=body.optional_str("RequestId") or response.headers.get("x-acs-request-id"),
            # Read as text whatever their type: a detail we cannot parse must not turn a
            # denial into an unreadable answer (for an add, an ambiguous one).
            access_denied_detail=body.optional_text("AccessDeniedDetail"),
            recommend=body.optional_text("Recommend"),
        )
        raise classify_answer(operation, answer, retry_after)


class ClientOptions(TypedDict, total=False):
    """How a client calls, whatever it calls: the options of :func:`open_client` that other
    ways of opening a client (``open_emulated_client``) pass on. A missing key takes
    :func:`open_client`'s default."""

    qps: float
    parallelism: int
    credentials: CredentialSource
    retry: RetryPolicy
    timeout: float
    clock: Callable[[], datetime]
    nonce: Callable[[], str]


@asynccontextmanager
async def open_client(
    endpoint: str | None = None,
    region: str = DEFAULT_REGION,
    profile: str | None = None,
    qps: float = 10.0,
    parallelism: int = 8,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    credentials: CredentialSource | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = 30.0,
    clock: Callable[[], datetime] = _now,
    nonce: Callable[[], str] = _nonce,
) -> AsyncIterator[CamsClient]:
    """Build a client, and close its connections on exit.

    The endpoint comes from ``endpoint`` or ``region``, credentials from the chain (see
    ``credentials``) unless given. ``transport`` replaces the network (tests); ``clock`` and
    ``nonce`` supply ``x-acs-date`` and ``x-acs-signature-nonce`` (tests of stale or replayed
    requests).
    """
    resolved = resolve_endpoint(endpoint, region)
    if credentials is None:
        credentials = resolve_credentials(profile, timeout=timeout)
    http = httpx.AsyncClient(
        transport=transport,
        # The deadline of a whole answer is the client's (``exchange``); httpx's bounds the
        # connect alone, so a connection that never opens is known not to have sent anything.
        timeout=httpx.Timeout(None, connect=timeout),
        verify=True,  # TLS is always verified; plain http is limited to loopback (endpoint.py)
        follow_redirects=False,
        # Proxy and CA settings from the environment apply to the cloud, as in the vendor's
        # tools; a loopback emulator is never reached through a proxy.
        trust_env=not resolved.is_loopback,
    )
    client = CamsClient(
        endpoint=resolved,
        credentials=credentials,
        http=http,
        flow=FlowControl(qps, parallelism),
        retry=retry or RetryPolicy(),
        timeout=timeout,
        clock=clock,
        nonce=nonce,
    )
    try:
        yield client
    finally:
        await http.aclose()
