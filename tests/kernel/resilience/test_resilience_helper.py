"""The resilience helper against a real local HTTP server: retries, classification, breakers
per (tenant, dependency), Retry-After, timeouts, events and metrics."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import purgatory.domain.model
import pytest
import stamina
from flaky_upstream import FlakyServer, Reply

import kernel._resilience.breakers
from kernel import (
    CircuitOpenError,
    DependencyError,
    RejectedError,
    Resilience,
    Settings,
    TransientError,
    tenant_scope,
)
from kernel._metrics import Metrics
from kernel._resilience.classify import retry_after_seconds

ACME = uuid.UUID("00000000-0000-4000-8000-00000000000a")
GLOBEX = uuid.UUID("00000000-0000-4000-8000-00000000000b")
SECRET = "sk-live-0123456789abcdef"


def make_resilience(**overrides: Any) -> Resilience:
    values: dict[str, Any] = {"outbound_attempts": 3, "breaker_failure_threshold": 5}
    values.update(overrides)
    return Resilience(Settings(_env_file=None, **values), Metrics())


def sample(resilience: Resilience, name: str, **labels: str) -> float:
    value = resilience.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


async def snapshot(resilience: Resilience, tenant_id: uuid.UUID | None, dependency: str):
    return await resilience.breakers.snapshot((tenant_id, dependency))


# --- retries ---------------------------------------------------------------------------------


async def test_a_flapping_dependency_is_retried_then_succeeds(upstream: FlakyServer):
    resilience = make_resilience()
    upstream.fail_next(2, 503)
    response = await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)
    assert response.status_code == 200
    assert upstream.hits == 3
    assert sample(resilience, "kraliki_outbound_retries_total", dependency="crm") == 2
    assert sample(resilience, "kraliki_outbound_calls_total", dependency="crm", outcome="ok") == 1
    state = await snapshot(resilience, ACME, "crm")
    assert (state.state, state.failure_count) == ("closed", 0)  # the success recovered it
    await resilience.aclose()


async def test_retries_stop_after_the_configured_attempts(upstream: FlakyServer):
    resilience = make_resilience(outbound_attempts=4)
    upstream.always(Reply(502))
    with pytest.raises(TransientError) as caught:
        await resilience.request("crm", "POST", upstream.url, tenant_id=ACME, json={"a": 1})
    assert caught.value.status == 502
    assert caught.value.dependency == "crm"
    assert upstream.hits == 4
    assert sample(resilience, "kraliki_outbound_calls_total", dependency="crm", outcome="transient")
    # One call asks for fewer attempts.
    with pytest.raises(TransientError):
        await resilience.request("crm", "GET", upstream.url, tenant_id=ACME, attempts=1)
    assert upstream.hits == 5
    await resilience.aclose()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_rejections_are_not_retried_and_do_not_count(upstream: FlakyServer, status: int):
    resilience = make_resilience(breaker_failure_threshold=2)
    upstream.always(Reply(status, body=b'{"error": "bad key"}'))
    for _ in range(5):
        with pytest.raises(RejectedError) as caught:
            await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)
        assert caught.value.status == status
    assert upstream.hits == 5  # one each: never retried
    state = await snapshot(resilience, ACME, "crm")
    assert (state.state, state.failure_count) == ("closed", 0)
    assert sample(resilience, "kraliki_outbound_retries_total", dependency="crm") == 0
    assert (
        sample(resilience, "kraliki_outbound_calls_total", dependency="crm", outcome="rejected")
        == 5
    )
    await resilience.aclose()


async def test_a_rejection_neither_counts_nor_clears_the_failures(upstream: FlakyServer):
    resilience = make_resilience(outbound_attempts=1, breaker_failure_threshold=3)
    for reply in (Reply(503), Reply(503), Reply(401), Reply(503)):
        upstream.then(reply)
    for expected in (TransientError, TransientError, RejectedError, TransientError):
        with pytest.raises(expected):
            await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)
    assert (await snapshot(resilience, ACME, "crm")).state == "open"
    await resilience.aclose()


# --- the breaker, per tenant -----------------------------------------------------------------


async def test_a_dead_dependency_opens_the_breaker_for_that_tenant_only(
    upstream: FlakyServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="kraliki.resilience")
    resilience = make_resilience(outbound_attempts=5, breaker_failure_threshold=3)
    upstream.always(Reply(503))
    # The breaker sits inside each attempt: the third failure opens it and the fourth
    # attempt fails fast instead of calling.
    with pytest.raises(CircuitOpenError) as caught:
        await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)
    assert upstream.hits == 3
    assert 0 < caught.value.retry_after <= 30
    assert not caught.value.forced
    # Open: acme's next calls never reach the server, and are not retried.
    with pytest.raises(CircuitOpenError):
        await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)
    assert upstream.hits == 3
    # globex's calls to the same dependency still go through...
    with pytest.raises(TransientError):
        await resilience.request("crm", "GET", upstream.url, tenant_id=GLOBEX, attempts=2)
    assert upstream.hits == 5
    # ...and succeed once it answers again, while acme's circuit stays open.
    upstream.always(Reply(200))
    assert (await resilience.request("crm", "GET", upstream.url, tenant_id=GLOBEX)).is_success
    assert upstream.hits == 6
    with pytest.raises(CircuitOpenError):
        await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)
    assert upstream.hits == 6
    # Another dependency of acme is unaffected.
    assert (await resilience.request("billing", "GET", upstream.url, tenant_id=ACME)).is_success

    acme = await snapshot(resilience, ACME, "crm")
    assert (acme.state, acme.failure_count, acme.threshold) == ("open", 3, 3)
    assert acme.opened_at is not None
    assert acme.opened_at.tzinfo is UTC
    assert acme.half_open_at == acme.opened_at + timedelta(seconds=30)
    assert (await snapshot(resilience, GLOBEX, "crm")).state == "closed"

    # The state change is an event: logged once, counted, and on the gauge per tenant.
    changes = [r for r in caplog.records if getattr(r, "event", "") == "breaker_state_changed"]
    assert [(r.tenant_id, r.dependency, r.old_state, r.new_state) for r in changes] == [
        (str(ACME), "crm", "closed", "open")
    ]
    assert changes[0].levelno == logging.WARNING
    assert sample(resilience, "kraliki_breaker_transitions_total", dependency="crm", state="open")
    gauge = "kraliki_breaker_state"
    assert sample(resilience, gauge, tenant=str(ACME), dependency="crm") == 2
    assert sample(resilience, gauge, tenant=str(GLOBEX), dependency="crm") == 0
    outcome = {"dependency": "crm", "outcome": "circuit_open"}
    assert sample(resilience, "kraliki_outbound_calls_total", **outcome) == 3
    await resilience.aclose()


async def test_the_tenant_in_scope_is_the_default(upstream: FlakyServer):
    resilience = make_resilience(outbound_attempts=1, breaker_failure_threshold=1)
    upstream.always(Reply(500))
    with tenant_scope(ACME), pytest.raises(TransientError):
        await resilience.request("crm", "GET", upstream.url)
    with pytest.raises(TransientError):  # outside any tenant: the platform's own breaker
        await resilience.request("crm", "GET", upstream.url)
    assert await resilience.breakers.keys() == [(None, "crm"), (ACME, "crm")]
    assert (await snapshot(resilience, ACME, "crm")).state == "open"
    assert (await snapshot(resilience, None, "crm")).state == "open"
    await resilience.aclose()


class FakeClock:
    """``time.time`` as purgatory and the breakers read it, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(purgatory.domain.model, "time", fake)
    monkeypatch.setattr(kernel._resilience.breakers, "time", fake)
    return fake


