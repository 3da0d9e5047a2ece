"""The ``infocentre`` command: init, demo, user add/list/reset, errors and exit codes."""

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import click
import pexpect
import pytest

from kiosk import catalogues
from kiosk.cli import cli, failure, terminal_language
from kiosk.data import open_db
from kiosk.errors import KioskError
from sync.errors import AlreadySyncing, BundleError, Refused, Unreachable

from .factories import count

ROOT = Path(__file__).resolve().parent.parent


def test_init_makes_the_data_directory_database_key_and_config(tmp_path, run_cli):
    target = tmp_path / "new" / "centre"
    result = run_cli(target, "init", "--role", "node", "--name", "Centro San Pablo")
    assert result.exit_code == 0, result.output
    assert "Centro San Pablo (node) is set up in" in result.output
    config = json.loads((target / "config.json").read_text())
    assert config["role"] == "node" and config["centre_name"] == "Centro San Pablo"
    secret = target / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_text().strip()) == 64
    db = open_db(target / "infocentre.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    [centre] = list(db.query("SELECT * FROM centres"))
    assert centre["id"] == config["centre_id"] == centre["centre_id"]


def test_init_refuses_to_overwrite_and_force_keeps_the_old_files(data_dir, run_cli):
    old_key = (data_dir / "secret_key").read_text()
    result = run_cli(data_dir, "init", "--role", "node", "--name", "Otro")
    assert result.exit_code == 1
    assert "already set up" in result.stderr and "--force" in result.stderr
    assert (data_dir / "secret_key").read_text() == old_key

    forced = run_cli(data_dir, "init", "--role", "hub", "--name", "Hub", "--force")
    assert forced.exit_code == 0, forced.output
    [aside] = list(data_dir.glob("replaced-*"))
    assert (aside / "secret_key").read_text() == old_key
    assert (aside / "infocentre.db").exists()
    assert json.loads((data_dir / "config.json").read_text())["role"] == "hub"


@pytest.mark.parametrize("args, message", [
    (["init", "--role", "island", "--name", "X"], "The role must be 'node' or 'hub'."),
    (["init", "--role", "node", "--name", "   "], "1 to 80 readable characters"),
    (["init", "--role", "node", "--name", "X" * 81], "1 to 80 readable characters"),
    (["init", "--role", "node", "--name", "X", "--language", "tlh"], "Languages must be"),
])
def test_init_errors_are_one_line_and_exit_1(tmp_path, run_cli, args, message):
    result = run_cli(tmp_path / "c", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("infocentre: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "c" / "config.json").exists()


def test_init_without_the_default_languages_catalogue_writes_nothing(tmp_path, run_cli,
                                                                    monkeypatch):
    """Issue 15: it used to write the centre, then fail, then say "already set up"."""
    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "locales" / "es", locales / "es", ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setenv("INFOCENTRE_LOCALES_DIR", str(locales))
    result = run_cli(tmp_path / "c", "init", "--role", "node", "--name", "Centro")
    assert result.exit_code == 1
    assert "messages.mo is missing" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "c").exists()

    catalogues.compile_all(locales)
    again = run_cli(tmp_path / "c", "init", "--role", "node", "--name", "Centro")
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("args, environment, message", [
    (["--currency", "XXQ"], {}, "XXQ is not a valid currency code"),
    ([], {"INFOCENTRE_TIMEZONE": "Mars/Olympus"}, "Mars/Olympus is not a valid time zone"),
    ([], {"INFOCENTRE_IDLE_MINUTES": "many"}, "The setting IDLE_MINUTES has an invalid value."),
])
def test_init_with_a_setting_that_would_not_load_writes_nothing(tmp_path, run_cli, monkeypatch,
                                                                args, environment, message):
    """Issue 15: a centre was written, then refused to start, and a second ``init`` said
    "already set up". The settings, the environment's too, are checked first."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = run_cli(tmp_path / "c", "init", "--role", "node", "--name", "Centro", *args)
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert not (tmp_path / "c").exists()
    for name in environment:
        monkeypatch.delenv(name)
    again = run_cli(tmp_path / "c", "init", "--role", "node", "--name", "Centro")
    assert again.exit_code == 0, again.output


def test_demo_without_its_data_says_so_in_one_line(data_dir, run_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("INFOCENTRE_CONTENT_DIR", str(tmp_path / "nothing"))
    result = run_cli(data_dir, "demo")
    assert result.exit_code == 1
    assert "demo data were not found" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [
    ["serve"], ["demo"], ["user", "list"], ["user", "add", "Ana", "--role", "villager",
                                            "--pin", "1234"],
])
def test_commands_on_a_missing_data_dir_say_how_to_set_one_up(tmp_path, run_cli, args):
    result = run_cli(tmp_path / "nothing-here", *args)
    assert result.exit_code == 1
    assert "No centre is set up in" in result.stderr and "infocentre init" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [
    ["frobnicate"], ["init", "--role", "node"], ["serve", "--port", "99999"],
    ["user", "add"], ["user", "list", "--colour"],
])
def test_usage_errors_exit_2(data_dir, run_cli, args):
    assert run_cli(data_dir, *args).exit_code == 2


def test_user_add_with_a_pin_then_list(data_dir, run_cli):
    result = run_cli(data_dir, "user", "add", "Rosa Quishpe", "--role", "villager", "--pin",
                     "1234", "--lang", "qu_EC")
    assert result.exit_code == 0, result.output
    assert "Added Rosa Quishpe (villager)." in result.output
    listed = json.loads(run_cli(data_dir, "user", "list", "--json").output)
    assert [(a["name"], a["role"], a["lang"]) for a in listed] == [
        ("Rosa Quishpe", "villager", "qu_EC")]
    assert set(listed[0]) == {"id", "centre_id", "name", "role", "lang", "created_at", "locked"}
    plain = run_cli(data_dir, "user", "list").output
    assert "Rosa Quishpe" in plain and "pbkdf2" not in plain


@pytest.mark.parametrize("args, message", [
    (["Ana", "--role", "king", "--pin", "1234"], "Choose one of these roles"),
    (["Ana", "--role", "villager", "--pin", "12"], "A PIN is 4 to 6 digits."),
    (["Ana", "--role", "villager", "--pin", "abcd"], "A PIN is 4 to 6 digits."),
    (["", "--role", "villager", "--pin", "1234"], "Write a name."),
    (["Ana", "--role", "villager", "--pin", "1234", "--lang", "de"], "languages offered"),
    (["Ana", "--role", "regional", "--pin", "1234"], "not a PIN"),
    (["Ana", "--role", "villager", "--password"], "Only regional staff"),
    (["Ana", "--role", "villager"], "Cannot ask for the PIN here (no terminal)"),
    (["Ana", "--role", "regional", "--password"], "Cannot ask for the password here"),
])
def test_user_add_errors_exit_1_and_add_nothing(data_dir, run_cli, args, message):
    result = run_cli(data_dir, "user", "add", *args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1
    db = open_db(data_dir / "infocentre.db")
    assert count(db, "accounts") == 0


def test_user_add_refuses_a_name_already_used_here(data_dir, run_cli):
    run_cli(data_dir, "user", "add", "María Chimbo", "--role", "villager", "--pin", "1234")
    again = run_cli(data_dir, "user", "add", "maria chimbo", "--role", "villager", "--pin",
                    "4321")
    assert again.exit_code == 1 and "already has this name" in again.stderr


def test_the_hub_adds_only_regional_staff(hub_dir, run_cli):
    result = run_cli(hub_dir, "user", "add", "Ana", "--role", "villager", "--pin", "1234")
    assert result.exit_code == 1 and "Only regional staff sign in at the hub" in result.stderr


def test_user_reset_gives_a_new_pin_and_unlocks(data_dir, run_cli):
    run_cli(data_dir, "user", "add", "Rosa", "--role", "villager", "--pin", "1234")
    db = open_db(data_dir / "infocentre.db")
    [rosa] = list(db.query("SELECT id FROM accounts"))
    db.execute("INSERT INTO pin_failures VALUES (?, 0, '2999-01-01T00:00:00+00:00')",
               [rosa["id"]])
    result = run_cli(data_dir, "user", "reset", "rosa", "--pin", "5678")
    assert result.exit_code == 0, result.output
    assert count(db, "pin_failures") == 0
    assert run_cli(data_dir, "user", "reset", "Nadie", "--pin", "5678").exit_code == 1


def test_demo_loads_one_account_per_role_and_adds_nothing_the_second_time(data_dir, run_cli):
    first = run_cli(data_dir, "demo")
    assert first.exit_code == 0, first.output
    assert "10 new accounts" in first.output and "PIN 1111" in first.output
    second = run_cli(data_dir, "demo")
    assert "0 new accounts (10 in all)" in second.output
    roles = {a["role"] for a in json.loads(run_cli(data_dir, "user", "list", "--json").output)}
    assert roles == {"villager", "facilitator", "cooperative", "admin", "regional"}
    db = open_db(data_dir / "infocentre.db")
    assert count(db, "accounts") == 10
    assert db.execute("SELECT count(*) FROM demo_rows WHERE table_name = 'accounts'"
                      ).fetchone()[0] == 10
    # The shipped courses, and a demo class whose learners stand at different points.
    assert "Courses: " in first.output and "Usar una computadora" in first.output
    assert "A demo class" in first.output
    assert count(db, "courses") == 3 and count(db, "classes") == 1
    rows_after_first = count(db, "demo_rows")
    assert count(db, "certificates") == 1 and rows_after_first > 10
    assert db.execute("SELECT count(*) FROM quiz_attempts WHERE passed = 0").fetchone()[0] == 2
    assert count(db, "demo_rows") == rows_after_first  # the second run added nothing


def test_demo_at_the_hub_loads_only_staff(hub_dir, run_cli):
    result = run_cli(hub_dir, "demo")
    assert "1 new account (1 in all)" in result.output
    assert "password region-demo-2026" in result.output
    db = open_db(hub_dir / "infocentre.db")
    assert count(db, "courses") == 3 and count(db, "classes") == 0  # courses for every centre


def test_every_command_has_help(tmp_path, monkeypatch):
    monkeypatch.setenv("INFOCENTRE_DATA", str(tmp_path))  # no installation: the default areas

    def walk(command, path, ctx):
        yield path, command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), [*path, name],
                                click.Context(command, parent=ctx))

    names = []
    for path, command in walk(cli, ["infocentre"], click.Context(cli)):
        names.append(" ".join(path))
        assert command.help or command.callback.__doc__, f"{' '.join(path)} has no help"
        for param in command.params:
            if isinstance(param, click.Option) and param.name not in ("help", "version"):
                assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"
    assert {"infocentre content import", "infocentre user add", "infocentre hub add-node",
            "infocentre sync now"} <= set(names)


@pytest.mark.parametrize("environ, expected", [
    ({"LANG": "es_EC.UTF-8"}, "es"), ({"LANG": "ar_EG.UTF-8"}, "ar"),
    ({"LANGUAGE": "qu_EC:es", "LANG": "en_US.UTF-8"}, "qu_EC"), ({"LANG": "C.UTF-8"}, "en"),
    ({"LC_ALL": "fr_FR.UTF-8", "LANG": "es_EC.UTF-8"}, "fr"), ({}, "en"),
])
def test_cli_speaks_the_terminals_language(environ, expected):
    assert terminal_language(environ) == expected


def installed_script() -> str:
    return shutil.which("infocentre", path=os.path.dirname(sys.executable))


def test_installed_script_runs_and_speaks_spanish(tmp_path):
    env = {**os.environ, "INFOCENTRE_DATA": str(tmp_path / "c"), "LANG": "es_EC.UTF-8"}
    made = subprocess.run([installed_script(), "init", "--role", "node", "--name", "Centro"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "c" / "config.json").exists()  # INFOCENTRE_DATA chose the directory
    again = subprocess.run([installed_script(), "init", "--role", "node", "--name", "Centro"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1
    assert again.stderr.startswith("infocentre: Ya hay un centro instalado en")


def test_pin_is_asked_twice_hidden_on_a_terminal(data_dir):
    child = pexpect.spawn(installed_script(), ["--data-dir", str(data_dir), "user", "add",
                                               "Rosa", "--role", "villager"],
                          env={**os.environ, "LANG": "C.UTF-8"}, encoding="utf-8", timeout=30)
    child.expect("PIN")
    child.sendline("2580")
    child.expect("again")
    child.sendline("2580")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "2580" not in child.before  # hidden: the PIN is never echoed
    db = open_db(data_dir / "infocentre.db")
    assert count(db, "accounts") == 1


def test_different_entries_on_the_terminal_save_nothing(data_dir):
    child = pexpect.spawn(installed_script(), ["--data-dir", str(data_dir), "user", "add",
                                               "Pati", "--role", "regional", "--password"],
                          env={**os.environ, "LANG": "C.UTF-8"}, encoding="utf-8", timeout=30)
    child.expect("Password")
    child.sendline("first-long-password")
    child.expect("again")
    child.sendline("other-long-password")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "not the same" in child.before
    assert count(open_db(data_dir / "infocentre.db"), "accounts") == 0


def test_serve_stops_cleanly_when_asked_to_terminate(data_dir):
    from .live import start_server

    server = start_server(data_dir)
    server.process.terminate()
    assert server.process.wait(timeout=15) == 0


# One place maps errors to exit codes (issue 15): the error's own exit_code.


@pytest.mark.parametrize("error, code, words", [
    (KioskError("Nothing was changed."), 1, "Nothing was changed."),
    (Unreachable("No answer from the hub."), 3, "No answer from the hub."),
    (Refused("This centre was revoked.", "revoked", 401), 4, "This centre was revoked."),
    (AlreadySyncing("held"), 1, "Another sync of this centre is running"),
    (BundleError("not a bundle", "not_bundle"), 1, "not a bundle"),
    (sqlite3.OperationalError("database or disk is full"), 1, "The disk of this computer is full"),
    (sqlite3.DatabaseError("file is not a database"), 1, "The database could not be used"),
])
def test_an_expected_failure_exits_with_its_errors_code_and_one_line(tmp_path, error, code,
                                                                     words):
    found = failure(error, tmp_path)
    assert found.exit_code == code == getattr(error, "exit_code", 1)
    assert found.format_message().startswith(words)


@pytest.mark.parametrize("error", [ValueError("a bug"), PermissionError(13, "denied")])
def test_anything_else_is_a_bug_and_keeps_its_traceback(error):
    assert failure(error) is None
