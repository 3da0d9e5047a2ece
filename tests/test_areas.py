"""Areas own their parts (issue 15): each area's migration set, the upgrade of a database made
when one kiosk set made every table, the refusal of a database newer than the code, the version
a centre reports, and commands, demo and permissions following the configured areas.

The fixtures ``tests/fixtures/*-before-areas.sql.gz`` are SQL dumps (``sqlite3 .dump``) of
installations made by the code before this change (commit ebeedba): a centre with ``infocentre
demo``, a villager and a facilitator of its own, their class, attendance and a finished lesson;
and a hub with one centre registered.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Migrations

import kiosk.classes
from kiosk import config, create_app, data
from kiosk.data import open_db, schema_version
from kiosk.errors import ConfigError
from kiosk.installation import init_installation

from .conftest import SignIn
from .live import db_rows, infocentre, start_server

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD_CENTRE = {"learner": "Dolores Caiza", "facilitator": "Luis Pilco", "pin": "1357",
              "class": "Jueves por la tarde"}


def restore(fixture: str, path: Path, role: str) -> str:
    """An installation in ``path`` whose database is the fixture's; returns its centre id."""
    path.mkdir(mode=0o700, parents=True)
    conn = sqlite3.connect(path / config.DATABASE_FILE)
    try:
        conn.executescript(gzip.decompress((FIXTURES / fixture).read_bytes()).decode())
        centre_id, name = conn.execute(
            "SELECT id, name FROM centres WHERE id = centre_id").fetchone()
    finally:
        conn.close()
    config.write_new(path, role, name, centre_id, default_language="en")
    return centre_id


def snapshot(path: Path) -> dict[str, list]:
    """Every row of every table, rowid included (a table made again would renumber them)."""
    conn = sqlite3.connect(path / config.DATABASE_FILE)
    try:
        tables = conn.execute(
            "SELECT name, sql LIKE '%WITHOUT ROWID%' FROM sqlite_master WHERE type = 'table' "
            "AND name NOT IN ('_sqlite_migrations', 'sqlite_sequence') ORDER BY name")
        return {name: conn.execute(f'SELECT * FROM "{name}" ORDER BY 1' if no_rowid else
                                   f'SELECT rowid, * FROM "{name}" ORDER BY rowid').fetchall()
                for name, no_rowid in tables.fetchall()}
    finally:
        conn.close()


FTS5_SHADOWS = ("config", "data", "idx", "docsize", "content")


def assert_kept(before: dict[str, list], after: dict[str, list]) -> None:
    """Every row of ``before`` is in ``after`` as it was, under the same rowid. Migrations added
    since the fixtures were made may only add: empty tables, empty columns, and the sync engine's
    rows describing their columns (``_sync_state`` keeps its catalogue of them as JSON), the
    version row of a new full-text index, and the region's settings the hub publishes at start."""
    for name, rows in after.items():
        if name not in before:
            if name.rpartition("_")[0] in after and name.rpartition("_")[2] in FTS5_SHADOWS:
                pass  # the index's own bookkeeping; the index itself must be empty
            elif name == "region_settings":
                assert {r[3] for r in rows} <= {"currency"}, "region_settings: unknown setting"
            else:
                assert rows == [], f"{name} is a new table, with rows"
        elif name == "_sync_state":
            catalogue = [i for i, value in enumerate(rows[0]) if isinstance(value, str)
                         and value.startswith("{")]
            if after.get("region_settings"):  # the hub wrote them: its clock moved on
                catalogue += [i for i, (new, old) in enumerate(zip(rows[0], before[name][0]))
                              if isinstance(old, int) and isinstance(new, int) and new > old]
            assert [[v for i, v in enumerate(row) if i not in catalogue] for row in rows] == [
                [v for i, v in enumerate(row) if i not in catalogue] for row in before[name]]
        else:
            # A column added since (appended, empty) leaves the old values where they were.
            width = len(before[name][0]) if before[name] else 0
            kept = rows[:len(before[name])]
            assert [row[:width] for row in kept] == before[name], f"{name} changed"
            assert all(v is None for row in kept for v in row[width:]), f"{name}: new column set"
            if not name.startswith("_sync_"):
                assert len(rows) == len(before[name]), f"{name} gained rows"
    assert before.keys() <= after.keys()


def fresh_version(tmp_path: Path) -> int:
    path = tmp_path / "fresh"
    init_installation(path, role="node", name="Nuevo")
    create_app({"DATA_DIR": str(path)})
    return schema_version(open_db(path / config.DATABASE_FILE))


