"""Configuration layers and validation, the data module, migrations, and the synced tables."""

import json
import re
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlite_utils import Migrations

import kiosk.auth
from kiosk import areas, config, create_app, data, migration_sets
from kiosk.errors import ConfigError
from sync.engine import OWNER, SyncedTable, check_schema

ROOT = Path(__file__).resolve().parent.parent


def test_layers_apply_in_order_defaults_file_environment_mapping(data_dir):
    settings = config.load({"DATA_DIR": data_dir}, environ={})
    assert settings["IDLE_MINUTES"] == 5.0 and settings["CURRENCY"] == "USD"
    stored = json.loads((data_dir / "config.json").read_text())
    stored.update(currency="EUR", idle_minutes=3)
    (data_dir / "config.json").write_text(json.dumps(stored))
    assert config.load({"DATA_DIR": data_dir}, environ={})["CURRENCY"] == "EUR"
    env = {"INFOCENTRE_CURRENCY": "PEN", "INFOCENTRE_IDLE_MINUTES": "2.5",
           "INFOCENTRE_LANGUAGES": "en, qu_EC"}
    from_env = config.load({"DATA_DIR": data_dir}, environ=env)
    assert (from_env["CURRENCY"], from_env["IDLE_MINUTES"]) == ("PEN", 2.5)
    assert from_env["LANGUAGES"] == ["en", "qu_EC"]
    assert config.load({"DATA_DIR": data_dir, "CURRENCY": "COP"}, environ=env)["CURRENCY"] == (
        "COP")


def test_data_dir_comes_from_the_option_then_the_environment_then_instance(tmp_path):
    assert config.data_dir_from(tmp_path, {"INFOCENTRE_DATA": "/elsewhere"}) == tmp_path
    assert config.data_dir_from(None, {"INFOCENTRE_DATA": str(tmp_path)}) == tmp_path
    assert config.data_dir_from(None, {}) == Path("instance").resolve()


@pytest.mark.parametrize("override, message", [
    ({"ROLE": "island"}, "The role must be"),
    ({"LANGUAGES": ["es", "tlh"]}, "Languages must be chosen among"),
    ({"LANGUAGES": []}, "Languages must be chosen among"),
    ({"LANGUAGES": ["en"], "DEFAULT_LANGUAGE": "es"}, "default language"),
    ({"CURRENCY": "DOUBLOON"}, "not a valid currency code"),
    ({"TIMEZONE": "Mars/Olympus"}, "not a valid time zone"),
    ({"IDLE_MINUTES": 0}, "IDLE_MINUTES"),
    ({"IDLE_MINUTES": "soon"}, "invalid value"),
    ({"THREADS": 0}, "THREADS"),
    ({"LOCALES_DIR": "/no/such/dir"}, "language catalogues were not found"),
])
def test_invalid_settings_fail_at_start_with_one_sentence(data_dir, override, message):
    with pytest.raises(ConfigError, match=message):
        create_app({"DATA_DIR": data_dir, **override})


def test_catalogues_never_compiled_stop_the_start_instead_of_english_pages(data_dir, tmp_path):
    """Issue 15: pointed at the .po files, pages were English inside <html lang="es">."""
    shutil.copytree(ROOT / "locales", tmp_path / "locales", ignore=shutil.ignore_patterns("*.mo"))
    with pytest.raises(ConfigError, match="not compiled"):
        create_app({"DATA_DIR": data_dir, "LOCALES_DIR": str(tmp_path / "locales")})


def test_a_damaged_config_file_or_secret_key_is_reported(data_dir):
    (data_dir / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        config.load({"DATA_DIR": data_dir}, environ={})
    (data_dir / "config.json").write_text(json.dumps({"role": "node"}))
    (data_dir / "secret_key").write_text("short")
    with pytest.raises(ConfigError, match="secret key"):
        config.load({"DATA_DIR": data_dir}, environ={})


def test_every_setting_the_code_reads_is_described_and_in_the_readme():
    flask_keys = {"TESTING", "SECRET_KEY", "DATABASE", "WTF_CSRF_TIME_LIMIT"}
    used = set()
    for path in [*ROOT.glob("kiosk/**/*.py"), *ROOT.glob("kiosk/templates/**/*.html")]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'config\["([A-Z_]+)"\]', text))
        used |= set(re.findall(r"config\.([A-Z_]+)\b", text))
    undescribed = used - config.OPTION_NAMES - flask_keys
    assert not undescribed, f"settings read but not described in kiosk/config.py: {undescribed}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for option in config.OPTIONS:
        assert option.help.strip(), option.name
        assert f"`{option.name}`" in readme, f"README does not describe {option.name}"
    # The list of areas is kept once, in kiosk/config.py; the README shows it whole (issue 15).
    [row] = [line for line in readme.splitlines() if line.startswith("| `AREAS` |")]
    assert row.split(" | ")[1] == "`" + ", ".join(config.DEFAULT_AREAS) + "`", row


