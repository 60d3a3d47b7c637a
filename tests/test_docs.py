"""The README's promises about settings and commands, checked against the code itself (fast: no store, no server)."""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from pathlib import Path

import pytest

from migkg.cli import parser
from migkg.config import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
VARIABLE = re.compile(r"MIGKG_[A-Z0-9_]+")


def _section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _code_files() -> list[Path]:
    return sorted(path for folder in ("migkg", "webapp") for path in (PROJECT_ROOT / folder).rglob("*.py"))


def _constant(node: ast.AST):
    """A default written in the code as a constant expression (`20 * 1024 * 1024`, `PROJECT_ROOT / "var" / "store"`)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        left, right = _constant(node.left), _constant(node.right)
        if isinstance(node.op, ast.Div) and isinstance(right, str):  # a path: its parts after PROJECT_ROOT
            return f"{left}/{right}" if isinstance(left, str) else right
        if isinstance(node.op, ast.Mult) and isinstance(left, (int, float)) and isinstance(right, (int, float)):
            return left * right
    return None


def code_settings() -> dict[str, object]:
    """Every MIGKG_* variable the code reads, with the default it gives it (None where it gives none)."""
    found: dict[str, object] = {}
    for path in _code_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and VARIABLE.fullmatch(node.value):
                found.setdefault(node.value, None)
            if isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str) and VARIABLE.fullmatch(node.args[0].value):
                found[node.args[0].value] = _constant(node.args[1])  # env_number / _env_path / os.environ.get
    return found


def readme_settings() -> dict[str, str]:
    """The Configuration table: each variable with the text of its default cell."""
    table = {}
    for line in _section("Configuration").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `MIGKG_") and len(cells) == 3:
            for name in VARIABLE.findall(cells[0]):
                table[name] = cells[1]
    return table


def test_every_variable_the_code_reads_is_in_the_configuration_table_and_no_other():
    code, table = code_settings(), readme_settings()
    assert {"MIGKG_QUERY_TIMEOUT", "MIGKG_PORT", "MIGKG_PUBLISH_USER", "MIGKG_HERMIT_MEMORY_MB"} <= set(code)
    assert sorted(set(code) - set(table)) == [], "read by the code, not in the README's Configuration table"
    assert sorted(set(table) - set(code)) == [], "in the README's table, read by no code"
    assert sorted(set(VARIABLE.findall(README)) - set(code)) == [], "named in the README, read by no code"


def test_each_documented_default_is_the_one_the_code_gives():
    code, table = code_settings(), readme_settings()
    checked = 0
    for name, default in code.items():
        if default in (None, ""):
            continue
        cell = table[name]
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            numbers = [float(text) for text in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", cell)]
            assert numbers[:1] == [float(default)], f"{name}: the README says {cell!r}, the code {default}"
        else:
            assert f"`{default}" in cell, f"{name}: the README says {cell!r}, the code {default!r}"
        checked += 1
    assert checked >= 15


def _readme_command_lines() -> list[list[str]]:
    """Every command line of the README's sh blocks, continuation lines joined, comments dropped."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):  # VARIABLE=value before the command
                words.pop(0)
            if words:
                lines.append(words)
    return lines


class _Refused(Exception):
    """argparse's usage error for one README command line, raised instead of printing and exiting."""


def _parse(words: list[str]) -> argparse.Namespace:
    command = parser()

    def refuse(message):
        raise _Refused(message)

    for action in [command, *command._subparsers._group_actions[0].choices.values()]:
        action.error = refuse  # argparse would print and exit; the test wants the message
    return command.parse_args(words)


def test_every_migkg_command_in_the_readme_is_one_migkg_takes():
    shown = [words for words in _readme_command_lines() if words[0] == "migkg"]
    assert len(shown) >= 10
    for words in shown:
        try:
            _parse(words[1:])
        except _Refused as error:
            pytest.fail(f"`{' '.join(words)}` in the README: {error}")


def test_every_make_target_in_the_readme_is_in_the_makefile():
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    targets = {words[1] for words in _readme_command_lines() if words[0] == "make"}
    assert {"serve", "test"} <= targets
    assert all(re.search(rf"^{target}:", makefile, flags=re.MULTILINE) for target in targets), targets


def test_the_readme_shows_every_subcommand_and_help_explains_every_option():
    commands = parser()._subparsers._group_actions[0]
    lines = _section("The command line")
    for name, subcommand in commands.choices.items():
        assert f"\nmigkg {name} " in lines, f"`migkg {name}` is not in the README's command list"
        unexplained = [action.option_strings or action.dest for action in subcommand._actions
                       if not action.help and not isinstance(action, argparse._HelpAction)]
        assert unexplained == [], f"`migkg {name} --help` explains nothing of {unexplained}"
