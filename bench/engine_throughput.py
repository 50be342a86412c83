"""Answers recorded per second by the engine and storage, with residents answering at once.

    uv run python bench/engine_throughput.py [--residents 50] [--seconds 10]

Every answer is committed before the engine returns (the store's writer
thread commits, then wakes the caller). A heartbeat task measures how long
the event loop was ever kept from running: the storage must not block it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import freeze_startup_objects
from bot.database import migrate
from bot.engine import Consultations, Status
from bot.store import Store
from models import survey as schema

QUESTIONS = [
    {"id": "area", "type": "choice", "text": "Where?", "options": ["North", "Centre", "South"]},
    {
        "id": "priorities",
        "type": "multi_choice",
        "text": "What?",
        "max_choices": 3,
        "options": ["Youth club", "Community café", "Parks", "Bus"],
    },
    {"id": "safety", "type": "scale", "text": "Safe?", "min": 1, "max": 5},
    {"id": "safety_why", "type": "text", "text": "Why?", "show_if": "safety <= 2", "required": False},
    {"id": "years", "type": "number", "text": "Years?", "min": 0, "max": 100, "integer": True},
    {"id": "idea", "type": "text", "text": "Idea?"},
]
ANSWERS = {
    "area": "north",
    "priorities": ["youth-club", "parks"],
    "safety": 2,
    "safety_why": "The underpass at night",
    "years": 12,
    "idea": "A youth club on the estate",
}


def bench_survey() -> schema.Survey:
    from models.conditions import VarInfo, compile_condition

    survey = schema.Survey.model_validate({"id": "bench", "title": "Bench", "questions": QUESTIONS})
    survey.questions[3]._condition = compile_condition("safety <= 2", {"safety": VarInfo("number")}, ["safety"])
    survey._content_hash = "0" * 64
    return survey


async def heartbeat(stop: asyncio.Event, lags: list[float]) -> None:
    """Sleep 1 ms at a time and record how late each wake-up was."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - start - 0.001)


async def resident(engine: Consultations, name: str, deadline: float, latencies: list[float]) -> int:
    answered = 0
    round_ = 0
    while time.perf_counter() < deadline:
        who = f"{name}-{round_}"
        reply = await engine.start(who, "bench")
        while reply.status in (Status.ASK, Status.REFUSED):
            question = reply.question
            start = time.perf_counter()
            reply = await engine.answer(who, "bench", question.id, ANSWERS[question.id])
            latencies.append(time.perf_counter() - start)
            answered += 1
        assert reply.status == Status.FINISHED, reply.status
        round_ += 1
    return answered


class LoopTimer:
    """Longest time the event loop spent inside storage code (handing work over, taking results)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.calls = 0

    def wrap(self, function):  # type: ignore[no-untyped-def]
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.longest = max(self.longest, time.perf_counter() - start)
                self.calls += 1

        return timed


class TimedQueue:
    """The writer's queue, with the loop's `put` timed (the writer's `get` is not on the loop)."""

    def __init__(self, inner, timer: LoopTimer) -> None:  # type: ignore[no-untyped-def]
        self.put = timer.wrap(inner.put)
        self.get = inner.get
        self.get_nowait = inner.get_nowait


async def main(residents: int, seconds: float) -> None:
    import bot.store

    timer = LoopTimer()
    # The loop's side of storage: queueing work (put) and settling results (_settle).
    bot.store._settle = timer.wrap(bot.store._settle)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        migrate(url)
        store = Store(url)
        store._queue = TimedQueue(store._queue, timer)  # type: ignore[assignment]
        engine = Consultations(store, {"bench": bench_survey()})
        freeze_startup_objects()  # as the bot does once it has started
        stop = asyncio.Event()
        lags: list[float] = []
        latencies: list[float] = []
        beat = asyncio.create_task(heartbeat(stop, lags))
        cpu0 = time.process_time()
        start = time.perf_counter()
        deadline = start + seconds
        counts = await asyncio.gather(*(resident(engine, f"r{i}", deadline, latencies) for i in range(residents)))
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        stop.set()
        await beat
        await store.aclose()
        total = sum(counts)
        latencies.sort()
        print(f"residents at once:         {residents}")
        print(f"answers committed:         {total} in {elapsed:.1f} s")
        print(f"answers per second:        {total / elapsed:,.0f}")
        print(
            f"commits (transactions):    {store.batches} (mean {store.writes / max(store.batches, 1):.1f} writes each)"
        )
        print(
            f"answer latency p50 / p99:  {statistics.median(latencies) * 1000:.1f} ms / "
            f"{latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms"
        )
        print(
            f"heartbeat lag max / p99:   {max(lags) * 1000:.2f} ms / "
            f"{sorted(lags)[int(len(lags) * 0.99)] * 1000:.2f} ms"
        )
        print(f"storage on the loop, max:  {timer.longest * 1000:.2f} ms over {timer.calls} calls")
        print(f"CPU per answer:            {cpu / total * 1e6:.0f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.residents, args.seconds))
