"""What call features cost: the hot path's hand-off per call, and extraction off it.

    python tests/bench/bench_features.py [--number 200000] [--calls 2000] [--repeat 7]

- **Hand-off** (on the request path): ``FeatureTap.take(event, body)`` as the proxy's settle step
  calls it, in ns per call, beside a plain ``list.append`` of the same pair in the same run (the
  floor: what any hand-off costs). The difference is the tap's own cost.
- **Extraction** (off the request path, in the tap's background task): ``detect.features.extract``
  in µs per call, for a short chat body (one user turn) and a long one (a 2 KB system prompt, ten
  turns, a 6 KB last user turn with code and numbers), and for a Responses and an Anthropic body.
- **Batch** (what the tap does): ``extract_batch`` of blocks of 64 calls, µs per call, beside the
  plain ``extract`` per call (the computation before issue 20's batch path) in the same run: blocks
  of 64 *distinct* prompts (one word differs, so every skeleton differs: nothing is shared) and of
  64 *identical* bodies (what ``bench_proxy.py`` sends: each text and skeleton is done once).
- **Throughput**: calls/s through ``FeatureTap.drain`` (extract and hand to a sink) on a mix of the
  bodies, one process, one core.

Each figure is the best of ``--repeat`` runs, in CPU time of this process (the machine is shared;
the best run is the least disturbed). No network, no database. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gateway.detect.features import CallFeatures, extract
from gateway.detect.tap import FeatureTap
from gateway.ledger.events import UsageEvent


def event() -> UsageEvent:
    return UsageEvent(
        request_id=uuid.uuid4(), occurred_at=dt.datetime.now(dt.UTC), customer_id=uuid.uuid4(),
        project_id=uuid.uuid4(), key_id="0123456789abcdef", upstream="u", route="/v1/chat/completions",
        model="gpt-test", stream=False, status=200, error_code=None, prompt_tokens=40, completion_tokens=200,
        usage_complete=True, duration_ms=120.0, bytes_in=300, bytes_out=900, client_ip="203.0.113.9",
        origin_country="US",
    )  # fmt: skip


def bodies() -> dict[str, bytes]:
    short = {
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "What is the capital of Australia, and why not Sydney?"}],
        "temperature": 0.7,
    }
    turns = []
    for i in range(5):
        turns.append({"role": "user", "content": f"Question {i}: how does the parser handle case {i * 7}?"})
        turns.append({"role": "assistant", "content": "It reads the header first. " * 20})
    code = "```python\n" + "def f(x):\n    return x * 2\n" * 40 + "```\n"
    last = (
        "Review the following code for Jane Smith (ticket 48213, https://tracker.example.com/48213) "
        "and explain your reasoning step by step. " + code + "Numbers: " + ", ".join(map(str, range(600)))
    )
    long = {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "You are a senior reviewer. Be precise and kind. " * 40},
            *turns,
            {"role": "user", "content": last},
        ],
        "logprobs": True,
        "top_logprobs": 5,
    }
    responses = {
        "model": "gpt-test",
        "instructions": "Be brief.",
        "input": "Translate 'good night' into German",
    }
    anthropic = {
        "model": "claude-test",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You write Python."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Write a function to merge two dicts"}]}
        ],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }
    return {
        "short chat": msgspec.json.encode(short),
        "long chat": msgspec.json.encode(long),
        "responses": msgspec.json.encode(responses),
        "anthropic messages": msgspec.json.encode(anthropic),
    }


def best(run: Callable[[], None], repeat: int) -> float:
    """The best CPU time (s) of this process over ``repeat`` runs: on a shared machine, wall time
    counts the other processes' turns too."""
    out = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        out = min(out, time.process_time() - start)
    return out


def hand_off_ns(number: int, repeat: int) -> tuple[float, float]:
    """(ns per FeatureTap.take, ns per plain list.append), in the same run."""
    e = event()
    body = bodies()["short chat"]
    tap = FeatureTap(lambda f: None)
    plain: list[tuple[UsageEvent, bytes]] = []
    take = tap.take
    append = plain.append
    rng = range(number)

    def with_tap() -> None:
        for _ in rng:
            take(e, body)
        tap._pending.clear()

    def baseline() -> None:
        for _ in rng:
            append((e, body))
        plain.clear()

    return best(with_tap, repeat) / number * 1e9, best(baseline, repeat) / number * 1e9


