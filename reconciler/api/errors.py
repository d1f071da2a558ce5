"""The one error tree of the CAMS client: every failure a caller can see is one of these.

Foreign exceptions (httpx, json, OS errors reading the aliyun config) are mapped once, at the
boundary where they happen (``client.py``, ``credentials.py``); nothing above the client ever
has to catch an httpx or json exception. Every message names the operation it concerns and
never contains a secret (AccessKey secret, STS token, Authorization header).

    CamsError
    ├── ConfigurationError        the client cannot be set up: bad endpoint, plain http to a
    │   └── CredentialsNotFound   non-loopback host, unreadable aliyun config; no call was made
    ├── ApiError                  the service answered a Code other than OK (.code, .message,
    │   │                         .request_id, .http_status); never retried; a RAM denial
    │   │                         also quotes AccessDeniedDetail and Recommend
    │   ├── AuthenticationError   credentials refused: InvalidAccessKeyId.*, SignatureDoesNotMatch,
    │   │                         InvalidSecurityToken.*, InvalidTimeStamp.*, SignatureNonceUsed
    │   ├── ThrottledError        Throttling*, System.LimitControl, HTTP 429 (.retry_after)
    │   └── ServerError           HTTP 5xx; also a TransientError
    ├── TransientError            a read that may succeed if tried again (retried before raising)
    │   ├── ServerError
    │   └── NetworkError          connect/read failure, timeout, reset (.request_sent)
    ├── AmbiguousWriteError       a write whose outcome is unknown (lost or unreadable answer,
    │                             5xx): re-read, then decide
    ├── AccountWideError          one of the above that every call would meet (credentials,
    │                             subscription, RAM denial, unreachable endpoint): stop
    └── ResponseError             an answer that is not the API's JSON shape
"""

from __future__ import annotations

from dataclasses import dataclass


class CamsError(Exception):
    """Base of every error raised by ``reconciler.api``; ``operation`` is the API action or ''."""

    def __init__(self, operation: str, message: str) -> None:
        self.operation = operation
        self.detail = message
        super().__init__(f"{operation}: {message}" if operation else message)


class ConfigurationError(CamsError):
    """The client cannot be built as configured; raised before any call is made."""

    def __init__(self, message: str) -> None:
        super().__init__("", message)


class CredentialsNotFound(ConfigurationError):
    """No link of the credential chain found usable credentials."""


# Codes by which RAM refuses an action to these credentials (the SPEC's list); such an answer
# usually carries AccessDeniedDetail, which says which action, principal and policy type.
RAM_DENIAL_CODES = frozenset({"Ram.PermissionDeny", "Forbidden.RAM"})


@dataclass(frozen=True)
class ServiceAnswer:
    """What the service said when a call failed: the API's own error fields.

    ``access_denied_detail`` is the service's text, or its JSON object rendered compactly; it
    names the denied action and the principal (never a key or token).
    """

    http_status: int
    code: str
    message: str
    request_id: str | None
    access_denied_detail: str | None = None
    recommend: str | None = None

    @property
    def is_denial(self) -> bool:
        return self.access_denied_detail is not None or self.code in RAM_DENIAL_CODES

    @property
    def notes(self) -> str:
        """What to quote after the message, in parentheses: the RequestId and, for a denial,
        AccessDeniedDetail and Recommend; '' when there is nothing to quote.

        A denial cannot be fixed without its detail (which action, which principal), so it
        gets the detail and the troubleshooting link; other answers keep only their RequestId,
        as the link would add a long URL to every failed add.
        """
        notes = [f"RequestId {self.request_id}"] if self.request_id else []
        if self.is_denial:
            if self.access_denied_detail is not None:
                notes.append(f"AccessDeniedDetail: {self.access_denied_detail}")
            if self.recommend:
                notes.append(f"Recommend: {self.recommend}")
        return f" ({'; '.join(notes)})" if notes else ""


class ApiError(CamsError):
    """The service answered with an error ``Code`` (HTTP 4xx, or a 200 whose Code is not OK)."""

    def __init__(self, operation: str, answer: ServiceAnswer) -> None:
        self.answer = answer
        super().__init__(
            operation, f"HTTP {answer.http_status} {answer.code}: {answer.message}{answer.notes}"
        )

    @property
    def code(self) -> str:
        return self.answer.code

    @property
    def message(self) -> str:
        return self.answer.message

    @property
    def request_id(self) -> str | None:
        return self.answer.request_id

    @property
    def http_status(self) -> int:
        return self.answer.http_status


class AuthenticationError(ApiError):
    """The service refused the credentials or the signature."""


