"""Every verification rule, for every signature scheme, through the vendor's own clients.

One table: each kind of client (``vendor_clients.KINDS``: V3 in SHA-256 and SM3, RPC V1 from
the modern SDK, the old SDK's request classes and its CommonRequest over GET) meets a wrong
secret, an unknown AccessKey, a stale or future timestamp and a reused nonce, and must report
the service's code itself. All of them are refused before the rate limiter, as the service
does: refusals never use up an AccessKey's calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vendor_clients import KINDS, Kind

from reconciler.api.signing import SM3_ALGORITHM, algorithm_available
from reconciler.emulator import EmulatorApp, EmulatorServer, load_state, serve_in_thread

STATE_FILE = Path(__file__).parent / "state.yaml"

KIND_PARAMS = [
    pytest.param(kind, id=kind.name, marks=pytest.mark.skipif(
        kind.name == "v3-sm3" and not algorithm_available(SM3_ALGORITHM),
        reason="this Python's OpenSSL has no SM3"))
    for kind in KINDS
]


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_a_correct_request_passes(kind: Kind, app: EmulatorApp, server: EmulatorServer) -> None:
    assert kind.query_waba(server) == (200, "OK")
    assert app.stats.calls["QueryChatappBindWaba"] == 1


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_a_wrong_secret_is_refused(kind: Kind, app: EmulatorApp,
                                   server: EmulatorServer) -> None:
    assert kind.query_waba(server, secret="not-the-secret") == (400, kind.wrong_secret_code)
    assert app.stats.rejected == {"SignatureDoesNotMatch": 1}


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_an_unknown_access_key_is_refused(kind: Kind, server: EmulatorServer) -> None:
    assert kind.query_waba(server, key_id="LTAI-nobody") == (404, "InvalidAccessKeyId.NotFound")


@pytest.mark.parametrize("minutes", [-16, 16])
@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_a_stale_or_future_timestamp_is_refused(kind: Kind, minutes: int,
                                                server: EmulatorServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    kind.pin_clock(monkeypatch, datetime.now(UTC) + timedelta(minutes=minutes))
    assert kind.query_waba(server) == (400, "InvalidTimeStamp.Expired")


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_a_timestamp_within_fifteen_minutes_passes(kind: Kind, server: EmulatorServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    kind.pin_clock(monkeypatch, datetime.now(UTC) - timedelta(minutes=14))
    assert kind.query_waba(server) == (200, "OK")


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_a_reused_nonce_is_refused(kind: Kind, app: EmulatorApp, server: EmulatorServer,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    kind.pin_nonce(monkeypatch, f"nonce-of-{kind.name}")
    assert kind.query_waba(server) == (200, "OK")
    assert kind.query_waba(server) == (400, "SignatureNonceUsed")
    # A nonce belongs to its AccessKey: another key may use the same one.
    assert kind.query_waba(server, key_id="second-key", secret="second-secret") == (200, "OK")
    assert app.stats.rejected == {"SignatureNonceUsed": 1}


@pytest.fixture
def slow_quota() -> Iterator[tuple[EmulatorApp, EmulatorServer]]:
    """One call per AccessKey every five seconds: a second call in a row is surely throttled."""
    app = EmulatorApp(load_state(STATE_FILE), qps=0.2)
    with serve_in_thread(app, "127.0.0.1", 0) as running:
        yield app, running


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_refusals_come_before_the_rate_limit(
        kind: Kind, slow_quota: tuple[EmulatorApp, EmulatorServer]) -> None:
    app, server = slow_quota
    for _ in range(3):
        assert kind.query_waba(server, secret="not-the-secret") == (400, kind.wrong_secret_code)
        assert kind.query_waba(server, key_id="LTAI-nobody")[1] == "InvalidAccessKeyId.NotFound"
    assert app.stats.throttled == 0
    # The key's one call is still there, and then it is used up.
    assert kind.query_waba(server) == (200, "OK")
    assert kind.query_waba(server) == (400, "Throttling.User")
    assert app.stats.throttled == 1
