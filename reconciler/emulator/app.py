"""The CAMS emulator: one ASGI app serving the five operations the way the service does.

This module owns the emulated service's behaviour, reached in-process through
``inprocess.py`` (an httpx transport, and a client wired to it) or on a socket through
``server.py``. Per request, in the
service's order: the action must be one of the five; the signature is verified (``auth.py``:
V3 in SHA-256 or SM3, or RPC V1; unknown key, malformed or stale time, wrong signature are
refused with the service's codes) and a reused nonce refused; the request travels to the rate
limit (the inbound share of the latency); the per-AccessKey rate limit applies; the answer
is worked out and travels back (the rest); then seeded faults; then the operation runs against the
:class:`EmulatorState`.

Choices where the service's behaviour is not documented (kept here, in one place):

* rate limit: ``qps`` per AccessKey, counted by one of the algorithms of ``ratelimits``
  (token bucket by default, fixed or sliding window); a refused call is answered HTTP 400
  ``Throttling.User`` with ``x-acs-retry-after`` (milliseconds, rounded up, until a call
  would be admitted);
* latency: ``latency_ms`` per answer, throttled answers included, in two parts: the way in,
  ``latency_inbound`` of it (0.1), before the rate limit counts the call; the rest after it.
  The way in is the network's trip to the gateway; the rest is mostly the service's work and
  the way back, which vary far more than a network's one-way trip does. With
  ``latency_jitter`` (a share, 0.2 for ±20 %) each part is drawn uniformly within that share
  of itself, from the fault plan's seed: calls sent evenly then reach the rate limit
  unevenly, as over a network (by up to ``2 * jitter * inbound * latency``: 10 ms at
  250 ms ± 20 %). ``latency_inbound=0.5`` gives the harsher model of half the latency, and
  half the jitter, before the count;
* adding a number that exists in any space: HTTP 400 ``PhoneNumber.AlreadyExists`` (another
  code with ``exists_code``: clients must not depend on the code);
* a profile asked for a number the space does not have: HTTP 400 ``PhoneNumber.NotExists``;
* QueryChatappBindWaba for a space with no WABA: ``Code: OK`` and no ``Data``;
* eventual consistency (``visibility_delay_ms``, off by default): an added number exists at
  once (a second add is refused) but is listed only after the delay, as a replicated
  service may;
* a missing required parameter: HTTP 400 ``Missing<Name>`` (the OpenAPI gateway's pattern);
  ``CustSpaceId`` is required by every operation here (the client always sends it);
* ``IsvCode`` and ``Status`` filters: ``Status`` filters the list, ``IsvCode`` is accepted and
  not checked;
* the lifecycle (``lifecycle.py``): a number added through the API is PENDING until
  ``connect_after`` seconds after its add, then CONNECTED; checked at each request;
* ``POST /_emulator/reset`` goes back to the state the app started with (:meth:`reset`);
* STS ``AssumeRoleWithOIDC`` (``sts.py``) is answered by the same app when the query says
  ``Action=AssumeRoleWithOIDC``; its temporary keys need their ``x-acs-security-token``
  (HTTP 400 ``MissingSecurityToken``, ``InvalidSecurityToken.MismatchWithAccessKey``,
  ``InvalidSecurityToken.Expired``); long-term keys ignore the header.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from reconciler.api.models import JSONObject, JSONValue
from reconciler.api.operations import ASSUME_ROLE_WITH_OIDC, Operation
from reconciler.emulator.auth import (
    MAX_CLOCK_SKEW_SECONDS,
    Refusal,
    request_parameters,
    requested_action,
    verify,
)
from reconciler.emulator.faults import Fault, FaultInjector, FaultPlan
from reconciler.emulator.lifecycle import advance
from reconciler.emulator.ratelimits import Algorithm, RateLimit, new_rate_limit
from reconciler.emulator.state import EmulatorState, StateNotKept, dump_state
from reconciler.emulator.sts import StsRefusal, TemporaryKey, assume_role_with_oidc

# ASGI's message dicts are untyped by specification; ``Any`` stays inside this file's
# ASGI entry point and never reaches the operations.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HOST_ID = "cams.emulator.localhost"


class ConnectionDropped(Exception):
    """Raised by the app when the connection must end without an answer (a fault).

    The socket server aborts the TCP connection; the in-process transport raises the httpx
    error a real dropped connection produces.
    """


@dataclass(frozen=True)
class ServiceFault(Exception):
    """An error answer of the service: HTTP status, Code, Message (and optional headers)."""

    status: int
    code: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def _missing(name: str) -> ServiceFault:
    return ServiceFault(400, f"Missing{name}", f"{name} is mandatory for this action.")


@dataclass
class Stats:
    """What ``GET /_emulator/stats`` reports."""

    calls: Counter[str] = field(default_factory=Counter)  # per action, every request received
    throttled: int = 0  # answered Throttling.User by the rate limit (faults not included)
    faulted: int = 0  # spoiled by fault injection
    faults: Counter[str] = field(default_factory=Counter)  # per fault kind
    rejected: Counter[str] = field(default_factory=Counter)  # refused before running, per Code

    def as_json(self) -> JSONObject:
        return {
            "calls": dict(sorted(self.calls.items())),
            "total_calls": sum(self.calls.values()),
            "throttled": self.throttled,
            "faulted": self.faulted,
            "faults": dict(sorted(self.faults.items())),
            "rejected": dict(sorted(self.rejected.items())),
        }


@dataclass(frozen=True)
class ApiRequest:
    """An HTTP request as the operations see it: decoded parameters and lowercased headers."""

    method: str
    path: str
    raw_query: str
    headers: Mapping[str, str]
    body: bytes
    client: str

    @cached_property  # read by the action, the signature and the operation: parsed once
    def params(self) -> dict[str, str]:
        """Query and form-body parameters (``auth.request_parameters``)."""
        return request_parameters(self.raw_query, self.headers, self.body)


_ANSWER_FAULTS = (Fault.LOST_ADD, Fault.NO_LIST)
"""Faults that let the operation run and then spoil its answer."""


class EmulatorApp:
    """The ASGI application. ``state`` is changed in place by adds (and reported by /state)."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        qps: float = 10.0,
        limiter: Algorithm | str = Algorithm.BUCKET,
        latency_ms: float = 0.0,
        latency_jitter: float = 0.0,
        latency_inbound: float = 0.1,
        faults: FaultPlan | None = None,
        visibility_delay_ms: float = 0.0,
        exists_code: str = "PhoneNumber.AlreadyExists",
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_change: Callable[[EmulatorState], None] | None = None,
    ) -> None:
        self.state = state
        self._started_with = state.copy()  # what reset() goes back to
        self.qps = qps
        self.limiter = Algorithm(limiter)  # ValueError for an unknown name
        if not 0.0 <= latency_jitter <= 1.0:
            raise ValueError(f"latency jitter must be between 0 and 1, got {latency_jitter}")
        if not 0.0 <= latency_inbound <= 1.0:
            raise ValueError(f"the inbound share of the latency must be between 0 and 1, got "
                             f"{latency_inbound}")
        self.latency = latency_ms / 1000.0
        self.latency_jitter = latency_jitter
        self.latency_inbound = latency_inbound
        # Eventual consistency: an added number is listed only this long after its add.
        self.visibility_delay = visibility_delay_ms / 1000.0
        self._visible_at: dict[str, float] = {}
        self.exists_code = exists_code
        self.faults = FaultInjector(faults or FaultPlan())
        # Its own generator: drawing latencies must not move which calls meet which faults.
        self._jitter = random.Random(self.faults.plan.seed)
        self.stats = Stats()
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._sleep = sleep  # of the latency
        self._on_change = on_change
        self._limits: dict[str, RateLimit] = {}
        self.temporary_keys: dict[str, TemporaryKey] = {}  # handed out by AssumeRoleWithOIDC
        # Nonces seen per key, oldest first, forgotten once older than the clock-skew window
        # (a request that old is refused as stale anyway).
        self._nonces: dict[str, OrderedDict[str, float]] = {}
        self._operations: dict[str, Callable[[dict[str, str]], JSONObject]] = {
            Operation.ADD_PHONE_NUMBER: self._add_number,
            Operation.LIST_PHONE_NUMBERS: self._list_numbers,
            Operation.SYNC_PHONE_NUMBERS: self._list_numbers,
            Operation.QUERY_BUSINESS_PROFILE: self._query_profile,
            Operation.QUERY_BIND_WABA: self._query_waba,
        }

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # HTTP only: both ways in (server.py and httpx's ASGI transport) send nothing else,
        # no lifespan events; the app has nothing to start or stop anyway.
        if scope["type"] != "http":
            return
        parts: list[bytes] = []  # joined once: adding bytes chunk by chunk is quadratic
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            parts.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        client = scope.get("client")
        request = ApiRequest(
            method=str(scope["method"]).upper(),
            path=str(scope["path"]),
            raw_query=bytes(scope.get("query_string", b"")).decode("ascii", "replace"),
            headers={bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
                     for k, v in scope["headers"]},
            body=body,
            client=f"{client[0]}:{client[1]}" if client else "-",
        )
        status, headers, payload = await self.handle(request)
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        })
        await send({"type": "http.response.body", "body": payload})

    # -- one request -----------------------------------------------------------------------

    async def handle(self, request: ApiRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer one request; raises ConnectionDropped when the answer must be lost."""
        request_id = str(uuid.uuid4()).upper()
        self.advance_lifecycle()
        if request.path.startswith("/_emulator/"):
            return self._control(request, request_id)
        if "x-acs-action" not in request.headers \
                and request.params.get("Action") == ASSUME_ROLE_WITH_OIDC:
            return self._sts(request, request_id)
        try:
            body = await self._api(request)
            return self._answer(200, {**body, "RequestId": request_id}, request_id)
        except ServiceFault as answer:
            error: JSONObject = {
                "RequestId": request_id,
                "HostId": HOST_ID,
                "Code": answer.code,
                "Message": answer.message,
                "Recommend": f"https://api.aliyun.com/troubleshoot?q={answer.code}"
                             f"&product=Cams&requestId={request_id}",
            }
            return self._answer(answer.status, error, request_id, answer.headers)

    def _answer(
        self, status: int, body: JSONObject, request_id: str,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = [("content-type", "application/json;charset=utf-8"),
                   ("content-length", str(len(payload))),
                   ("x-acs-request-id", request_id), *extra]
        return status, headers, payload

    def _sts(self, request: ApiRequest, request_id: str
             ) -> tuple[int, list[tuple[str, str]], bytes]:
        self.stats.calls[ASSUME_ROLE_WITH_OIDC] += 1
        try:
            key_id, key, body = assume_role_with_oidc(self.state, request.params,
                                                      self._wall_clock())
        except StsRefusal as refusal:
            self.stats.rejected[refusal.code] += 1
            return self._answer(refusal.status, {"RequestId": request_id, "HostId": "sts",
                                                 "Code": refusal.code,
                                                 "Message": refusal.message}, request_id)
        self.temporary_keys[key_id] = key
        return self._answer(200, {"RequestId": request_id, **body}, request_id)

    def _control(self, request: ApiRequest, request_id: str
                 ) -> tuple[int, list[tuple[str, str]], bytes]:
        if request.method == "GET" and request.path == "/_emulator/stats":
            return self._answer(200, self.stats.as_json(), request_id)
        if request.method == "GET" and request.path == "/_emulator/state":
            # Never the secrets: anyone who reaches the port may ask.
            return self._answer(200, dump_state(self.state, redact=True), request_id)
        if request.method == "POST" and request.path == "/_emulator/reset":
            self.reset()
            return self._answer(200, {"Code": "OK", "Message": "The emulator is back to the "
                                      "state it started with.", "RequestId": request_id},
                                request_id)
        return self._answer(404, {"Code": "NotFound", "Message": "GET /_emulator/stats, GET "
                                  "/_emulator/state or POST /_emulator/reset",
                                  "RequestId": request_id}, request_id)

    def reset(self, state: EmulatorState | None = None) -> None:
        """Go back to the state the app started with; with ``state``, to that one (which
        becomes the state reset goes back to from then on).

        The account (spaces, numbers, keys, lifecycle) and the stats start again, and so do
        eventual-consistency delays and the fault draws (from their seed). What belongs to
        clients stays: STS keys handed out, nonces used, rate-limit buckets. ``state`` is
        replaced, not changed in place.
        """
        if state is not None:
            self._started_with = state.copy()
        self.state = self._started_with.copy()
        self._visible_at.clear()
        self.stats = Stats()
        self.faults = FaultInjector(self.faults.plan)
        self._keep()

    def _keep(self) -> str | None:
        """Hand the changed state to ``on_change``; the reason if it could not be kept."""
        if self._on_change is None:
            return None
        try:
            self._on_change(self.state)
        except (OSError, StateNotKept) as exc:
            return str(exc)
        return None

    def advance_lifecycle(self) -> None:
        """Connect the numbers whose time has come (each request does it first)."""
        if advance(self.state, self._wall_clock()):
            # If it cannot be kept, the kept copy still holds each add's time and catches up.
            self._keep()

    async def _api(self, request: ApiRequest) -> JSONObject:
        action = requested_action(request)
        if request.path != "/" or request.method not in ("POST", "GET"):
            raise ServiceFault(404, "InvalidAction.NotFound",
                               "Specified api is not found, please check your url and method.")
        if action not in self._operations:
            self.stats.rejected["InvalidAction.NotFound"] += 1
            raise ServiceFault(404, "InvalidAction.NotFound",
                               f"Specified api {action or '(no action)'} is not found, "
                               "please check your url and method.")
        self.stats.calls[action] += 1
        try:
            key_id = self._verify(request)
        except ServiceFault as refusal:
            self.stats.rejected[refusal.code] += 1
            raise
        await self._travel(self.latency_inbound)  # the rate limit counts a call as it arrives
        wait = self._limit(key_id).take()
        await self._travel(1.0 - self.latency_inbound)  # for every answer from here on
        if wait is not None:
            self.stats.throttled += 1
            raise self._throttling(wait)
        fault = self.faults.draw(action)
        if fault is not None and fault not in _ANSWER_FAULTS:
            self.stats.faulted += 1
            self.stats.faults[fault.value] += 1
            if fault is Fault.THROTTLE:
                raise self._throttling(1.0 / self.qps)
            if fault is Fault.SERVER:
                raise ServiceFault(503, "ServiceUnavailable", "The request has failed due to a "
                                   "temporary failure of the server.")
            raise ConnectionDropped(action)
        try:
            body = self._operations[action](request.params)
        except ServiceFault as refusal:  # e.g. PhoneNumber.AlreadyExists: counted like the rest
            self.stats.rejected[refusal.code] += 1
            raise
        if fault is not None:  # the operation ran; its answer is spoiled
            self.stats.faulted += 1
            self.stats.faults[fault.value] += 1
            if fault is Fault.NO_LIST:
                return {key: value for key, value in body.items() if key != "PhoneNumbers"}
            raise ConnectionDropped(action)  # committed above; the answer is lost
        return body

    async def _travel(self, share: float) -> None:
        """``share`` of the latency, within the jitter."""
        if self.latency <= 0 or share <= 0:
            return
        part = self.latency * share
        if self.latency_jitter > 0:
            part *= 1.0 + self._jitter.uniform(-self.latency_jitter, self.latency_jitter)
        await self._sleep(part)

    def _throttling(self, wait: float) -> ServiceFault:
        # Rounded up (less a microsecond of float error): a client that waits this long is
        # admitted.
        millis = max(1, math.ceil(wait * 1000 - 1e-3))
        return ServiceFault(400, "Throttling.User", "Request was denied due to user flow "
                            "control.", (("x-acs-retry-after", str(millis)),))

    def _limit(self, key_id: str) -> RateLimit:
        limit = self._limits.get(key_id)
        if limit is None:
            limit = self._limits[key_id] = new_rate_limit(
                self.limiter, self.qps, monotonic=self._monotonic, wall_clock=self._wall_clock)
        return limit

    # -- signature verification ------------------------------------------------------------

    def _verify(self, request: ApiRequest) -> str:
        """Check the signature (any scheme, ``auth.py``) and the nonce; return the AccessKeyId."""
        now = self._wall_clock()
        try:
            verified = verify(request, self.state.access_keys, self.temporary_keys, now)
        except Refusal as refusal:
            raise ServiceFault(refusal.status, refusal.code, refusal.message) from None
        self._use_nonce(verified.access_key_id, verified.nonce, now)
        return verified.access_key_id

    def _use_nonce(self, key_id: str, nonce: str, now: float) -> None:
        seen = self._nonces.setdefault(key_id, OrderedDict())
        while seen:
            oldest, stamp = next(iter(seen.items()))
            if now - stamp <= 2 * MAX_CLOCK_SKEW_SECONDS:
                break
            del seen[oldest]
        if nonce in seen:
            raise ServiceFault(400, "SignatureNonceUsed",
                               "Specified signature nonce was used already.")
        seen[nonce] = now

    # -- the operations --------------------------------------------------------------------

    def _space(self, params: dict[str, str]) -> str:
        space_id = params.get("CustSpaceId", "")
        if not space_id:
            raise _missing("CustSpaceId")
        if space_id not in self.state.spaces:
            raise ServiceFault(400, "Unknown.ResourceOwnerId",
                               "The resource does not belong to the current user.")
        return space_id

    def _list_numbers(self, params: dict[str, str]) -> JSONObject:
        space_id = self._space(params)
        wanted = params.get("Status")
        now = self._monotonic()
        numbers: list[JSONValue] = [
            dict(n) for n in self.state.spaces[space_id].numbers
            if (not wanted or n.get("Status") == wanted)
            and self._visible_at.get(str(n.get("PhoneNumber")), now) <= now
        ]
        return {"Code": "OK", "Message": "SUCCESS", "Success": True, "PhoneNumbers": numbers}

    def _query_profile(self, params: dict[str, str]) -> JSONObject:
        space_id = self._space(params)
        phone = params.get("PhoneNumber", "").lstrip("+")
        if not phone:
            raise _missing("PhoneNumber")
        space = self.state.spaces[space_id]
        if not any(n.get("PhoneNumber") == phone for n in space.numbers):
            raise ServiceFault(400, "PhoneNumber.NotExists",
                               f"The phone number {phone} does not exist in this space.")
        return {"Code": "OK", "Message": "SUCCESS", "Success": True,
                "Data": dict(space.profiles.get(phone, {}))}

    def _query_waba(self, params: dict[str, str]) -> JSONObject:
        space_id = self._space(params)
        waba = self.state.spaces[space_id].waba
        body: JSONObject = {"Code": "OK", "Message": "SUCCESS", "Success": True}
        if waba is not None:
            body["Data"] = dict(waba)
        return body

    def _add_number(self, params: dict[str, str]) -> JSONObject:
        space_id = self._space(params)
        for name in ("Cc", "PhoneNumber", "VerifiedName"):
            if not params.get(name, "").strip():
                raise _missing(name)
        cc, national = params["Cc"].strip().lstrip("+"), params["PhoneNumber"].strip()
        if not (cc.isdigit() and 1 <= len(cc) <= 3):
            raise ServiceFault(400, "InvalidParameter", "Cc must be a country calling code "
                               "of 1 to 3 digits.")
        if not (national.isdigit() and 4 <= len(national) <= 14):
            raise ServiceFault(400, "InvalidParameter", "PhoneNumber must be the national "
                               "number, digits only.")
        digits = cc + national
        if self.state.find_number(digits) is not None:
            raise ServiceFault(400, self.exists_code, f"The phone number {digits} "
                               "already exists in a WhatsApp Business Account.")
        number: JSONObject = {
            "PhoneNumber": digits,
            "VerifiedName": params["VerifiedName"].strip(),
            "Status": "PENDING",
            "NameStatus": "PENDING_REVIEW",
            "QualityRating": "UNKNOWN",
        }
        numbers = self.state.spaces[space_id].numbers
        numbers.append(number)
        self.state.pending[digits] = self._wall_clock()
        problem = self._keep()
        if problem is not None:  # not kept: undone, and the client told so
            numbers.remove(number)
            del self.state.pending[digits]
            raise ServiceFault(500, "InternalError", "The request processing has failed due "
                               f"to some unknown error: the emulator could not keep its state "
                               f"({problem}).")
        if self.visibility_delay > 0:
            self._visible_at[digits] = self._monotonic() + self.visibility_delay
        return {"Code": "OK", "Message": "SUCCESS", "Success": True}

