"""Every option and positional argument of every subcommand says what it is for in --help."""

import argparse

from flows.app.cli import _parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {name: sub for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name, sub in action.choices.items()}


def test_every_argument_of_every_subcommand_has_help():
    parser = _parser()
    subcommands = _subcommands(parser)
    assert {"run", "demo", "inspect", "models", "serve"} <= set(subcommands)
    listed = {a.dest: a.help for action in parser._actions if isinstance(action, argparse._SubParsersAction)
              for a in action._choices_actions}
    missing = [f"diffeval {name}" for name, text in listed.items() if not text]
    for name, sub in subcommands.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"diffeval {name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == [], f"no help text: {missing}"


def test_help_names_the_defaults_a_user_needs(capsys):
    for argv in (["serve", "--help"], ["models", "--help"]):
        try:
            _parser().parse_args(argv)
        except SystemExit:
            pass
    out = capsys.readouterr().out
    assert '"0 2 * * *"' in out and "default: nightly" in out and "--out OUT" in out and "folder to build them in" in out
