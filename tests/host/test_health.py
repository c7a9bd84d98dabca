"""Health checks run concurrently, within their timeout, never raise, and are cached."""

from __future__ import annotations

import asyncio

from atom_host_stub.contract import HealthResult, HealthStatus
from atom_host_stub.health import HealthMonitor
from tests.clocks import StepClock


def ok(message: str = "fine") -> HealthResult:
    return HealthResult(status=HealthStatus.OK, message=message)


async def test_checks_run_concurrently() -> None:
    # Each check waits for the other to have started: run one after the other, both time out.
    started = {"a": asyncio.Event(), "b": asyncio.Event()}

    def waiting_for(me: str, other: str):  # type: ignore[no-untyped-def]
        async def check() -> HealthResult:
            started[me].set()
            await started[other].wait()
            return ok()

        return check

    monitor = HealthMonitor()
    monitor.register("p", "a", waiting_for("a", "b"), timeout_s=2)
    monitor.register("p", "b", waiting_for("b", "a"), timeout_s=2)
    results = await monitor.results()
    assert [(r.name, r.status) for r in results["p"]] == [("a", "ok"), ("b", "ok")]


async def test_a_check_past_its_timeout_is_down_and_the_others_still_answer() -> None:
    never = asyncio.Event()

    async def hangs() -> HealthResult:
        await never.wait()
        return ok()

    async def quick() -> HealthResult:
        return ok("quick")

    monitor = HealthMonitor()
    monitor.register("p", "hangs", hangs, timeout_s=0.05)
    monitor.register("q", "quick", quick, timeout_s=1)
    results = await monitor.results()
    (hung,) = results["p"]
    assert hung.status == HealthStatus.DOWN
    assert hung.message == "no answer within 0.05 s"
    assert hung.duration_ms >= 50
    assert results["q"][0].message == "quick"


async def test_a_raising_check_is_down_without_its_message() -> None:
    async def raises() -> HealthResult:
        raise RuntimeError("token=abc123 rejected")

    def not_a_result() -> str:
        return "ok!"

    monitor = HealthMonitor()
    monitor.register("p", "raises", raises)
    monitor.register("p", "odd", not_a_result)  # type: ignore[arg-type]
    raised, odd = (await monitor.results())["p"]
    assert (raised.status, raised.message) == (HealthStatus.DOWN, "check raised RuntimeError")
    assert (odd.status, odd.message) == (
        HealthStatus.DOWN,
        "check returned str, not a HealthResult",
    )


async def test_results_are_cached_for_cache_seconds_and_shared_by_concurrent_callers() -> None:
    calls = 0

    async def counted() -> HealthResult:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return ok(f"call {calls}")

    clock = StepClock(1000.0)
    monitor = HealthMonitor(cache_s=5.0, clock=clock)
    monitor.register("p", "counted", counted)
    first, second = await asyncio.gather(monitor.results(), monitor.results())
    assert calls == 1 and first is second
    clock.advance(4.9)
    assert (await monitor.results())["p"][0].message == "call 1"
    clock.advance(0.1)
    assert (await monitor.results())["p"][0].message == "call 2"
    assert (await monitor.results(fresh=True))["p"][0].message == "call 3"


def test_a_check_name_is_registered_once_per_plugin() -> None:
    monitor = HealthMonitor()

    async def check() -> HealthResult:
        return ok()

    monitor.register("p", "db", check)
    monitor.register("q", "db", check)
    try:
        monitor.register("p", "db", check)
    except ValueError as exc:
        assert str(exc) == "plugin 'p' registered health check 'db' twice"
    else:
        raise AssertionError("a duplicate check name was accepted")