def test_a_centre_made_before_areas_had_their_own_migrations_upgrades_without_loss(tmp_path):
    path = tmp_path / "centre"
    restore("centre-before-areas.sql.gz", path, "node")
    before = snapshot(path)
    app = create_app({"DATA_DIR": str(path), "TESTING": True})
    assert_kept(before, snapshot(path))  # no row lost, changed or renumbered; no table made again
    db = open_db(path / config.DATABASE_FILE)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    applied = set(db.execute("SELECT migration_set, name FROM _sqlite_migrations").fetchall())
    assert {("auth", "m0001_accounts"), ("auth", "m0002_account_photos"),
            ("admin", "m0001_centres"), ("courses", "m0001_courses"),
            ("classes", "m0001_classes"), ("kiosk", "m0005_demo_rows"),
            ("kiosk", "m0006_sync_status"), ("kiosk", "m0004_courses")} <= applied
    # It reports the version a centre set up by this code reports.
    assert schema_version(db) == fresh_version(tmp_path)
    [backup] = (path / "backups").glob("*-before-*.db")  # taken before the upgrade
    create_app({"DATA_DIR": str(path)})
    assert list((path / "backups").glob("*")) == [backup]  # nothing more to do, nor to copy

    # The facilitator of the old centre finds the class, its learner and her progress.
    [luis] = db.execute("SELECT id FROM accounts WHERE name = ?",
                        [OLD_CENTRE["facilitator"]]).fetchall()
    client = app.test_client()
    assert SignIn(client).pin({"id": luis[0]}, OLD_CENTRE["pin"]).status_code == 302
    listing = client.get("/courses/classes").get_data(as_text=True)
    assert OLD_CENTRE["class"] in listing
    [class_id] = db.execute("SELECT id FROM classes WHERE name = ?",
                            [OLD_CENTRE["class"]]).fetchone()
    page = client.get(f"/courses/classes/{class_id}")
    assert page.status_code == 200 and OLD_CENTRE["learner"] in page.get_data(as_text=True)