async def test_half_open_after_the_reset_time_then_closed_on_success(
    upstream: FlakyServer, caplog: pytest.LogCaptureFixture, clock: FakeClock
):
    caplog.set_level(logging.INFO, logger="kraliki.resilience")
    resilience = make_resilience(
        outbound_attempts=1, breaker_failure_threshold=2, breaker_reset_seconds=20
    )
    upstream.always(Reply(503))
    for _ in range(2):
        with pytest.raises(TransientError):
            await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)
    clock.now += 15
    with pytest.raises(CircuitOpenError) as caught:
        await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)
    assert caught.value.retry_after == pytest.approx(5)
    opened_at = (await snapshot(resilience, ACME, "crm")).opened_at
    assert opened_at == datetime.fromtimestamp(clock.now - 15, UTC)
    clock.now += 5.5
    # A trial call goes through; it fails, so the breaker opens again at once.
    with pytest.raises(TransientError):
        await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)
    assert upstream.hits == 3
    with pytest.raises(CircuitOpenError):
        await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)
    clock.now += 21
    upstream.always(Reply(200))
    assert (await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)).is_success
    state = await snapshot(resilience, ACME, "crm")
    assert (state.state, state.failure_count, state.opened_at) == ("closed", 0, None)
    changes = [
        (r.old_state, r.new_state)
        for r in caplog.records
        if getattr(r, "event", "") == "breaker_state_changed"
    ]
    assert changes == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    transitions = "kraliki_breaker_transitions_total"
    assert sample(resilience, transitions, dependency="crm", state="open") == 2
    assert sample(resilience, transitions, dependency="crm", state="closed") == 1
    await resilience.aclose()


