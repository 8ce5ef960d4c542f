"""The parser: help on every command, ``--state-dir`` on every command that talks to a service, global options."""

from __future__ import annotations

import argparse

import pytest

from obt_tools import cli

# Commands that talk to no service: they write files or print a link.
# Commands that talk to no service (tagger training and evaluation run Spark in-process on files).
OFFLINE = {"generate", "dashboard-url", "tagger"}


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[prefix + name] = sub
                found.update(_commands(sub, f"{prefix}{name} "))
    return found


def _help_of(parser: argparse.ArgumentParser, command: str) -> str | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.dest == command.split()[-1]:
                    return choice.help
    return None


PARSER = cli.build_parser()
COMMANDS = _commands(PARSER)
# Leaves only: `local` itself has no --state-dir, its actions do.
SERVICE_COMMANDS = sorted(
    name for name, sub in COMMANDS.items() if name.split()[0] not in OFFLINE and not _commands(sub)
)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_a_help_line_and_a_description(command: str) -> None:
    parent = PARSER if " " not in command else COMMANDS[command.rsplit(" ", 1)[0]]
    assert _help_of(parent, command), f"obt {command} has no help line in `obt --help`"
    assert COMMANDS[command].description, f"`obt {command} --help` has no description"


@pytest.mark.parametrize("command", SERVICE_COMMANDS)
def test_every_command_that_talks_to_a_service_takes_state_dir(command: str) -> None:
    assert "--state-dir" in _options(COMMANDS[command])


def test_the_service_commands_are_the_expected_ones() -> None:
    expected = {"status", "backfill", "extract", "seed-postgres", "reconcile", "upload", "report", "views", "local up"}
    assert expected <= set(SERVICE_COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_log_options_before_or_after_the_command(command: str) -> None:
    assert {"--log-format", "-v", "--verbose"} <= _options(COMMANDS[command])


def test_global_options_after_the_command_do_not_reset_those_before() -> None:
    args = PARSER.parse_args(["-vv", "--log-format", "json", "status"])
    assert (args.verbose, args.log_format) == (2, "json")
    args = PARSER.parse_args(["status", "-v"])
    assert (args.verbose, args.log_format) == (1, "text")
    args = PARSER.parse_args(["local", "down", "--log-format", "json"])
    assert (args.verbose, args.log_format) == (0, "json")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"obt {cli._version()}\n"
    assert cli._version() != "unknown"