class ThrottledError(ApiError):
    """The service asked us to slow down; ``retry_after`` is in seconds when it said how long."""

    def __init__(
        self, operation: str, answer: ServiceAnswer, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(operation, answer)


class TransientError(CamsError):
    """A failure that a later attempt may not see; reads are retried on it before it surfaces."""


class ServerError(ApiError, TransientError):
    """HTTP 5xx from the service."""


class NetworkError(TransientError):
    """The exchange failed on the wire.

    ``request_sent`` is False only when the request certainly never reached the service
    (the connection could not be opened); otherwise it may have been received.
    """

    def __init__(self, operation: str, message: str, *, request_sent: bool) -> None:
        self.request_sent = request_sent
        super().__init__(operation, message)


class AmbiguousWriteError(CamsError):
    """A write may or may not have been applied (timeout or reset after sending, HTTP 5xx).

    Never re-send blindly: re-read the space, then add again only if the number is absent.
    ``cause`` is the transient error that made the outcome unknown.
    """

    def __init__(self, operation: str, cause: TransientError | ResponseError) -> None:
        self.cause = cause
        super().__init__(operation, f"outcome unknown, re-read before retrying ({cause.detail})")


class ResponseError(CamsError):
    """The service answered something that is not the API's JSON (or lacks a required field)."""


# Codes by which the service says "slow down". HTTP 429 and an x-acs-retry-after header mean the
# same whatever the code.
THROTTLING_CODES = frozenset({"Throttling", "Throttling.User", "Throttling.Api",
                              "System.LimitControl"})

# Codes that mean "these credentials or this signature are not accepted". Prefix matches cover
# the families (InvalidAccessKeyId.NotFound / .Inactive, InvalidSecurityToken.Expired, ...).
AUTHENTICATION_CODE_PREFIXES = (
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "IncompleteSignature", "InvalidSecurityToken",
    "InvalidTimeStamp", "SignatureNonceUsed", "InvalidAuthorization", "MissingSecurityToken",
)


def classify_answer(
    operation: str, answer: ServiceAnswer, retry_after: float | None
) -> ApiError:
    """Turn a service error answer into the matching member of the tree."""
    if answer.code in THROTTLING_CODES or answer.http_status == 429 or retry_after is not None:
        return ThrottledError(operation, answer, retry_after)
    if answer.http_status >= 500:
        return ServerError(operation, answer)
    if answer.code.startswith(AUTHENTICATION_CODE_PREFIXES):
        return AuthenticationError(operation, answer)
    return ApiError(operation, answer)


def is_account_wide(error: CamsError) -> bool:
    """Whether ``error`` cannot be specific to the one space a call was about, so every other
    call would meet it too: credentials refused, the product not subscribed, a RAM denial of
    the action, or an endpoint that cannot be reached at all (DNS, connect, TLS)."""
    if isinstance(error, AccountWideError | AuthenticationError):
        return True
    if isinstance(error, ApiError):
        return error.code.startswith("Product.Unsubscript") or error.answer.is_denial
    return isinstance(error, NetworkError) and not error.request_sent


_CHECKS = (
    ("InvalidAccessKeyId", "that this AccessKey id exists, is enabled, and belongs to the "
                           "account (RAM console, the user's AccessKey list)"),
    ("SignatureDoesNotMatch", "that the AccessKey secret is the one of this AccessKey id (a "
                              "secret is shown only when its key is created: make a new key "
                              "if it is lost)"),
    ("IncompleteSignature", "that the AccessKey secret is the one of this AccessKey id"),
    ("InvalidSecurityToken", "that the STS security token is current (temporary credentials "
                             "expire) and was issued with this AccessKey id"),
    ("MissingSecurityToken", "that the STS security token of this temporary AccessKey is set "
                             "(ALIBABA_CLOUD_SECURITY_TOKEN, or the profile's sts_token)"),
    ("InvalidTimeStamp", "this machine's clock: requests carry the time and are refused when "
                         "it is more than 15 minutes off"),
    ("Product.Unsubscript", "that Chat App Message Service is activated for this account (its "
                            "console offers to activate it)"),
)


def what_to_check(error: CamsError) -> str:
    """What a person should look at to fix an account-wide failure."""
    if isinstance(error, NetworkError):
        return ("the endpoint (--endpoint, --region), DNS, and any proxy (HTTPS_PROXY) or "
                "firewall between here and it; for a TLS failure, the CA certificates "
                "(SSL_CERT_FILE)")
    if isinstance(error, ApiError):
        if error.answer.is_denial:
            return (f"that a RAM policy of the identity in AccessDeniedDetail allows the "
                    f"action {error.operation}")
        for prefix, check in _CHECKS:
            if error.code.startswith(prefix):
                return check
    return "the credentials and the endpoint"


class AccountWideError(CamsError):
    """A failure no other call of the run could escape (:func:`is_account_wide`): the run
    stops at once with it. The message adds, to the failure's own (operation, code, message,
    RequestId, AccessDeniedDetail), which credentials were used, the AccessKey id masked, and
    what to check."""

    def __init__(self, cause: CamsError, credentials: str | None) -> None:
        self.cause = cause
        used = f" Used {credentials}." if credentials and isinstance(cause, ApiError) else ""
        super().__init__("", f"{cause}.{used} Check {what_to_check(cause)}. camsctl stopped "
                             "there: every other call would fail the same way.")
        self.operation = cause.operation
