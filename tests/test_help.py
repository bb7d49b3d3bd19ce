"""Every command's ``--help`` shows the defaults of its options."""

from __future__ import annotations

import pytest

from bench.cli import main


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["data", "sample"], ["--seed SEED", "(default: 0)", "(default: 3.5)", "sample.csv"]),
        (["compare"], ["--tolerance TOLERANCE default: 0.02"]),
        (["predict"], ["(default: csv)"]),
        (["leaderboard"], ["(default: macro_f1)", "(default: table)"]),
    ],
)
def test_help_shows_defaults(argv, shown, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for fragment in shown:
        assert fragment in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "default: 0.02 (default" not in text  # a help that names its default is left alone
