"""Digest limits: chart text drawn as written (no mathtext)."""

from __future__ import annotations

from types import SimpleNamespace

from bot.digest import chart
from bot.digest.aggregate import Bar, Count

LABELS = ["$5 % $10", "cost $3 or $4"]


def _summary() -> SimpleNamespace:
    bars = [Bar(id=f"o{i}", label=label, count=Count(7, 5), share=0.5) for i, label in enumerate(LABELS)]
    return SimpleNamespace(
        kind="choice", number=1, text="Price $5 % $10?", answered=Count(14, 5), bars=bars, question=None
    )


def test_dollar_labels_are_drawn_as_written() -> None:
    data = SimpleNamespace(questions=[_summary()], min_group_size=5)
    png = chart.chart_png(None, data)  # type: ignore[arg-type]
    assert png is not None and png.startswith(b"\x89PNG")
    Figure, FigureCanvasAgg = chart.load_matplotlib()
    figure = Figure()
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    chart._draw(axes, _summary(), 10)  # type: ignore[arg-type]
    canvas.draw()
    labels = axes.get_yticklabels()
    assert [t.get_text() for t in labels] == LABELS
    assert all(not t.get_parse_math() for t in labels)
