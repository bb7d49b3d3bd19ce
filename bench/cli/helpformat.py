"""``--help`` that shows every option's default. Subcommand parsers inherit the parser's
class, so passing :class:`Parser` at the top gives every ``bench`` command the format."""

from __future__ import annotations

import argparse
from typing import Any

BLANK = "\u200b"  # the help of an option declared without one


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: X)`` unless the help already names its default, or the default
    says nothing (None, False for a flag)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = (action.help or "").replace(BLANK, "").strip()
        silent = action.default is None or action.default is False
        if "default" in text or silent or action.default == argparse.SUPPRESS:
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help shows defaults (and so do its subcommands')."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        """As argparse's; an option without help still shows its default."""
        action = super().add_argument(*args, **kwargs)
        if action.help is None and action.option_strings:
            action.help = BLANK  # argparse drops the help column when help is blank
        return action
