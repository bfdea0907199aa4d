"""The hot path's hand-off: take() only keeps the call; the background task extracts; stop() drains."""

import asyncio
import datetime as dt
import uuid

import msgspec

from gateway.detect.features import CallFeatures, extract
from gateway.detect.tap import YIELD_EVERY, FeatureTap
from gateway.ledger.events import UsageEvent


def event() -> UsageEvent:
    return UsageEvent(
        request_id=uuid.uuid4(), occurred_at=dt.datetime.now(dt.UTC), customer_id=uuid.uuid4(),
        project_id=uuid.uuid4(), key_id="0123456789abcdef", upstream="u", route="/v1/chat/completions",
        model="m", stream=False, status=200, error_code=None, prompt_tokens=1, completion_tokens=1,
        usage_complete=True, duration_ms=1.0, bytes_in=1, bytes_out=1, client_ip="192.0.2.1",
    )  # fmt: skip


BODY = msgspec.json.encode(
    {"model": "m", "messages": [{"role": "user", "content": "Say hello to Ada Lovelace"}]}
)


async def test_take_keeps_and_stop_extracts_everything_in_order() -> None:
    written: list[CallFeatures] = []
    tap = FeatureTap(written.append, interval=3600)  # the task never wakes by itself: stop() must drain
    tap.start()
    events = [event() for _ in range(3 * YIELD_EVERY + 5)]
    for e in events:
        tap.take(e, BODY)
    assert tap.depth == len(events) and written == []  # nothing done on the request path
    await tap.stop()
    assert [f.request_id for f in written] == [e.request_id for e in events]
    assert written[0] == extract(events[0], BODY) and tap.extracted == len(events) and tap.depth == 0


async def test_the_background_task_extracts_and_yields_to_the_loop() -> None:
    turns = 0
    seen: list[int] = []  # how many turns other work had had when each call was extracted
    tap = FeatureTap(lambda f: seen.append(turns), interval=0.001)
    tap.start()
    done = asyncio.Event()

    async def other_work() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    for _ in range(4 * YIELD_EVERY):  # one backlog: taken before the task wakes
        tap.take(event(), BODY)
    worker = asyncio.create_task(other_work())
    while len(seen) < 4 * YIELD_EVERY:
        await asyncio.sleep(0)
    done.set()
    await worker
    await tap.stop()
    blocks = [set(seen[i : i + YIELD_EVERY]) for i in range(0, len(seen), YIELD_EVERY)]
    assert all(len(block) == 1 for block in blocks)  # no yield inside a block of YIELD_EVERY ...
    assert len({min(block) for block in blocks}) == 4  # ... and the loop ran other work between blocks


async def test_a_failing_sink_loses_that_call_only() -> None:
    written: list[CallFeatures] = []

    def sink(f: CallFeatures) -> None:
        if not written and f.status == 200:
            written.append(f)
            raise RuntimeError("the first one fails")
        written.append(f)

    tap = FeatureTap(sink, interval=3600)
    for _ in range(3):
        tap.take(event(), BODY)
    assert await tap.drain() == 3
    assert (tap.extracted, tap.failed, len(written)) == (2, 1, 3)


async def test_a_full_backlog_drops_calls_and_counts_them_and_frees_room_as_it_drains() -> None:
    written: list[CallFeatures] = []
    tap = FeatureTap(written.append, interval=3600, max_bytes=3 * len(BODY))
    kept = [event() for _ in range(3)]
    for e in kept:
        tap.take(e, BODY)
    tap.take(event(), BODY)  # the fourth body does not fit
    assert tap.depth == 3 and tap.dropped == 1
    await tap.drain()
    late = event()
    tap.take(late, BODY)  # room again once the backlog is extracted
    await tap.stop()
    assert [f.request_id for f in written] == [e.request_id for e in kept] + [late.request_id]
    assert tap.dropped == 1