def extract_us(body: bytes, number: int, repeat: int) -> float:
    e = event()

    def run() -> None:
        for _ in range(number):
            extract(e, body)

    return best(run, repeat) / number * 1e6


_WORDS = (
    "river market engine violet harbor candle orbit lemon fabric thunder saddle pixel glacier ledger "
    "meadow copper signal lantern quarry velvet walnut cipher beacon tunnel marble falcon garden socket "
    "planet rocket mirror timber anchor basket canyon desert island jungle kettle ladder magnet needle "
    "oyster pepper quiver ribbon shadow teapot umbrella valley wagon yogurt zipper acorn bamboo cactus "
    "dolphin eagle feather goblet hammock igloo jacket"
)
WORDS = _WORDS.split()


def distinct_bodies(body: bytes, size: int) -> list[bytes]:
    """``size`` variants of ``body`` whose skeletons all differ: a lowercase word (not masked) is
    appended to the last user turn's text."""
    doc = msgspec.json.decode(body)
    out = []
    for i in range(size):
        variant = msgspec.json.decode(body)
        word = f"{WORDS[i % len(WORDS)]} {WORDS[(i // len(WORDS)) % len(WORDS)]}"
        if "messages" in doc:
            last = variant["messages"][-1]
            if isinstance(last["content"], str):
                last["content"] += " " + word
            else:
                last["content"][-1]["text"] += " " + word
        else:
            variant["input"] += " " + word
        out.append(msgspec.json.encode(variant))
    return out


def batch_us(blocks: list[bytes], number: int, repeat: int) -> tuple[float, float]:
    """(µs per call of plain extract over ``blocks``, µs per call of extract_batch of the block)."""
    # Imported here: bench_levers.py imports this module against checkouts without it.
    from gateway.detect.features import extract_batch

    calls = [(event(), b) for b in blocks]
    rounds = max(1, number // len(calls))

    def plain() -> None:
        for _ in range(rounds):
            for e, b in calls:
                extract(e, b)

    def batched() -> None:
        for _ in range(rounds):
            extract_batch(calls)

    assert extract_batch(calls) == [extract(e, b) for e, b in calls]  # same values, or no figure
    per = rounds * len(calls)
    return best(plain, repeat) / per * 1e6, best(batched, repeat) / per * 1e6


def throughput(calls: int, repeat: int) -> float:
    """Calls/s through FeatureTap.drain on a mix of the bodies."""
    mix = list(bodies().values())
    sink: list[CallFeatures] = []

    async def run() -> float:
        tap = FeatureTap(sink.append)
        seconds = float("inf")
        for _ in range(repeat):
            for i in range(calls):
                tap.take(event(), mix[i % len(mix)])
            start = time.process_time()
            await tap.drain()
            seconds = min(seconds, time.process_time() - start)
            sink.clear()
        return calls / seconds

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200_000, help="hand-offs per run")
    parser.add_argument("--calls", type=int, default=2000, help="extractions per run")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    tap_ns, append_ns = hand_off_ns(args.number, args.repeat)
    print(f"hand-off on the request path: FeatureTap.take {tap_ns:6.1f} ns/call")
    print(f"  baseline, list.append of the same pair:     {append_ns:6.1f} ns/call")
    print(f"  the tap's own cost:                          {tap_ns - append_ns:6.1f} ns/call")
    for name, body in bodies().items():
        print(f"extract, {name:20} {len(body):6} B  {extract_us(body, args.calls, args.repeat):8.1f} µs/call")
    print("extract_batch, blocks of 64 calls (the tap's), against plain extract in the same run, µs/call:")
    for name, body in bodies().items():
        for label, block in (("distinct", distinct_bodies(body, 64)), ("identical", [body] * 64)):
            plain, batched = batch_us(block, args.calls, args.repeat)
            print(
                f"  {name:20} {label:9}  plain {plain:7.1f}  batch {batched:7.1f}  ({plain / batched:4.1f}x)"
            )
    print(f"throughput (drain, mixed bodies): {throughput(args.calls, args.repeat):,.0f} calls/s on one core")


if __name__ == "__main__":
    main()