# --- Retry-After and timeouts ----------------------------------------------------------------


@pytest.fixture
def recorded_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Real (non-testing) stamina, with its sleeps recorded instead of slept."""
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(stamina._core, "_smart_sleep", sleep)
    with stamina.set_testing(False):
        yield waits


async def test_retry_after_is_honoured(upstream: FlakyServer, recorded_waits: list[float]):
    resilience = make_resilience(outbound_retry_max_wait_seconds=30)
    upstream.fail_next(1, 429, **{"Retry-After": "2"})
    upstream.fail_next(1, 503, **{"Retry-After": "7"})
    assert (await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)).is_success
    assert upstream.hits == 3
    assert recorded_waits == [2.0, 7.0]
    await resilience.aclose()


async def test_retry_after_is_capped_and_backoff_is_used_without_it(
    upstream: FlakyServer, recorded_waits: list[float]
):
    resilience = make_resilience(outbound_retry_max_wait_seconds=5)
    upstream.fail_next(1, 429, **{"Retry-After": "3600"})
    upstream.fail_next(1, 503)
    assert (await resilience.request("crm", "GET", upstream.url, tenant_id=ACME)).is_success
    assert recorded_waits[0] == 5.0
    # Without Retry-After: exponential backoff with the explicit, small jitter.
    second = resilience.wait_initial * 2
    assert second <= recorded_waits[1] <= second + resilience.wait_jitter
    await resilience.aclose()


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(
        format_datetime(now + timedelta(seconds=90), usegmt=True), now=now
    ) == pytest.approx(90)
    assert retry_after_seconds(format_datetime(now - timedelta(hours=1), usegmt=True), now=now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


async def test_a_timeout_is_transient_and_counts(upstream: FlakyServer):
    resilience = make_resilience(outbound_attempts=2, breaker_failure_threshold=5)
    upstream.always(Reply(hang=True))
    with pytest.raises(TransientError) as caught:
        await resilience.request("crm", "GET", upstream.url, tenant_id=ACME, timeout=0.3)
    assert caught.value.timed_out
    assert caught.value.problem.status == 504
    assert (await snapshot(resilience, ACME, "crm")).failure_count == 2  # both attempts
    assert upstream.hits >= 1  # (a loaded machine may time out before the server reads)

    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    with pytest.raises(TransientError) as caught:
        await resilience.call("llm", slow, tenant_id=ACME, timeout=0.05, attempts=1)
    assert caught.value.timed_out
    await resilience.aclose()


async def test_connection_errors_are_transient(upstream: FlakyServer):
    resilience = make_resilience(outbound_attempts=2)
    url = upstream.url
    await upstream.stop()  # nothing listens there any more
    with pytest.raises(TransientError) as caught:
        await resilience.request("crm", "GET", url, tenant_id=ACME)
    assert "ConnectError" in str(caught.value)
    assert (await snapshot(resilience, ACME, "crm")).failure_count == 2
    await upstream.start()  # the fixture stops it again
    await resilience.aclose()


# --- SDK errors: classify, or raise the kernel's errors --------------------------------------


class SdkError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}: body with {SECRET}")
        self.status_code = status_code


def classify(exc: Exception):
    if isinstance(exc, SdkError):
        return "transient" if exc.status_code >= 500 else "rejected"
    return None


async def test_classify_maps_sdk_errors():
    resilience = make_resilience()
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise SdkError(500)
        return "done"

    assert await resilience.call("llm", flaky, tenant_id=ACME, classify=classify) == "done"
    assert len(calls) == 3

    async def refused() -> str:
        calls.append(1)
        raise SdkError(401)

    with pytest.raises(RejectedError) as caught:
        await resilience.call("llm", refused, tenant_id=ACME, classify=classify)
    assert caught.value.status == 401
    assert isinstance(caught.value.__cause__, SdkError)
    assert SECRET not in str(caught.value)
    assert len(calls) == 4
    await resilience.aclose()


async def test_errors_raised_by_the_operation_and_unknown_errors():
    resilience = make_resilience(breaker_failure_threshold=2)
    calls: list[str] = []

    async def raises(error: Exception) -> None:
        calls.append(type(error).__name__)
        raise error

    # The plugin raises the kernel's errors itself: a Retry-After it read is honoured.
    with pytest.raises(CircuitOpenError):  # the second failure opened it: no third call
        await resilience.call(
            "sms", lambda: raises(TransientError("sms", retry_after=0.0)), tenant_id=ACME
        )
    assert calls == ["TransientError"] * 2
    assert (await snapshot(resilience, ACME, "sms")).state == "open"
    # An error that is not the dependency's propagates unchanged, once, uncounted.
    calls.clear()
    with pytest.raises(KeyError):
        await resilience.call("other", lambda: raises(KeyError("x")), tenant_id=ACME)
    assert calls == ["KeyError"]
    assert (await snapshot(resilience, ACME, "other")).failure_count == 0
    assert sample(resilience, "kraliki_outbound_calls_total", dependency="other", outcome="error")
    await resilience.aclose()


async def test_arguments_are_checked():
    resilience = make_resilience()

    async def nothing() -> None:
        return None

    for bad in ("", "Telnyx", "a b", "x" * 64, "../etc"):
        with pytest.raises(ValueError, match="dependency name"):
            await resilience.call(bad, nothing, tenant_id=ACME)
    with pytest.raises(ValueError, match="attempts"):
        await resilience.call("crm", nothing, tenant_id=ACME, attempts=0)
    with pytest.raises(ValueError, match="timeout"):
        await resilience.call("crm", nothing, tenant_id=ACME, timeout=0)


# --- nothing of the request leaks ------------------------------------------------------------


async def test_credentials_never_reach_errors_or_logs(
    upstream: FlakyServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    resilience = make_resilience(outbound_attempts=2, breaker_failure_threshold=2)
    echo = f'{{"error": "invalid key {SECRET}"}}'.encode()
    url = f"{upstream.url}/v1/messages?api_key={SECRET}"
    headers = {"Authorization": f"Bearer {SECRET}"}
    errors: list[DependencyError] = []
    for reply in (Reply(401, body=echo), Reply(500, body=echo), Reply(429, body=echo)):
        upstream.always(reply)
        with pytest.raises(DependencyError) as caught:
            await resilience.request("crm", "POST", url, tenant_id=ACME, headers=headers, json={})
        errors.append(caught.value)
    assert upstream.received[0].headers["authorization"] == f"Bearer {SECRET}"  # it was sent
    assert [type(e) for e in errors] == [RejectedError, TransientError, CircuitOpenError]
    for error in errors:
        assert SECRET not in f"{error} {error!r} {error.public_detail()}"
    # Ours and stamina's records, extras included. (httpx logs each full URL at INFO, query
    # string and all: `kraliki` sets that logger to WARNING.)
    records = [r for r in caplog.records if r.name != "httpx"]
    assert any(r.name == "kraliki.resilience" for r in records)
    assert any(r.name == "stamina" for r in records)
    assert SECRET not in " ".join(f"{r.getMessage()} {r.__dict__}" for r in records)
    await resilience.aclose()
