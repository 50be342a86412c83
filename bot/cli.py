"""The `consultbot` command line.

Exit codes: 0 success, 1 a problem the user can fix (a bad file, an
unknown survey, a missing setting), 2 bad usage (click's own).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.app import load_catalog, open_backend
from bot.settings import Settings, SettingsError, load_settings
from models import survey as schema
from models.loader import LoadResult, load_surveys


class UserError(click.ClickException):
    """A problem the user can fix: printed as one line, exit code 1."""

    exit_code = 1

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"consultbot: {self.format_message()}", err=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def _survey(settings: Settings, survey_id: str) -> schema.Survey:
    """The survey with this id, or a clear error naming the problem."""
    catalog = load_catalog(settings)
    if survey_id in catalog.surveys:
        return catalog.surveys[survey_id]
    broken = [p for p in catalog.problems if Path(p.path).stem == survey_id]
    if broken:
        for problem in broken:
            click.echo(str(problem), err=True)
        raise UserError(f"survey '{survey_id}' has problems; fix them and try again")
    known = ", ".join(sorted(catalog.surveys)) or "none"
    raise UserError(f"no survey '{survey_id}' in {settings.surveys_dir}/ (surveys: {known})")


def _check_export_target(settings: Settings, output: Path, force: bool) -> None:
    """Refuse to write over the database (or its -wal/-shm), or any existing file without --force."""
    from bot.database import sqlite_path
    from bot.pseudonym import secret_file_for

    target = output.resolve()
    db = sqlite_path(settings.database_url)
    if db is not None:
        db = db.resolve()
        protected = {
            db,
            db.with_name(db.name + "-wal"),
            db.with_name(db.name + "-shm"),
            db.with_name(db.name + "-journal"),
        }
        protected.add(secret_file_for(settings.database_url).resolve())
        if target in protected or (target.exists() and any(p.exists() and target.samefile(p) for p in protected)):
            raise UserError(f"-o {output}: that is the bot's database; export to another file")
    if target.is_dir():
        raise UserError(f"-o {output}: is a folder; give a file name")
    if target.exists() and not force:
        raise UserError(f"-o {output}: the file exists; add --force to overwrite it, or choose another name")


class _Main(click.Group):
    """Turns a SettingsError from any command into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise UserError(str(exc)) from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="consultbot")
def main() -> None:
    """Ask a neighbourhood what it needs, in a private Telegram chat."""


@main.command()
def run() -> None:
    """Run the bot (long polling) until Ctrl-C or SIGTERM."""
    settings = _settings()
    try:
        settings.require_token()
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    if not Path(settings.surveys_dir).is_dir():
        folder = settings.surveys_dir
        raise UserError(f"CONSULTBOT_SURVEYS_DIR: there is no folder {folder}/; make it, or point the setting at one")
    from bot.telegram.runner import run_bot

    try:
        run_bot(settings)
    except SettingsError as exc:
        raise UserError(str(exc)) from None


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check survey files (default: the surveys folder); print file:line:col per problem."""
    settings = _settings()
    targets = list(paths) or [Path(settings.surveys_dir)]
    for target in targets:
        if not target.exists():
            raise UserError(f"{target}: no such file or folder")
    result: LoadResult = load_surveys(targets, default_timezone=settings.timezone)
    for problem in result.problems:
        click.echo(str(problem))
    for survey in result.surveys.values():
        click.echo(f"ok: {survey.source} ({survey.id}, {len(survey.questions)} questions)", err=True)
    if result.problems:
        files = len({p.path for p in result.problems})
        raise UserError(f"{len(result.problems)} problem(s) in {files} file(s)")
    if not result.surveys:
        raise UserError(f"no survey files (*.yaml) found in {', '.join(map(str, targets))}")


@main.command()
@click.argument("survey_id")
def preview(survey_id: str) -> None:
    """Take a survey in the terminal (nothing is saved)."""
    from bot.preview import preview as run_preview

    survey = _survey(_settings(), survey_id)
    run_preview(survey, read_line=input)


@main.command()
@click.argument("survey_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def export(survey_id: str, fmt: str, output: Path | None, force: bool) -> None:
    """Write completed responses: one row each, one column per question."""
    from bot.export import write_csv, write_json

    settings = _settings()
    if output is not None:
        _check_export_target(settings, output, force)
    survey = _survey(settings, survey_id)
    backend = open_backend(settings)
    writer = write_csv if fmt == "csv" else write_json
    try:
        if output is None:
            count = backend.store.read_now(lambda c: writer(c, survey, sys.stdout))
        else:
            try:
                handle = output.open("w", encoding="utf-8", newline="")
            except OSError as exc:
                raise UserError(f"-o {output}: cannot write there ({exc.strerror}); choose another file") from None
            with handle:
                count = backend.store.read_now(lambda c: writer(c, survey, handle))
    finally:
        backend.close()
    where = f" to {output}" if output else ""
    click.echo(f"exported {count} completed response(s){where}", err=True)


@main.command()
@click.argument("survey_id")
@click.option("--days", type=click.IntRange(1, 30), default=7, show_default=True, help="Days the link works for.")
def invite(survey_id: str, days: int) -> None:
    """Print a one-time link that makes whoever opens it an organiser of SURVEY_ID."""
    import asyncio

    from bot import organisers
    from bot.telegram.bot_identity import bot_username
    from models.tables import utcnow

    settings = _settings()
    survey = _survey(settings, survey_id)
    try:
        username = asyncio.run(bot_username(settings))
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    backend = open_backend(settings)
    try:
        code = backend.store.write_now(lambda c: organisers.new_invite(c, survey.id, utcnow(), days))
    finally:
        backend.close()
    click.echo(f"https://t.me/{username}?start={code}")
    click.echo(f"Send this link to one organiser of {survey.id}. It works once, for {days} days.", err=True)


@main.command()
@click.argument("survey_id")
@click.option("--send", is_flag=True, help="Send it to the survey's organisers instead of printing it.")
def digest(survey_id: str, send: bool) -> None:
    """Print the digest of SURVEY_ID up to now (or send it with --send)."""
    import asyncio

    from bot.telegram.cli_digest import print_digest, send_digest

    settings = _settings()
    survey = _survey(settings, survey_id)
    if send:
        try:
            sent, unreachable = asyncio.run(send_digest(settings, survey))
        except SettingsError as exc:
            raise UserError(str(exc)) from None
        click.echo(
            f"sent the digest to {sent} organiser(s)"
            + (f"; {unreachable} could not be reached" if unreachable else ""),
            err=True,
        )
    else:
        click.echo(asyncio.run(print_digest(settings, survey)))


if __name__ == "__main__":
    main()
