"""One HTTP exchange, bounded in time and size: the only place the client packages read answers.

httpx's timeouts bound each network operation, not an answer: a server that sends one byte a
second never trips a 5-second read timeout and keeps a command running for ever. Here the whole
exchange (connect, send, every byte of the answer) runs under one deadline, and the answer is
read up to a size. Every failure of the exchange becomes a :class:`NetworkError` naming the host
only: a URL may carry a token (STS takes the OIDC token as a parameter), and the header
library's own messages quote header values.
"""

from __future__ import annotations

import asyncio

import httpx

from reconciler.api.errors import NetworkError, ResponseError


async def _read(http: httpx.AsyncClient, request: httpx.Request, operation: str,
                limit: int) -> httpx.Response:
    streamed = await http.send(request, stream=True)
    try:
        too_large = ResponseError(operation, f"the answer is larger than {limit:,} bytes; "
                                             "not reading it")
        declared = streamed.headers.get("content-length", "")
        if declared.isdigit() and len(declared) < 20 and int(declared) > limit:
            raise too_large
        body = bytearray()
        async for chunk in streamed.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise too_large
    finally:
        await streamed.aclose()
    return httpx.Response(streamed.status_code, headers=streamed.headers, content=bytes(body),
                          request=request)


async def exchange(http: httpx.AsyncClient, request: httpx.Request, *, operation: str,
                   host: str, deadline: float, limit: int) -> httpx.Response:
    """Send ``request`` and read its whole answer within ``deadline`` seconds.

    Raises :class:`NetworkError` (``request_sent`` False only when the connection never
    opened) or :class:`ResponseError` for an answer larger than ``limit`` bytes.
    """
    try:
        async with asyncio.timeout(deadline):
            return await _read(http, request, operation, limit)
    except TimeoutError:
        raise NetworkError(operation, f"no complete answer from {host} within {deadline:g} s "
                                      "(--timeout)", request_sent=True) from None
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise NetworkError(operation, f"cannot connect to {host}: {_why(exc)}",
                           request_sent=False) from None
    except httpx.TransportError as exc:
        # Read/write errors, resets, protocol errors after connecting: the service may have
        # received the request.
        raise NetworkError(operation, f"exchange with {host} failed: {_why(exc)}",
                           request_sent=True) from None


def _why(exc: httpx.TransportError) -> str:
    """The exception's type, with its text only where that text comes from the OS (errno
    messages); protocol errors quote the headers or the URL, which may hold a token."""
    if isinstance(exc, httpx.NetworkError) and str(exc):
        return f"{type(exc).__name__} {exc}"
    return type(exc).__name__
