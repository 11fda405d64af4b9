"""What the CLI tests share (imported by name): the `plimsoll` command run in-process, as a user
with a wide terminal would see it."""

from __future__ import annotations

from typing import Any

import orjson
from typer.testing import CliRunner

from plimsoll.cli import _output
from plimsoll.cli.main import app


def cli(*args: str) -> Any:
    # The CLI's console measured its terminal when first imported (in another test, perhaps):
    # give it the wide terminal these tables are read from.
    _output.console.width = 200
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result


def ok_json(*args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)