def test_a_hub_made_before_areas_had_their_own_migrations_upgrades_without_loss(tmp_path,
                                                                              run_cli):
    path = tmp_path / "hub"
    restore("hub-before-areas.sql.gz", path, "hub")
    before = snapshot(path)
    result = run_cli(path, "hub", "nodes", "--json")
    assert result.exit_code == 0, result.output
    assert [n["name"] for n in json.loads(result.output)] == ["Centro Colta"]
    assert_kept(before, snapshot(path))
    assert db_rows(path, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.live
def test_an_upgraded_centre_joins_a_hub_and_sends_its_class(tmp_path):
    """Sync still works on an upgraded database: its own records (not the demo's, which
    ``join`` removes) reach a hub set up by this code."""
    path = tmp_path / "centre"
    restore("centre-before-areas.sql.gz", path, "node")
    hub_dir = tmp_path / "hub"
    infocentre(hub_dir, "init", "--role", "hub", "--name", "Hub Sierra Centro")
    hub = start_server(hub_dir)
    try:
        made = json.loads(infocentre(hub_dir, "hub", "add-node", "Centro San Pablo",
                                     "--json").stdout)
        infocentre(path, "join", "--hub", hub.url, "--token", made["token"])
        report = json.loads(infocentre(path, "sync", "now", "--json").stdout)
        assert report["quarantined"] == 0
    finally:
        hub.stop()
    assert db_rows(hub_dir, "SELECT name, centre_id FROM classes") == [
        (OLD_CENTRE["class"], made["node_id"])]
    assert db_rows(hub_dir, "SELECT count(*) FROM enrolments") == [(1,)]
    assert db_rows(hub_dir, "SELECT present FROM attendance") == [(1,)]
    assert db_rows(hub_dir, "SELECT done FROM progress") == [(1,)]
    names = {r[0] for r in db_rows(hub_dir, "SELECT name FROM accounts WHERE centre_id = ?",
                                   [made["node_id"]])}
    assert names == {OLD_CENTRE["learner"], OLD_CENTRE["facilitator"]}


@pytest.mark.parametrize("migration_set, name", [
    ("courses", "m0002_from_a_newer_version"),
    ("kiosk", "m0007_from_a_newer_version"),
    ("sync", "m0099_from_a_newer_version"),
])
def test_a_database_newer_than_the_code_is_refused_and_left_as_it_was(data_dir, run_cli,
                                                                      migration_set, name):
    """A downgrade after a failed upgrade: the newer code's migration is unknown here."""
    db = open_db(data_dir / config.DATABASE_FILE)
    db.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES "
               "(?, ?, '2031-01-01')", [migration_set, name])
    # A migration of this code still pending: refusing must come before applying it.
    db.execute("DELETE FROM _sqlite_migrations WHERE migration_set = 'classes'")
    db.conn.commit()
    before = snapshot(data_dir)
    recorded = db.execute("SELECT * FROM _sqlite_migrations ORDER BY id").fetchall()
    with pytest.raises(ConfigError, match=f"newer version of Infocentre .*{migration_set}/{name}"):
        create_app({"DATA_DIR": str(data_dir)})
    result = run_cli(data_dir, "user", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("infocentre: This database was made by a newer version")
    assert result.stderr.count("\n") == 1  # one line, no traceback
    assert db.execute("SELECT * FROM _sqlite_migrations ORDER BY id").fetchall() == recorded
    assert snapshot(data_dir) == before
    assert not (data_dir / "backups").exists()


def test_the_version_a_centre_reports_rises_when_an_area_gains_a_migration(data_dir,
                                                                          monkeypatch):
    """The hub's version check sees every migration set, not only the core's."""
    db = open_db(data_dir / config.DATABASE_FILE)
    before = schema_version(db)
    grown = Migrations("classes")
    for migration in kiosk.classes.MIGRATIONS._migrations:
        grown(name=migration.name)(migration.fn)

    @grown(name="m0002_room")
    def add_room(db):
        db.execute("ALTER TABLE classes ADD COLUMN room TEXT")

    monkeypatch.setattr(kiosk.classes, "MIGRATIONS", grown)
    create_app({"DATA_DIR": str(data_dir)})
    assert "room" in db.table("classes").columns_dict
    assert schema_version(db) == before + 1


def test_commands_demo_and_permissions_follow_the_installations_areas(data_dir, run_cli):
    config.update_file(data_dir, areas=["kiosk.home", "kiosk.auth", "kiosk.admin"])
    result = run_cli(data_dir, "content", "list")
    assert result.exit_code == 2 and "No such command 'content'" in result.output
    result = run_cli(data_dir, "demo")
    assert result.exit_code == 0, result.output
    assert "Courses:" not in result.output and "demo class" not in result.output
    assert db_rows(data_dir, "SELECT count(*) FROM courses") == [(0,)]
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True})
    assert set(app.extensions["infocentre"]["permissions"]) == {
        "manage_people", "manage_staff", "register_centres", "see_centres", "sync_now"}
    assert app.test_client().get("/courses/classes").status_code == 404


def test_the_smallest_area_is_migrations_and_synced_tables(data_dir):
    """An area may be a module with MIGRATIONS and SYNCED_TABLES and nothing else."""
    from . import sync_area

    assert {n for n in dir(sync_area) if n.isupper()} >= {"MIGRATIONS", "SYNCED_TABLES"}
    app = create_app({"DATA_DIR": str(data_dir),
                      "AREAS": [*config.DEFAULT_AREAS, "tests.sync_area"]})
    db = open_db(data_dir / config.DATABASE_FILE)
    names = {t.name for t in sync_area.SYNCED_TABLES}
    assert names <= {t.name for t in app.extensions["infocentre"]["synced_tables"]}
    assert names <= set(db.table_names())
    assert ("synctest", "m0001_tables") in db.execute(
        "SELECT migration_set, name FROM _sqlite_migrations").fetchall()
    assert data.schema_version(db) > 0


def test_the_smallest_area_of_the_readme_is_made_captured_and_reported(data_dir, tmp_path,
                                                                       monkeypatch):
    """kiosk/README.md's example area works as it is written."""
    readme = (Path(__file__).resolve().parent.parent / "kiosk" / "README.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", readme, re.S)
    (tmp_path / "noticeboard.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    db = open_db(data_dir / config.DATABASE_FILE)
    before = schema_version(db)
    create_app({"DATA_DIR": str(data_dir), "AREAS": [*config.DEFAULT_AREAS, "noticeboard"]})
    assert schema_version(db) == before + 1
    db.execute("INSERT INTO notices (id, centre_id, text) VALUES ('n1', ?, 'Minga el sábado')",
               [db.execute("SELECT node_id FROM _sync_state").fetchone()[0]])
    assert db.execute("SELECT count(*) FROM _sync_clock WHERE pk = 'n1'").fetchone()[0] > 0