def test_the_app_finds_the_catalogues_and_content_outside_the_packages(app):
    assert Path(app.config["LOCALES_DIR"], "es", "LC_MESSAGES", "messages.mo").is_file()
    assert Path(app.config["CONTENT_DIR"], "demo", "accounts.json").is_file()


def test_connections_use_wal_foreign_keys_and_a_busy_timeout(app):
    db = data.open_db(app.config["DATABASE"])
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_schema_is_at_the_last_migration_and_starting_again_changes_nothing(app, data_dir):
    db = data.open_db(app.config["DATABASE"])
    version = data.schema_version(db)
    sets = [data.MIGRATIONS, *migration_sets(areas(app.config["AREAS"])), data.SYNC_MIGRATIONS]
    assert version == sum(len(s._migrations) for s in sets) >= len(sets)
    create_app({"DATA_DIR": data_dir})
    assert data.schema_version(db) == version
    assert not (data_dir / "backups").exists()  # nothing pending, nothing backed up


def test_pending_migrations_run_at_start_after_a_backup(data_dir, monkeypatch):
    extra = Migrations("kiosk")
    for migration in data.MIGRATIONS._migrations:
        extra(name=migration.name)(migration.fn)

    @extra(name="m9999_test_column")
    def add_column(db):
        db.execute("ALTER TABLE centres ADD COLUMN motto TEXT")

    monkeypatch.setattr(data, "MIGRATIONS", extra)
    db = data.open_db(data_dir / "infocentre.db")
    version = data.schema_version(db)
    create_app({"DATA_DIR": data_dir})
    assert "motto" in db.table("centres").columns_dict
    assert data.schema_version(db) == version + 1
    [backup] = list((data_dir / "backups").glob("*-before-m9999_test_column.db"))
    old = sqlite3.connect(backup)
    assert "motto" not in [r[1] for r in old.execute("PRAGMA table_info(centres)")]


def test_two_processes_starting_at_once_apply_each_migration_once(tmp_path):
    from kiosk.installation import init_installation

    path = tmp_path / "c"
    init_installation(path, role="node", name="X")
    db_path = path / "infocentre.db"
    db_path.unlink()
    errors = []

    def start():
        try:
            data.migrate(data.open_db(db_path), path)
        except Exception as e:  # noqa: BLE001 (the test reports any failure)
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = data.open_db(db_path)
    expected = len(data.MIGRATIONS._migrations) + len(data.SYNC_MIGRATIONS._migrations)
    assert db.table("_sqlite_migrations").count == expected


def test_new_ids_are_unique_and_ordered_by_time():
    ids = [data.new_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)  # millisecond prefix
    assert all(i[14] == "7" for i in ids)  # UUID version 7


def test_every_synced_table_can_be_synced(app):
    db = data.open_db(app.config["DATABASE"])
    tables = app.extensions["infocentre"]["synced_tables"]
    assert {t.name for t in tables} >= {"accounts", "centres"}
    assert check_schema(db, tables) == []


