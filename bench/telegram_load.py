"""Load test of the Telegram bot, against a bare python-telegram-bot bot as the floor.

    uv run python bench/telegram_load.py            # full run, about 5 minutes
    uv run python bench/telegram_load.py --quick    # smoke run, about 30 s

What happens (issue 3, "How it is checked"):

* The fake Bot API (tests/fakebot) is served on 127.0.0.1 in this process, and
  simulated residents are driven from here: each takes the example survey
  (surveys/millbrook-priorities.yaml) - /start deep link, a button for every choice
  and scale question, ticks and Done for multi-choice, typed text for number and
  text questions - then starts again under a new user id, until the time is up.
* The bot runs as a subprocess talking to the fake over real HTTP, so that its CPU
  time (/proc/PID/stat) and memory (/proc/PID/status) are its own:
  consultbot is `python -m bot.cli run` with CONSULTBOT_RATE_LIMIT=0 and a fresh
  SQLite database; the floor is bench/bare_bot.py (same questions and buttons, no
  database, no rate limiter).
* For each bot: N residents at once (default 50) for the throughput figures, then
  20 residents for latency; the residents arrive one by one during the warm-up
  (--ramp), and the two bots take turns, phase by phase. For consultbot, then 10,000 residents each /start and
  answer one question (every fourth answers two), at most --memory-concurrency at a
  time, and its RSS is read with all of them in the middle of the survey.

Definitions:

* answered question: a tap on a choice or scale button, a tap on Done, or a typed
  answer, that the bot answered by sending the next question (or the thanks).
  Multi-choice ticks and /start are not counted (they are reported separately).
  Throughput is answered questions per second inside the measured window (after a
  warm-up).
* latency: from the moment the resident's update is queued in the fake to the moment
  the bot's next question reaches the fake (sendMessage handled).
* CPU per reply: the bot process's user+system CPU time (all threads) during the
  window divided by the answered questions in the window (ticks and /starts in the
  window are part of the cost).
* Bot API calls: counted by the fake server (per method, during the window), and per
  kind of resident action from the chat transcripts.

The driver is cheap on purpose: residents wait on a per-chat future resolved by the
fake when the bot does something in that chat (no polling), and the driver's own CPU
use and event-loop lag are printed so one can see it did not starve the bot. CPU used
by other processes meanwhile (/proc/stat) is printed too, and flagged when it is high:
on a 2-core machine a test run elsewhere skews every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import gc
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import survey as schema
from models.loader import load_surveys
from tests.fakebot import Event, FakeTelegram, StoredMessage

ROOT = Path(__file__).resolve().parent.parent
SURVEY_ID = "millbrook-priorities"
SURVEYS_DIR = ROOT / "surveys"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WAIT = 30.0  # seconds a resident waits for the bot before giving up on a session
DONE = "Done ✔"
NOISY = 0.2  # cores used by other processes during a phase before the figures are flagged
ANSWER_KINDS = ("button", "typed")  # actions that count as answered questions
TYPED_TEXTS = [
    "The underpass by the station at night",
    "A youth club on the estate",
    "More benches in the park and a bus that runs on Sundays",
    "Fix the street lights on Mill Lane",
]


# ------------------------------------------------------------------ the fake


@dataclass
class Watch:
    """A resident waiting for the bot to do something in their chat."""

    match: Callable[[Event], bool]
    future: asyncio.Future[tuple[Event, float]]


class BenchFake(FakeTelegram):
    """The project's fake, plus a per-chat wake-up when the bot acts there.

    The fake's own wait_for_* helpers wake every waiter on every change; with 50
    residents waiting that is 50 checks per API call. Here only the resident whose
    chat changed is woken, and the time the bot's call reached the fake is taken then.
    """

    def __init__(self) -> None:
        super().__init__()
        self.watches: dict[int, Watch] = {}

    def _record(self, chat_id: int, kind: str, *, actor: str = "bot", **fields: Any) -> Event:
        event = super()._record(chat_id, kind, actor=actor, **fields)
        if actor == "bot":
            watch = self.watches.get(chat_id)
            if watch is not None and not watch.future.done() and watch.match(event):
                watch.future.set_result((event, time.perf_counter()))
        return event


# ------------------------------------------------------------------ processes


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of the process's main thread (the event loop) and of all its other threads."""
    main = other = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ValueError):
            stat = (task / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            seconds = (int(fields[11]) + int(fields[12])) / CLK_TCK
            if int(task.name) == pid:
                main += seconds
            else:
                other += seconds
    return main, other


def machine_busy() -> float:
    """CPU seconds all CPUs spent busy since boot (for spotting other load on the machine)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def proc_memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


@dataclass
class BotProcess:
    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL; the fake keeps serving meanwhile (PTB's last getUpdates)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)
        return self.proc.returncode

    def log_problems(self) -> list[str]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if " ERROR " in line or "Traceback" in line or " CRITICAL " in line]


# ------------------------------------------------------------------ residents


class SessionAbort(Exception):
    """The bot did not answer as expected; the resident starts over."""


@dataclass
class Action:
    kind: str  # start, toggle, button, typed
    done: float  # perf_counter when the bot's reply reached the fake
    latency: float


@dataclass
class Run:
    """Everything one load phase records."""

    actions: list[Action] = field(default_factory=list)
    calls_by_kind: dict[str, Counter[str]] = field(default_factory=dict)
    actions_by_kind: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    sessions: int = 0
    window: tuple[float, float] = (0.0, float("inf"))

    def in_window(self, moment: float) -> bool:
        return self.window[0] <= moment <= self.window[1]


class Driver:
    """Simulated residents taking the survey through the fake."""

    def __init__(self, fake: BenchFake, survey: schema.Survey, ids: Iterator[int]) -> None:
        self.fake = fake
        self.survey = survey
        self.ids = ids
        self.by_text = sorted(((schema.localise(q.text), q) for q in survey.questions), key=lambda pair: -len(pair[0]))
        self.thanks = schema.localise(survey.thanks).splitlines()[0]

    def question_of(self, message: StoredMessage) -> schema.Question | None:
        text = message.text or ""
        if "Question " not in text:
            return None
        return next((q for qt, q in self.by_text if qt in text), None)

    async def act(
        self, run: Run, uid: int, kind: str, do: Callable[[], object], match: Callable[[Event], bool]
    ) -> Event:
        """Do one thing as resident ``uid`` and wait for the bot's matching reply."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Event, float]] = loop.create_future()
        self.fake.watches[uid] = Watch(match, future)
        mark = self.fake.mark(uid) if uid in self.fake.chats else 0
        started = time.perf_counter()
        do()
        try:
            async with asyncio.timeout(WAIT):
                event, arrived = await future
        except TimeoutError:
            raise SessionAbort(f"{kind}: no reply after {WAIT}s (user {uid})") from None
        finally:
            self.fake.watches.pop(uid, None)
        run.actions.append(Action(kind, arrived, arrived - started))
        if run.in_window(arrived):
            counter = run.calls_by_kind.setdefault(kind, Counter())
            counter.update(e.kind for e in self.fake.transcript(uid)[mark:])
            run.actions_by_kind[kind] += 1
        return event

    def _message(self, uid: int, event: Event) -> StoredMessage:
        return self.fake.message(uid, event.message_id or 0)

    async def start(self, run: Run, uid: int) -> StoredMessage:
        """/start with the deep link; returns the first question."""

        def is_question(event: Event) -> bool:
            return event.kind == "message" and "Question " in (event.text or "")

        text = f"/start {SURVEY_ID}"
        event = await self.act(run, uid, "start", lambda: self.fake.user_sends(uid, text), is_question)
        return self._message(uid, event)

    async def answer(
        self, run: Run, uid: int, message: StoredMessage, rng: random.Random, toggles: bool = True
    ) -> StoredMessage | None:
        """Answer the question in ``message``; returns the next question (None: thanks)."""
        question = self.question_of(message)
        if question is None:
            raise SessionAbort(f"not a question: {(message.text or '')[:80]!r}")
        mid = message.message_id

        def new_message(event: Event) -> bool:
            return event.kind == "message"

        def press(label_matches: Callable[[str], bool]) -> Callable[[], object]:
            current = self.fake.message(uid, mid)
            for row in current.buttons:
                for text, data in row:
                    if data is not None and label_matches(text):
                        return lambda: self.fake.user_presses(uid, mid, data)
            raise SessionAbort(f"no such button on {question.id}: {current.buttons}")

        if isinstance(question, schema.ChoiceQuestion):
            label = schema.localise(rng.choice(question.options).label)
            event = await self.act(run, uid, "button", press(lambda t: t == label), new_message)
        elif isinstance(question, schema.ScaleQuestion):
            point = str(rng.choice(question.points))
            event = await self.act(
                run, uid, "button", press(lambda t: t == point or t.startswith(point + " ")), new_message
            )
        elif isinstance(question, schema.MultiChoiceQuestion):
            picks = rng.sample(question.options, rng.randint(1, min(3, question.most)))
            for option in picks:
                label = schema.localise(option.label)

                def ticked(event: Event) -> bool:
                    return event.kind == "edit_markup" and event.message_id == mid

                await self.act(run, uid, "toggle", press(lambda t, label=label: t.endswith(label)), ticked)
            event = await self.act(run, uid, "button", press(lambda t: t == DONE), new_message)
        else:
            number = isinstance(question, schema.NumberQuestion)
            text = str(rng.randint(0, 40)) if number else rng.choice(TYPED_TEXTS)
            event = await self.act(run, uid, "typed", lambda: self.fake.user_sends(uid, text), new_message)
        reply = self._message(uid, event)
        if self.question_of(reply) is not None:
            return reply
        if self.thanks in (reply.text or ""):
            return None
        raise SessionAbort(f"unexpected reply to {question.id}: {(reply.text or '')[:80]!r}")

    async def resident(self, run: Run, index: int, stop_at: float, delay: float = 0.0) -> None:
        """After ``delay`` seconds, take the survey again and again, under a new user id each time."""
        await asyncio.sleep(delay)
        session = 0
        while time.perf_counter() < stop_at:
            uid = next(self.ids)
            rng = random.Random(index * 100_003 + session)
            session += 1
            try:
                message: StoredMessage | None = await self.start(run, uid)
                while message is not None and time.perf_counter() < stop_at:
                    message = await self.answer(run, uid, message, rng)
                if message is None:
                    run.sessions += 1
            except SessionAbort as exc:
                run.errors.append(str(exc))
                if len(run.errors) > 200:
                    raise RuntimeError("too many failed sessions:\n" + "\n".join(run.errors[:10])) from None

    async def partial(self, run: Run, questions: int) -> None:
        """One resident: /start and answer ``questions`` questions, then walk away."""
        uid = next(self.ids)
        rng = random.Random(uid)
        try:
            message: StoredMessage | None = await self.start(run, uid)
            for _ in range(questions):
                assert message is not None
                message = await self.answer(run, uid, message, rng)
        except SessionAbort as exc:
            run.errors.append(str(exc))


# ------------------------------------------------------------------ measuring


async def heartbeat(
    fake: BenchFake, stop: asyncio.Event, lags: list[float], connections: list[int], every: float = 0.05
) -> None:
    """How late the driver's event loop wakes up (a busy driver would show here), and how many
    HTTP connections the bot holds open to the fake (sampled at the same time)."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(every)
        lags.append(time.perf_counter() - start - every)
        connections.append(len(fake._http._connections) if fake._http else 0)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


@dataclass
class Phase:
    """The figures of one load phase against one bot."""

    residents: int
    seconds: float
    answered: int
    latencies: list[float]
    kind_latencies: dict[str, list[float]]
    bot_cpu: float
    others_cpu: float  # CPU used by every other process on the machine meanwhile
    loop_cpu: float  # the bot's main thread (event loop)
    other_cpu: float  # the bot's other threads (consultbot: database writer and readers)
    connections: tuple[float, int]  # HTTP connections the bot held open to the fake: mean, max
    driver_cpu: float
    calls: Counter[str]
    calls_by_kind: dict[str, Counter[str]]
    actions_by_kind: Counter[str]
    errors: list[str]
    sessions: int
    lag_p99: float
    lag_max: float
    rss: dict[str, float]

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds

    @property
    def updates(self) -> int:
        return sum(self.actions_by_kind.values())

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


async def load_phase(
    driver: Driver, bot: BotProcess, residents: int, warmup: float, seconds: float, ramp: float
) -> Phase:
    """``residents`` at once for warmup + seconds; figures from the last ``seconds``.

    Residents arrive one by one over the first ``ramp`` seconds (at most the warm-up),
    so that the window measures steady work, not 50 /starts in the same millisecond."""
    run = Run()
    gc.collect()
    gc.freeze()  # the fake's growing state is never scanned again: no long GC pauses in the driver
    begin = time.perf_counter()
    run.window = (begin + warmup, begin + warmup + seconds)
    stop_at = run.window[1]
    stop, lags, conns = asyncio.Event(), [], []
    beat = asyncio.create_task(heartbeat(driver.fake, stop, lags, conns))
    ramp = min(ramp, warmup)
    tasks = [asyncio.create_task(driver.resident(run, i, stop_at, ramp * i / residents)) for i in range(residents)]

    await asyncio.sleep(max(0.0, run.window[0] - time.perf_counter()))
    cpu0, driver0, calls0, lag_start = proc_cpu(bot.pid), time.process_time(), Counter(driver.fake.calls), len(lags)
    threads0, busy0 = thread_cpu(bot.pid), machine_busy()
    await asyncio.sleep(max(0.0, run.window[1] - time.perf_counter()))
    cpu1, driver1, calls1 = proc_cpu(bot.pid), time.process_time(), Counter(driver.fake.calls)
    threads1, busy1 = thread_cpu(bot.pid), machine_busy()
    window_lags, window_conns = lags[lag_start:], conns[lag_start:]
    rss = proc_memory(bot.pid)

    done, pending = await asyncio.wait(tasks, timeout=WAIT + 5)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    stop.set()
    await beat
    if not bot.alive():
        raise RuntimeError(f"{bot.name} died during the run; see {bot.log_path}")

    measured = [a for a in run.actions if run.in_window(a.done)]
    answered = [a for a in measured if a.kind in ANSWER_KINDS]
    kinds: dict[str, list[float]] = {}
    for action in measured:
        kinds.setdefault(action.kind, []).append(action.latency)
    return Phase(
        residents=residents,
        seconds=seconds,
        answered=len(answered),
        latencies=[a.latency for a in answered],
        kind_latencies=kinds,
        bot_cpu=cpu1 - cpu0,
        others_cpu=max(0.0, (busy1 - busy0) - (cpu1 - cpu0) - (driver1 - driver0)),
        loop_cpu=threads1[0] - threads0[0],
        other_cpu=threads1[1] - threads0[1],
        connections=(sum(window_conns) / max(len(window_conns), 1), max(window_conns, default=0)),
        driver_cpu=driver1 - driver0,
        calls=calls1 - calls0,
        calls_by_kind=run.calls_by_kind,
        actions_by_kind=run.actions_by_kind,
        errors=run.errors,
        sessions=run.sessions,
        lag_p99=percentile(window_lags, 99) * 1000,
        lag_max=max(window_lags, default=0.0) * 1000,
        rss=rss,
    )


async def memory_phase(driver: Driver, bot: BotProcess, residents: int, concurrency: int) -> dict[str, Any]:
    """``residents`` each /start and answer 1 or 2 questions; then read the bot's RSS."""
    run = Run()
    gc.collect()
    gc.freeze()
    started = time.perf_counter()
    cpu0, threads0, busy0, driver0 = proc_cpu(bot.pid), thread_cpu(bot.pid), machine_busy(), time.process_time()
    todo = iter(range(residents))
    progress = max(1, residents // 5)

    async def worker() -> None:
        for n in todo:
            await driver.partial(run, 2 if n % 4 == 3 else 1)
            if (n + 1) % progress == 0:
                rate = (n + 1) / (time.perf_counter() - started)
                print(f"    {n + 1:>6} residents in the middle of the survey ({rate:.0f}/s)", flush=True)

    stop, lags, conns = asyncio.Event(), [], []
    beat = asyncio.create_task(heartbeat(driver.fake, stop, lags, conns, every=0.25))
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stop.set()
    await beat
    elapsed = time.perf_counter() - started
    cpu1, threads1, busy1, driver1 = proc_cpu(bot.pid), thread_cpu(bot.pid), machine_busy(), time.process_time()
    await asyncio.sleep(1.0)
    if not bot.alive():
        raise RuntimeError(f"{bot.name} died during the memory phase; see {bot.log_path}")
    return {
        "residents": residents,
        "seconds": elapsed,
        "errors": run.errors,
        "rss": proc_memory(bot.pid),
        "updates": len(run.actions),
        "bot_cpu": cpu1 - cpu0,
        "loop_cpu": threads1[0] - threads0[0],
        "other_cpu": threads1[1] - threads0[1],
        "others_cpu": max(0.0, (busy1 - busy0) - (cpu1 - cpu0) - (driver1 - driver0)),
        "connections": (sum(conns) / max(len(conns), 1), max(conns, default=0)),
    }


# ------------------------------------------------------------------ one bot


@dataclass
class BotResult:
    name: str
    main: Phase
    latency: Phase
    idle_rss: dict[str, float]
    memory: dict[str, Any] | None
    api_errors: list[str]
    log_problems: list[str]
    exit_code: int | None


def id_counter(start: int) -> Iterator[int]:
    n = start
    while True:
        yield n
        n += 1


@dataclass
class BotUnderTest:
    """A bot subprocess with its own fake Bot API and residents."""

    name: str
    fake: BenchFake
    bot: BotProcess
    driver: Driver
    idle_rss: dict[str, float] = field(default_factory=dict)
    phases: dict[str, Phase] = field(default_factory=dict)
    memory: dict[str, Any] | None = None
    exit_code: int | None = None

    async def wait_polling(self) -> None:
        """Until the bot's first getUpdates (it has started and set itself up)."""
        startup = time.perf_counter()
        while self.fake.calls["getUpdates"] == 0:
            if not self.bot.alive():
                raise RuntimeError(f"{self.name} exited at start:\n{self.bot.log_path.read_text()[-3000:]}")
            if time.perf_counter() - startup > 60:
                raise RuntimeError(f"{self.name} did not poll within 60 s")
            await self.fake._wait_change(self.fake._version, 0.5)
        self.idle_rss = proc_memory(self.bot.pid)
        print(f"   {self.name} (pid {self.bot.pid}) polling after {time.perf_counter() - startup:.1f} s", flush=True)

    async def phase(self, key: str, residents: int, warmup: float, seconds: float, ramp: float) -> None:
        print(f"   {self.name}, {residents} residents: {warmup:.0f} s warm-up + {seconds:.0f} s", flush=True)
        phase = self.phases[key] = await load_phase(self.driver, self.bot, residents, warmup, seconds, ramp)
        print(f"     -> {phase.throughput:.1f} answered questions/s, p99 {phase.p(99):.1f} ms", flush=True)

    async def stop(self) -> None:
        """Stop the bot (the fake serves until it has exited), then the fake."""
        self.exit_code = await self.bot.stop()
        await self.fake.stop_serving()

    def result(self) -> BotResult:
        errors = [f"{c.method} -> {c.status} {c.description}" for c in self.fake.api_errors()]
        return BotResult(
            self.name,
            self.phases["main"],
            self.phases["latency"],
            self.idle_rss,
            self.memory,
            errors,
            self.bot.log_problems(),
            self.exit_code,
        )


async def start_bot(
    name: str, command: list[str], env: dict[str, str], workdir: Path, surveys: Path, first_id: int
) -> BotUnderTest:
    """Serve a fake for the bot and start the bot as a subprocess against it."""
    survey = load_surveys([surveys]).surveys[SURVEY_ID]
    fake = BenchFake()
    base_url = await fake.serve("127.0.0.1", 0)
    env = {**env, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": base_url}
    bot = BotProcess(name, command, env, workdir / f"{name}.log")
    bot.start()
    print(f"   {name}: fake Bot API at {base_url}", flush=True)
    return BotUnderTest(name, fake, bot, Driver(fake, survey, id_counter(first_id)))


# ------------------------------------------------------------------ report


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def report(consult: BotResult, bare: BotResult | None, args: argparse.Namespace) -> None:
    c50, c20 = consult.main, consult.latency
    b50, b20 = (bare.main, bare.latency) if bare else (None, None)
    n, m = args.residents, args.latency_residents

    def row(label: str, cv: str, bv: str = "", r: str = "", target: str = "") -> None:
        print(f"{label:<46}{cv:>12}{bv:>12}{r:>9}  {target}")

    def cpu_ms(phase: Phase) -> float:
        return phase.bot_cpu / phase.answered * 1000 if phase.answered else float("nan")

    def calls_per(phase: Phase, kind: str) -> str:
        count = phase.actions_by_kind.get(kind, 0)
        if not count:
            return "-"
        return f"{sum(phase.calls_by_kind.get(kind, Counter()).values()) / count:.2f}"

    print("\n" + "=" * 96)
    print("Telegram load test: consultbot vs a bare python-telegram-bot bot (rate limiters off)")
    print("=" * 96)
    row("", "consultbot", "bare PTB", "ratio", "target")
    row(
        f"answered questions/s, {n} residents",
        f"{c50.throughput:.1f}",
        f"{b50.throughput:.1f}" if b50 else "",
        ratio(c50.throughput, b50.throughput) if b50 else "",
        ">= 0.7" if n == 50 else "",
    )
    for label, fn in [("p50", 50), ("p99", 99)]:
        row(
            f"  {label} latency tap -> next question, {n} res. (ms)",
            f"{c50.p(fn):.1f}",
            f"{b50.p(fn):.1f}" if b50 else "",
            ratio(c50.p(fn), b50.p(fn)) if b50 else "",
        )
    row(
        f"  bot CPU per answered question, {n} res. (ms)",
        f"{cpu_ms(c50):.2f}",
        f"{cpu_ms(b50):.2f}" if b50 else "",
        ratio(cpu_ms(c50), cpu_ms(b50)) if b50 else "",
    )
    row(
        f"  bot updates handled/s, {n} res. (incl. ticks, /start)",
        f"{c50.updates / c50.seconds:.1f}",
        f"{b50.updates / b50.seconds:.1f}" if b50 else "",
        ratio(c50.updates, b50.updates) if b50 else "",
    )
    row(
        f"  bot CPU per update handled, {n} res. (ms)",
        f"{c50.bot_cpu / c50.updates * 1000:.2f}",
        f"{b50.bot_cpu / b50.updates * 1000:.2f}" if b50 else "",
    )
    row(
        f"  bot CPU use, {n} res. (cores)",
        f"{c50.bot_cpu / c50.seconds:.2f}",
        f"{b50.bot_cpu / b50.seconds:.2f}" if b50 else "",
    )
    row(
        f"answered questions/s, {m} residents",
        f"{c20.throughput:.1f}",
        f"{b20.throughput:.1f}" if b20 else "",
        ratio(c20.throughput, b20.throughput) if b20 else "",
    )
    row(
        f"  p50 latency, {m} residents (ms)",
        f"{c20.p(50):.1f}",
        f"{b20.p(50):.1f}" if b20 else "",
        ratio(c20.p(50), b20.p(50)) if b20 else "",
    )
    row(
        f"  p99 latency, {m} residents (ms)",
        f"{c20.p(99):.1f}",
        f"{b20.p(99):.1f}" if b20 else "",
        ratio(c20.p(99), b20.p(99)) if b20 else "",
        "<= 1.5" if m == 20 else "",
    )
    row(
        f"  bot CPU per answered question, {m} res. (ms)",
        f"{cpu_ms(c20):.2f}",
        f"{cpu_ms(b20):.2f}" if b20 else "",
        ratio(cpu_ms(c20), cpu_ms(b20)) if b20 else "",
    )
    row(
        "API calls per button answer (transcripts)",
        calls_per(c50, "button"),
        calls_per(b50, "button") if b50 else "",
        "",
        "<= 3",
    )
    row("API calls per typed answer", calls_per(c50, "typed"), calls_per(b50, "typed") if b50 else "")
    row("API calls per multi-choice tick", calls_per(c50, "toggle"), calls_per(b50, "toggle") if b50 else "")
    row("API calls per /start", calls_per(c50, "start"), calls_per(b50, "start") if b50 else "")
    row(
        "RSS at start / after load (MB)",
        f"{consult.idle_rss['VmRSS']:.0f}/{c20.rss['VmRSS']:.0f}",
        f"{bare.idle_rss['VmRSS']:.0f}/{bare.latency.rss['VmRSS']:.0f}" if bare else "",
    )
    if consult.memory:
        mem = consult.memory
        row(
            f"RSS, {mem['residents']:,} residents mid-survey (MB)",
            f"{mem['rss']['VmRSS']:.1f}",
            "",
            "",
            "< 150",
        )
        row("  peak RSS (VmHWM, MB)", f"{mem['rss']['VmHWM']:.1f}")

    print(f"\nBot API calls per answered question, by method, counted by the fake during the {n}-resident window")
    for result in filter(None, [consult, bare]):
        phase = result.main
        parts = [f"{method} {count / phase.answered:.2f}" for method, count in phase.calls.most_common()]
        print(f"  {result.name:<11} " + ", ".join(parts))
    print("\nDetails")
    for result in filter(None, [consult, bare]):
        for phase in (result.main, result.latency):
            per_kind = ", ".join(
                f"{kind} {len(v)} p50 {percentile(v, 50) * 1000:.1f} p99 {percentile(v, 99) * 1000:.1f}"
                for kind, v in sorted(phase.kind_latencies.items())
            )
            slow = sum(1 for v in phase.latencies if v > 0.3)
            print(
                f"  {result.name:<11} {phase.residents:>3} res.: {phase.answered} answered in {phase.seconds:.0f} s, "
                f"{phase.updates / phase.seconds:.1f} updates/s, {phase.sessions} surveys completed, "
                f"{len(phase.errors)} failed sessions, {slow} answers slower than 300 ms"
            )
            print(f"  {'':<11} latency (ms) by action: {per_kind}")
            print(
                f"  {'':<11} bot CPU {phase.bot_cpu / phase.seconds:.2f} cores: event-loop thread "
                f"{phase.loop_cpu / phase.seconds:.2f} "
                f"({phase.loop_cpu / max(phase.updates, 1) * 1000:.2f} ms/update), "
                f"other threads {phase.other_cpu / phase.seconds:.2f}; HTTP connections to the fake: mean "
                f"{phase.connections[0]:.0f}, max {phase.connections[1]}; "
                f"driver+fake CPU {phase.driver_cpu / phase.seconds:.2f} cores, "
                f"other processes {phase.others_cpu / phase.seconds:.2f} cores, "
                f"driver loop lag p99 {phase.lag_p99:.1f} ms max {phase.lag_max:.1f} ms"
            )
            for error in phase.errors[:3]:
                print(f"  {'':<11} failed: {error}")
        if result.memory:
            mem = result.memory
            print(
                f"  {result.name:<11} memory phase: {mem['residents']} residents, {mem['updates']} updates in "
                f"{mem['seconds']:.0f} s, {len(mem['errors'])} failed; bot CPU {mem['bot_cpu'] / mem['seconds']:.2f} "
                f"cores ({mem['bot_cpu'] / mem['updates'] * 1000:.2f} ms/update; event-loop thread "
                f"{mem['loop_cpu'] / mem['seconds']:.2f}, other threads {mem['other_cpu'] / mem['seconds']:.2f}); "
                f"HTTP connections to the fake: mean {mem['connections'][0]:.0f}, max {mem['connections'][1]}; "
                f"other processes {mem['others_cpu'] / mem['seconds']:.2f} cores"
            )
            for error in mem["errors"][:3]:
                print(f"  {'':<11} failed: {error}")
        print(
            f"  {result.name:<11} fake API errors: {len(result.api_errors)}"
            + "".join(
                f"\n  {'':<11}   {e}" for e in Counter(result.api_errors).most_common(5) for e in [f"{e[1]}x {e[0]}"]
            )
        )
        print(f"  {result.name:<11} exit code {result.exit_code}, log problems: {len(result.log_problems)}")
        for line in result.log_problems[:5]:
            print(f"  {'':<11}   {line[:160]}")

    busy = [
        f"{r.name} {p.residents} residents: {p.others_cpu / p.seconds:.2f} cores"
        for r in filter(None, [consult, bare])
        for p in (r.main, r.latency)
        if p.others_cpu / p.seconds > NOISY
    ]
    if consult.memory and consult.memory["others_cpu"] / consult.memory["seconds"] > NOISY:
        busy.append(f"consultbot memory phase: {consult.memory['others_cpu'] / consult.memory['seconds']:.2f} cores")
    if busy:
        print("\nWARNING: other processes were using the CPU during: " + "; ".join(busy))
        print("         (on 2 cores that steals from the bot or the fake; run again on a quiet machine)")
    if b50 and b20:
        verdicts = [
            (f"throughput ratio, {n} residents", c50.throughput / b50.throughput >= 0.7, ">= 0.7"),
            (f"p99 ratio, {m} residents", c20.p(99) / b20.p(99) <= 1.5, "<= 1.5"),
        ]
        if consult.memory:
            verdicts.append(("RSS at 10,000 residents", consult.memory["rss"]["VmRSS"] < 150, "< 150 MB"))
        button = c50.actions_by_kind.get("button", 0)
        per_button = sum(c50.calls_by_kind.get("button", Counter()).values()) / button if button else 99
        verdicts.append(("API calls per button answer", per_button <= 3, "<= 3"))
        print("\nTargets: " + "; ".join(f"{label} {'met' if ok else 'MISSED'} ({t})" for label, ok, t in verdicts))


# ------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=50, help="residents at once for throughput (50)")
    parser.add_argument("--duration", type=float, default=20, help="measured seconds with --residents (20)")
    parser.add_argument("--latency-residents", type=int, default=20, help="residents at once for latency (20)")
    parser.add_argument("--latency-duration", type=float, default=15, help="measured seconds for latency (15)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before each window (3)")
    parser.add_argument(
        "--ramp",
        type=float,
        default=None,
        help="seconds over which residents arrive, at most the warm-up (default: the warm-up; 0: all at once)",
    )
    parser.add_argument("--memory-residents", type=int, default=10_000, help="residents mid-survey for RSS (10000)")
    parser.add_argument("--memory-concurrency", type=int, default=50, help="of those, at once at most (50)")
    parser.add_argument("--skip-bare", action="store_true", help="only run consultbot")
    parser.add_argument("--profile", metavar="FILE", help="run consultbot under cProfile, stats to FILE")
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.latency_duration, args.warmup = 5, 4, 2
        args.memory_residents = min(args.memory_residents, 300)
    if args.ramp is None:
        args.ramp = args.warmup
    if args.profile:
        args.profile = str(Path(args.profile).resolve())
    return args


def surveys_dir(workdir: Path) -> Path:
    """The example survey's folder; outside the survey's opening dates, a copy without them."""
    survey = load_surveys([SURVEYS_DIR]).surveys[SURVEY_ID]
    if survey.is_open(datetime.datetime.now(datetime.UTC)):
        return SURVEYS_DIR
    folder = workdir / "surveys"
    folder.mkdir()
    source = SURVEYS_DIR / f"{SURVEY_ID}.yaml"
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(("opens:", "closes:"))]
    (folder / source.name).write_text("".join(kept), encoding="utf-8")
    print(f"(the example survey is not open today: using a copy without its opening dates in {folder})")
    return folder


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="consultbot-bench-") as tmp:
        workdir = Path(tmp)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "CONSULTBOT_"))}
        base_env["PYTHONUNBUFFERED"] = "1"
        surveys = surveys_dir(workdir)
        consult_env = {
            **base_env,
            "CONSULTBOT_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "CONSULTBOT_SURVEYS_DIR": str(surveys),
            "CONSULTBOT_RATE_LIMIT": "0",
            "CONSULTBOT_SECRET": "x" * 32,
        }
        consult_cmd = [sys.executable, "-m", "bot.cli", "run"]
        if args.profile:
            consult_cmd = [sys.executable, "-m", "cProfile", "-o", args.profile, *consult_cmd[1:]]
        bots = []
        try:
            if not args.skip_bare:
                bare_cmd = [sys.executable, str(ROOT / "bench" / "bare_bot.py"), str(surveys / f"{SURVEY_ID}.yaml")]
                bots.append(await start_bot("bare", bare_cmd, base_env, workdir, surveys, 10_000_000))
            bots.append(await start_bot("consultbot", consult_cmd, consult_env, workdir, surveys, 20_000_000))
            for under_test in bots:
                await under_test.wait_polling()
            # Phases alternate between the bots, so that a change in other load on the
            # machine is less likely to land on one bot only.
            for key, residents, seconds in [
                ("main", args.residents, args.duration),
                ("latency", args.latency_residents, args.latency_duration),
            ]:
                for under_test in bots:
                    await under_test.phase(key, residents, args.warmup, seconds, args.ramp)
            consult_under_test = bots[-1]
            if args.memory_residents:
                print(
                    f"   consultbot, {args.memory_residents} residents /start and answer one question "
                    "(every fourth two)",
                    flush=True,
                )
                consult_under_test.memory = await memory_phase(
                    consult_under_test.driver, consult_under_test.bot, args.memory_residents, args.memory_concurrency
                )
        finally:
            for under_test in bots:
                await under_test.stop()
        results = [under_test.result() for under_test in bots]
        consult = results[-1]
        bare = results[0] if len(results) == 2 else None
        report(consult, bare, args)


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args))
    print(f"\n(whole run {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
