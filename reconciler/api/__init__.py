"""The CAMS API client: signing, credentials, endpoint, flow control, typed answers, errors.

Entry point: ``async with open_client(...) as client`` (see ``client.py``). The error tree is
drawn in ``errors.py``.
"""

from reconciler.api.client import CamsClient, ClientOptions, open_client
from reconciler.api.credential_types import Credentials, CredentialSource
from reconciler.api.credentials import resolve_credentials
from reconciler.api.endpoint import Endpoint, resolve_endpoint
from reconciler.api.errors import (
    AccountWideError,
    AmbiguousWriteError,
    ApiError,
    AuthenticationError,
    CamsError,
    ConfigurationError,
    CredentialsNotFound,
    NetworkError,
    ResponseError,
    ServerError,
    ThrottledError,
    TransientError,
)
from reconciler.api.flow import RetryPolicy
from reconciler.api.models import (
    BoundWaba,
    BusinessProfile,
    ListedNumber,
    NumbersResult,
    ProfileResult,
    WabaResult,
)

__all__ = [
    "AccountWideError",
    "AmbiguousWriteError",
    "ApiError",
    "AuthenticationError",
    "BoundWaba",
    "BusinessProfile",
    "CamsClient",
    "CamsError",
    "ClientOptions",
    "ConfigurationError",
    "CredentialSource",
    "Credentials",
    "CredentialsNotFound",
    "Endpoint",
    "ListedNumber",
    "NetworkError",
    "NumbersResult",
    "ProfileResult",
    "ResponseError",
    "RetryPolicy",
    "ServerError",
    "ThrottledError",
    "TransientError",
    "WabaResult",
    "open_client",
    "resolve_credentials",
    "resolve_endpoint",
]