def test_the_schema_check_names_what_would_break_a_sync(tmp_path):
    db = data.open_db(tmp_path / "x.db")
    db.executescript("""
        CREATE TABLE good (id TEXT PRIMARY KEY, centre_id TEXT NOT NULL DEFAULT '');
        CREATE TABLE int_ids (id INTEGER PRIMARY KEY, centre_id TEXT);
        CREATE TABLE no_owner (id TEXT PRIMARY KEY, name TEXT);
        CREATE TABLE strict_col (id TEXT PRIMARY KEY, centre_id TEXT, name TEXT NOT NULL);
        CREATE TABLE linked (id TEXT PRIMARY KEY, centre_id TEXT, good_id TEXT REFERENCES good);
        CREATE TABLE natural (id TEXT PRIMARY KEY, centre_id TEXT, email TEXT UNIQUE);
    """)
    problems = [str(p) for p in check_schema(db, [
        SyncedTable(name) for name in
        ("good", "int_ids", "no_owner", "strict_col", "linked", "natural", "missing")]
        + [SyncedTable("good", local_columns=("secret",))])]
    assert problems == [
        "int_ids: needs a TEXT primary key named id",
        "no_owner: needs a centre_id column",
        "strict_col: column name is NOT NULL without a default",
        "linked: has a foreign key",
        "natural: has a unique index sqlite_autoindex_natural_2",
        "missing: no such table",
        "good: registered twice",
        "good: local column secret does not exist",
    ]


def test_pin_hashes_are_declared_as_never_leaving_the_centre():
    [accounts] = [t for t in kiosk.auth.SYNCED_TABLES if t.name == "accounts"]
    assert accounts.scope == OWNER and "pin_hash" in accounts.local_columns


def test_a_request_that_fails_mid_transaction_leaves_nothing_behind(data_dir, clock):
    """Server threads keep their connection between requests: a crash must not leave a
    transaction open on it, nor its half-made writes."""
    from .conftest import make_app

    app = make_app(data_dir, clock, TESTING=False)

    @app.get("/crash-mid-write")
    def crash():
        db = data.get_db()
        db.execute("BEGIN")
        db.execute("INSERT INTO centres (id, name) VALUES ('half-made', 'x')")
        raise RuntimeError("power cut")

    client = app.test_client()
    response = client.get("/crash-mid-write")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    with app.test_request_context("/"):
        db = data.get_db()
        assert not db.conn.in_transaction
        assert db.execute("SELECT count(*) FROM centres WHERE id = 'half-made'").fetchone() == (0,)
    assert client.get("/").status_code == 200


def _table(tmp_path):
    path = tmp_path / "w.db"
    db = data.open_db(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
    db.execute("INSERT INTO t VALUES (1, 0)")
    return path, db


def test_a_write_waits_for_another_writer_where_a_deferred_one_fails(tmp_path):
    """Another connection commits between our read and our write, as the sync daemon or
    another learner's answer does: a deferred transaction cannot upgrade and fails at once;
    one begun by writing() waits its turn and counts right."""
    path, db = _table(tmp_path)
    other = data.open_db(path)

    def read_then_write(begin):
        n = db.execute("SELECT n FROM t").fetchone()[0]
        if begin == "deferred":  # the other writer commits after our read
            other.execute("UPDATE t SET n = n + 100")
        db.execute("UPDATE t SET n = ?", [n + 1])

    db.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        read_then_write("deferred")
    db.execute("ROLLBACK")

    held = threading.Event()

    def hold_the_lock():
        writer = data.open_db(path)  # a connection of this thread
        writer.execute("BEGIN IMMEDIATE")
        held.set()
        threading.Event().wait(0.3)
        writer.execute("UPDATE t SET n = n + 100")
        writer.execute("COMMIT")
        writer.close()

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    assert held.wait(10)
    with data.writing(db):  # waits for the other writer, then reads what it wrote
        read_then_write("immediate")
    thread.join()
    assert db.execute("SELECT n FROM t").fetchone()[0] == 201


def test_writing_nests_as_a_savepoint_and_refuses_a_transaction_it_did_not_begin(tmp_path):
    _path, db = _table(tmp_path)
    with data.writing(db):
        db.execute("UPDATE t SET n = 1")
        with pytest.raises(ValueError), data.writing(db):
            db.execute("UPDATE t SET n = 2")
            raise ValueError("the inner part is undone, the outer kept")
    assert db.execute("SELECT n FROM t").fetchone()[0] == 1
    assert not db.conn.in_transaction

    db.execute("BEGIN")  # deferred: it may hold no lock, so a write inside could fail
    with pytest.raises(RuntimeError, match="did not begin"), data.writing(db):
        pass
    db.execute("ROLLBACK")
    with data.writing(db):  # and the helper is usable again
        db.execute("UPDATE t SET n = 3")
    assert db.execute("SELECT n FROM t").fetchone()[0] == 3
