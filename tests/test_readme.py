"""The README documents every command and option of the command line (as sqlite-utils does)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from bot.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(main.commands)


def test_the_readme_shows_the_two_commands() -> None:
    assert "./run" in README and "./test" in README
    assert "consultbot run" in README


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"consultbot {name}" in README, f"`consultbot {name}` is not documented in README.md"


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (name, opt)
        for name in COMMANDS
        for param in main.commands[name].params
        if isinstance(param, click.Option)
        for opt in param.opts
        if opt.startswith("--")
    ],
)
def test_every_option_is_in_the_readme(command: str, option: str) -> None:
    assert option in README, f"option {option} of `consultbot {command}` is not documented in README.md"
