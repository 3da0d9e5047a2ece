"""The client's pipelining against a real hub on 127.0.0.1 (issue 13): while a centre applies one
page, it has already asked for the next; that answer is used only if the request built after the
page is the same one, and dropped otherwise."""

from __future__ import annotations

import shutil

import pytest

from sync.client import HubClient, sync_now

from .sync_world import TABLES, Replica
from .thread_hub import Hub, templates

NOTES = 100
PAGE = 20


@pytest.fixture
def hub(tmp_path):
    server = Hub(tmp_path / "hub")
    server.db.conn.executemany(
        "INSERT INTO notes (id, centre_id, title) VALUES (?, '', ?)",
        [(f"n{i:03d}", f"Minga {i}") for i in range(NOTES)])
    server.db.conn.commit()
    yield server
    server.close()


def centre(hub, tmp_path):
    node_id, token = hub.register("Centro A")
    path = tmp_path / "a.db"
    shutil.copyfile(templates()["node"], path)
    return Replica(path, node_id, "node"), token


def hub_cursor(hub, node_id) -> int:
    return hub.db.execute("SELECT cursor FROM _sync_nodes WHERE node_id = ?",
                          [node_id]).fetchone()[0]


def test_each_page_is_asked_for_while_the_one_before_is_applied(hub, tmp_path):
    a, token = centre(hub, tmp_path)
    seen = []

    def on_step(report):
        # The hub has already been asked for the next page, and has not taken it for had.
        seen.append((a.db.execute("SELECT cursor FROM _sync_state").fetchone()[0],
                     hub_cursor(hub, a.node_id)))

    client = HubClient(hub.url, token)
    report = sync_now(a.db, TABLES, client, schema=1, page_limit=PAGE, on_step=on_step)
    client.close()
    assert report.status == "synced" and report.received >= NOTES
    assert a.rows("notes") == hub.rows("notes") and len(a.rows("notes")) == NOTES
    pages = len(seen)
    assert pages >= NOTES // PAGE and report.requests == pages  # no answer went unused
    # Each page was asked for while the one before was applied: the hub noted the cursor the
    # centre had then, one page behind, never one it had not applied yet.
    assert all(at_hub < here for here, at_hub in seen[:-1])
    # The last page was asked for while the one before it was applied: the hub's bundle for
    # this centre would start two pages back, never past what it has.
    assert hub_cursor(hub, a.node_id) == seen[-3][0]


def test_an_answer_asked_for_ahead_is_dropped_when_the_next_request_differs(hub, tmp_path):
    a, token = centre(hub, tmp_path)
    moved, pages = [], []

    def on_step(report):
        pages.append(report.requests)
        if not moved:  # something else moves this centre's cursor back while a page is applied
            moved.append(a.db.execute("SELECT cursor FROM _sync_state").fetchone()[0])
            a.db.execute("UPDATE _sync_state SET cursor = 0")

    client = HubClient(hub.url, token)
    report = sync_now(a.db, TABLES, client, schema=1, page_limit=PAGE, on_step=on_step)
    client.close()
    assert moved and moved[0] > 0
    assert report.status == "synced"
    assert a.rows("notes") == hub.rows("notes") and len(a.rows("notes")) == NOTES
    # The first page came twice (asked again from 0), and the answer asked for ahead of it was
    # not used: one request more than the pages applied.
    assert report.requests == len(pages) + 1
