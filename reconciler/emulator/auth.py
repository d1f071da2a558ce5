"""Who a request to the emulator comes from, what it asks for, and whether its signature holds.

This module owns the request side of the emulated gateway, for every shape the vendor's SDKs
and tools send: the parameters (the query, and an ``application/x-www-form-urlencoded`` body),
the action (the ``x-acs-action`` header or the ``Action`` parameter), and the two signature
schemes, verified as the service does:

* Signature V3, ``ACS3-HMAC-SHA256`` or ``ACS3-HMAC-SM3``: an ``Authorization`` header over
  the signed headers, the canonical query and the body's hash (``x-acs-content-sha256``, in
  the algorithm's own hash), so a form body is covered too;
* RPC Signature V1, ``HMAC-SHA1``: ``Signature`` and its companions (``SignatureMethod``,
  ``SignatureVersion``, ``SignatureNonce``, ``Timestamp``, ``AccessKeyId``, optionally
  ``SecurityToken``) among the parameters, in the query or the form body, GET or POST. The
  string to sign is ``METHOD&%2F&`` followed by the percent-encoded canonical query of every
  parameter but ``Signature`` (query and form alike); the key is the secret followed by ``&``;
  the signature is the Base64 of the HMAC.

For both: the signature's parts are present and complete (else ``IncompleteSignature``) and
its AccessKey is known (``InvalidAccessKeyId.NotFound``; a temporary key needs its valid
security token); then the API version is this one, the time is well formed and within 15
minutes (``InvalidTimeStamp.*``), and the signature is right (``SignatureDoesNotMatch``).
The nonce is handed back, not stored: the app records it once a request passes, and refuses
a reused one. Nothing here reads the clock: the time of the check is an argument.

Wording per scheme: V1's ``SignatureDoesNotMatch`` message ends with ``server string to sign
is:`` and the server's string to sign, as the RPC gateway says it. The old Python SDK
(``aliyunsdkcore``) splits that message at the colon and compares the text with its own string
to sign, to tell a wrong secret (``InvalidAccessKeySecret``) from a badly built request; any
other wording makes it fail with an ``IndexError`` instead of its ``ServerException``.

Choices where the service's behaviour is not documented (kept here, in one place):

* a request with an ``Authorization`` header is read as V3, whatever else it holds;
* a parameter both in the query and in the form body counts with the body's value (the one the
  old SDK signs);
* the action is the one the signature covers: V3's ``x-acs-action`` header, V1's ``Action``
  parameter (the old SDK also sends an unsigned ``x-acs-action``); the other is read only when
  that one is absent;
* V1 answers are JSON only: ``Format=XML`` is refused with HTTP 400 ``InvalidParameter`` rather
  than answered in a shape the emulator does not know; no ``Format`` is answered in JSON;
* SM3 comes from this Python's OpenSSL; without it, an ``ACS3-HMAC-SM3`` request is refused
  ``IncompleteSignature`` with a message saying why.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol
from urllib.parse import parse_qsl

from reconciler.api.operations import API_VERSION
from reconciler.api.signing import (
    algorithm_available,
    canonical_query,
    compute_signature,
    parse_authorization,
    payload_hash,
    percent_encode,
)
from reconciler.emulator.sts import TemporaryKey

MAX_CLOCK_SKEW_SECONDS = 15 * 60
V3_SIGNED_REQUIRED = ("host", "x-acs-action", "x-acs-version", "x-acs-date",
                      "x-acs-signature-nonce", "x-acs-content-sha256")
RPC_SIGNATURE_METHOD = "HMAC-SHA1"
RPC_SIGNATURE_VERSION = "1.0"
RPC_SIGNED_REQUIRED = ("AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce",
                       "Timestamp")
RPC_MISMATCH = "Specified signature is not matched with our calculation. server string to sign is:"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # x-acs-date and Timestamp alike: UTC, to the second
FORM_TYPE = "application/x-www-form-urlencoded"


class SignedRequest(Protocol):
    """What verification reads of a request (the app's ``ApiRequest`` is one)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def raw_query(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...  # names lowercased
    @property
    def body(self) -> bytes: ...
    @property
    def params(self) -> Mapping[str, str]: ...  # what request_parameters gives


@dataclass(frozen=True)
class Refusal(Exception):
    """The service's answer to a request it does not accept: HTTP status, Code, Message."""

    status: int
    code: str
    message: str


@dataclass(frozen=True)
class Verified:
    """A request whose signature holds: who sent it, and the nonce to record as used."""

    access_key_id: str
    nonce: str


class Scheme(StrEnum):
    """How a request is signed, as far as its shape says."""

    V3 = "V3"
    RPC_V1 = "RPC V1"
    UNSIGNED = "unsigned"


_INCOMPLETE = Refusal(400, "IncompleteSignature",
                      "The request signature does not conform to Aliyun standards.")


def _is_form(headers: Mapping[str, str]) -> bool:
    media_type = headers.get("content-type", "").partition(";")[0]
    return media_type.strip().lower() == FORM_TYPE


def request_parameters(raw_query: str, headers: Mapping[str, str],
                       body: bytes) -> dict[str, str]:
    """The parameters of a request: its query, then its form body (whose values win)."""
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    if body and _is_form(headers):
        # Not UTF-8: the replacement characters then spoil a V1 signature, as they should.
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def scheme_of(request: SignedRequest) -> Scheme:
    if "authorization" in request.headers:
        return Scheme.V3
    if "Signature" in request.params:
        return Scheme.RPC_V1
    return Scheme.UNSIGNED


def requested_action(request: SignedRequest) -> str:
    """The action asked for: the signed one first (see the module's choices); '' if none."""
    header = request.headers.get("x-acs-action", "")
    parameter = request.params.get("Action", "")
    if scheme_of(request) is Scheme.RPC_V1:
        return parameter or header
    return header or parameter


def verify(request: SignedRequest, keys: Mapping[str, str],
           temporary: Mapping[str, TemporaryKey], now: float) -> Verified:
    """Check the request's signature at time ``now`` (epoch seconds); raise a Refusal if not.

    ``keys`` maps long-term AccessKey ids to their secrets; ``temporary`` holds the keys STS
    handed out.
    """
    scheme = scheme_of(request)
    if scheme is Scheme.V3:
        return _verify_v3(request, keys, temporary, now)
    if scheme is Scheme.RPC_V1:
        return _verify_rpc_v1(request, keys, temporary, now)
    raise _INCOMPLETE


def _secret(key_id: str, token: str | None, keys: Mapping[str, str],
            temporary: Mapping[str, TemporaryKey], now: float) -> str:
    """The secret of ``key_id``; a temporary key also needs its valid security token."""
    secret = keys.get(key_id)
    if secret is not None:
        return secret
    key = temporary.get(key_id)
    if key is None:
        raise Refusal(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    if token is None:
        raise Refusal(400, "MissingSecurityToken",
                      "SecurityToken is mandatory for a temporary access key.")
    if not _same(token, key.security_token):
        raise Refusal(400, "InvalidSecurityToken.MismatchWithAccessKey",
                      "The security token does not match the access key.")
    if now >= key.expires:
        raise Refusal(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
    return key.secret


def _same(given: str, expected: str) -> bool:
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters, and what a
    # client sends may hold anything.
    return hmac.compare_digest(given.encode("utf-8", "replace"),
                               expected.encode("utf-8", "replace"))


def _check_version(version: str) -> None:
    if version != API_VERSION:
        raise Refusal(400, "InvalidVersion", "Specified parameter Version is not valid.")


def _check_time(stamp: str, now: float) -> None:
    try:
        sent_at = datetime.strptime(stamp, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise Refusal(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is "
                      "not well formatted.") from None
    if abs(now - sent_at.timestamp()) > MAX_CLOCK_SKEW_SECONDS:
        raise Refusal(400, "InvalidTimeStamp.Expired",
                      "Specified time stamp or date value is expired.")


def _verify_v3(request: SignedRequest, keys: Mapping[str, str],
               temporary: Mapping[str, TemporaryKey], now: float) -> Verified:
    auth = parse_authorization(request.headers.get("authorization", ""))
    if auth is None:
        raise _INCOMPLETE
    headers = request.headers
    secret = _secret(auth.access_key_id, headers.get("x-acs-security-token"), keys, temporary,
                     now)
    signed = {name.lower() for name in auth.signed_headers}
    present_acs = {name for name in headers if name.startswith("x-acs-")}
    if not set(V3_SIGNED_REQUIRED) <= signed or not present_acs <= signed \
            or not signed <= set(headers):
        raise _INCOMPLETE
    if not algorithm_available(auth.algorithm):
        raise Refusal(400, "IncompleteSignature", f"{auth.algorithm} cannot be verified here: "
                      "this Python's OpenSSL has no SM3.")
    _check_version(headers["x-acs-version"])
    _check_time(headers["x-acs-date"], now)
    expected = compute_signature(
        method=request.method,
        path=request.path,
        query=parse_qsl(request.raw_query, keep_blank_values=True),
        headers=headers,
        signed_headers=signed,
        # The hash of the body received, not the header's claim: a changed body must fail.
        body_sha256=payload_hash(request.body, auth.algorithm),
        secret=secret,
        algorithm=auth.algorithm,
    )
    if not _same(auth.signature.lower(), expected):
        raise Refusal(400, "SignatureDoesNotMatch",
                      "Specified signature does not match our calculation.")
    return Verified(auth.access_key_id, headers["x-acs-signature-nonce"])


def rpc_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """V1's string to sign: ``METHOD&%2F&`` + percent-encoded canonical query (no Signature)."""
    canonical = canonical_query((name, value) for name, value in params.items()
                                if name != "Signature")
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def rpc_signature(string_to_sign: str, secret: str) -> str:
    """V1's signature: Base64 of HMAC-SHA1 keyed with the secret and ``&``."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode("utf-8"), "sha1").digest()
    return base64.b64encode(digest).decode("ascii")


def _verify_rpc_v1(request: SignedRequest, keys: Mapping[str, str],
                   temporary: Mapping[str, TemporaryKey], now: float) -> Verified:
    params = request.params
    if not all(params.get(name) for name in RPC_SIGNED_REQUIRED) \
            or params["SignatureMethod"] != RPC_SIGNATURE_METHOD \
            or params["SignatureVersion"] != RPC_SIGNATURE_VERSION:
        raise _INCOMPLETE
    secret = _secret(params["AccessKeyId"], params.get("SecurityToken"), keys, temporary, now)
    version = params.get("Version", "")
    if not version:
        raise Refusal(400, "MissingVersion", "Version is mandatory for this action.")
    _check_version(version)
    _check_time(params["Timestamp"], now)
    string_to_sign = rpc_string_to_sign(request.method, params)
    if not _same(params["Signature"], rpc_signature(string_to_sign, secret)):
        raise Refusal(400, "SignatureDoesNotMatch", RPC_MISMATCH + string_to_sign)
    if params.get("Format", "JSON").upper() != "JSON":
        raise Refusal(400, "InvalidParameter", "The emulator answers in JSON only: send "
                      "Format=JSON or no Format.")
    return Verified(params["AccessKeyId"], params["SignatureNonce"])
