"""The choice questions at a glance, as one PNG for a phone screen.

matplotlib is imported inside `chart_png`, not at module import, so a bot
that never makes a digest never loads it (it costs ~50 MB, and 0.4-1 s the
first time: more when Python has no bytecode cache to read).
The object API with the Agg canvas is used, not pyplot: no global figure
state, so charts can be drawn on any thread.
"""

from __future__ import annotations

import gc
import io
import sys
import textwrap
import threading
from typing import Any

from bot.digest.aggregate import DigestData, QuestionSummary

WIDTH_INCHES = 6.0
DPI = 150
# Telegram wants width + height <= 10000 px for a photo; stay well inside it.
MAX_HEIGHT_INCHES = 50.0
LABEL_WIDTH = 18  # characters per line of an option label
TITLE_WIDTH = 46
FONT = 13
# The layout, in inches (before a huge chart is scaled down).
TOP, FOOT = 0.25, 0.55
TITLE_LINE, TITLE_GAP = 0.27, 0.12
ROW = 0.52  # one option
BLOCK_GAP = 0.4
LEFT, RIGHT = 0.36, 0.97  # the bars' area, as fractions of the width
BAR_COLOUR = "#2a7ab0"
MUTED = "#777777"
_IMPORT_LOCK = threading.Lock()


def chart_ready() -> bool:
    """Whether matplotlib is loaded already."""
    return "matplotlib.backends.backend_agg" in sys.modules


def load_matplotlib() -> tuple[Any, Any]:
    """matplotlib's Figure and Agg canvas, imported on first use.

    The import creates ~90,000 long-lived objects (fonts, colour maps,
    docstrings). Walked over again by every full collection of the cyclic
    garbage collector, they made those take 60-100 ms in the benchmark,
    holding the GIL and so the event loop. So the collector is paused while
    matplotlib loads, and every object alive then (the bot's own modules
    too) is frozen with `gc.freeze`: left out of all later collections.
    """
    if chart_ready():
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        return Figure, FigureCanvasAgg
    with _IMPORT_LOCK:
        enabled = gc.isenabled()
        gc.disable()
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            Figure(figsize=(1, 1))  # loads the font list too
            gc.freeze()
        finally:
            if enabled:
                gc.enable()
    return Figure, FigureCanvasAgg


def _chosen(data: DigestData) -> list[QuestionSummary]:
    return [q for q in data.questions if q.kind in ("choice", "multi_choice")]


def _wrap(text: str, width: int, lines: int) -> str:
    wrapped = textwrap.wrap(" ".join(text.split()), width) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: width - 1].rstrip() + "…"
    return "\n".join(wrapped)


def chart_png(survey: object, data: DigestData) -> bytes | None:
    """A PNG with one horizontal bar chart per choice/multi-choice question; None if there are none.

    Bars are shares of the people who answered the question. A suppressed
    option gets no bar, only the words "fewer than N", so the picture shows
    no more than the text does. The layout is computed in inches, so it
    stays the same however many questions and options there are.
    """
    questions = _chosen(data)
    if not questions:
        return None
    Figure, FigureCanvasAgg = load_matplotlib()

    titles = [_title(q) for q in questions]
    blocks = [
        (TITLE_LINE * (title.count("\n") + 1) + TITLE_GAP, ROW * max(len(q.bars), 1))
        for q, title in zip(questions, titles, strict=True)
    ]
    height = TOP + sum(t + b + BLOCK_GAP for t, b in blocks) + FOOT
    scale = min(1.0, MAX_HEIGHT_INCHES / height)  # a huge survey: shrink rather than overflow
    figure = Figure(figsize=(WIDTH_INCHES, height * scale), dpi=DPI)
    FigureCanvasAgg(figure)
    font = FONT * scale

    def y(inches: float) -> float:  # inches from the top, as a figure fraction from the bottom
        return 1 - inches / height

    top = TOP
    for summary, title, (title_height, bars_height) in zip(questions, titles, blocks, strict=True):
        figure.text(0.03, y(top), title, ha="left", va="top", fontsize=font * 1.1, fontweight="bold", parse_math=False)
        top += title_height
        axes = figure.add_axes((LEFT, y(top + bars_height), RIGHT - LEFT, bars_height / height))
        _draw(axes, summary, font)
        top += bars_height + BLOCK_GAP
    figure.text(
        0.03,
        y(height - FOOT * 0.35),
        f"Share of the people who answered each question.\nGroups under {data.min_group_size} are not drawn.",
        ha="left",
        va="center",
        fontsize=font * 0.8,
        color=MUTED,
        parse_math=False,
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _title(summary: QuestionSummary) -> str:
    several = ", several allowed" if summary.kind == "multi_choice" else ""
    heading = _wrap(f"{summary.number}. {summary.text}", TITLE_WIDTH, 3)
    return f"{heading}\n({summary.answered} answered{several})"


def _draw(axes: Any, summary: QuestionSummary, font: float) -> None:
    bars = summary.bars
    positions = list(range(len(bars)))
    shares = [b.share if b.share is not None else 0.0 for b in bars]
    axes.barh(positions, [s * 100 for s in shares], height=0.7, color=BAR_COLOUR)
    axes.set_yticks(positions, [_wrap(b.label, LABEL_WIDTH, 2) for b in bars], fontsize=font, parse_math=False)
    axes.set_ylim(len(bars) - 0.5, -0.5)  # first option at the top
    axes.set_xlim(0, 150)  # room for "100% (1,234)" after the longest bar
    axes.set_xticks([])
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    axes.spines["left"].set_color(MUTED)
    axes.tick_params(axis="y", length=0, pad=6)
    for position, item, share in zip(positions, bars, shares, strict=True):
        if item.share is not None:
            text, colour = f"{round(share * 100)}% ({item.count})", "black"
        else:
            text, colour = str(item.count), MUTED  # "fewer than 5", or 0
        axes.text(share * 100 + 2, position, text, va="center", fontsize=font * 0.95, color=colour, parse_math=False)
