"""The hub's sync API over HTTP (Flask test client): signatures, replays, revocation, sizes, and
that every refusal is JSON and leaves the hub's data unchanged (DESIGN property 8)."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

from kiosk.admin import models as centres
from sync import signing
from sync.client import HubClient, Packed
from sync.engine import Catalog, build_request
from sync.engine.clock import wall_ms
from sync.engine.exchange import Ahead

from .conftest import make_app

PATH = "/api/sync/v1/exchange"


@pytest.fixture
def node(hub_app, hub_db, clock):
    made = centres.register_node(hub_db, name="Centro San Pablo",
                                 hub_id=hub_app.config["CENTRE_ID"], now=clock())
    secret = signing.derive_secret(hub_app.config["SECRET_KEY"], made["node_id"], 1)
    return made["node_id"], secret


def signed(node_id, secret, body: bytes, *, time_ms=None, method="POST", path=PATH,
           encoding=None) -> dict:
    headers = {"Authorization": signing.authorization(node_id, secret, method, path,
                                                      time_ms or wall_ms(), body),
               "Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding
    return headers


def payload(node_id, **extra) -> bytes:
    return json.dumps({"node": node_id, "instance": str(uuid.uuid4()), "schema": 1,
                       "cursor": 0, **extra}).encode()


def hub_state(hub_db) -> tuple:
    return tuple(hub_db.execute(
        "SELECT (SELECT seq FROM _sync_state), (SELECT count(*) FROM _sync_clock), "
        "(SELECT count(*) FROM _sync_batches), (SELECT count(*) FROM _sync_instances)"
    ).fetchone())


def refused(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["ok"] is False and body["errors"][0]["code"] == code
    assert body["errors"][0]["message"]
    return body


def test_a_signed_exchange_is_answered(hub_client, node):
    node_id, secret = node
    body = payload(node_id)
    response = hub_client.post(PATH, data=body, headers=signed(node_id, secret, body))
    assert response.status_code == 200
    reply = response.get_json()
    assert reply["ok"] is True and abs(reply["hub_time"] - wall_ms()) < 5000
    assert reply["pull"]["cursor"] >= 1  # the centres row of the registered node is waiting


def test_gzip_bodies_are_accepted(hub_client, node):
    node_id, secret = node
    body = gzip.compress(payload(node_id))
    response = hub_client.post(PATH, data=body,
                               headers=signed(node_id, secret, body, encoding="gzip"))
    assert response.status_code == 200


@pytest.mark.parametrize("case", ["unsigned", "garbage", "wrong secret", "tampered body",
                                  "other path", "unknown node", "unicode digit time"])
def test_requests_without_a_valid_signature_are_refused(hub_client, hub_db, node, case):
    node_id, secret = node
    body = payload(node_id)
    headers = signed(node_id, secret, body)
    if case == "unsigned":
        headers.pop("Authorization")
    elif case == "garbage":
        headers["Authorization"] = "Sync <script>alert(1)</script>"
    elif case == "wrong secret":
        headers = signed(node_id, b"x" * 32, body)
    elif case == "tampered body":
        body = body.replace(b'"schema": 1', b'"schema": 2')
    elif case == "other path":
        headers = signed(node_id, secret, body, path="/api/sync/v1/other")
    elif case == "unknown node":
        headers = signed(str(uuid.uuid4()), secret, body)
    elif case == "unicode digit time":  # "²".isdigit(), but int("²") fails: it gave a 500
        scheme, _, rest = headers["Authorization"].partition(" ")
        who, _time, nonce, sig = rest.split(":")
        headers["Authorization"] = f"{scheme} {who}:\u00b2:{nonce}:{sig}"  # sent as Latin-1
    before = hub_state(hub_db)
    refused(hub_client.post(PATH, data=body, headers=headers), 401, "unauthenticated")
    assert hub_state(hub_db) == before


def test_a_replayed_request_is_refused(hub_client, hub_db, node):
    node_id, secret = node
    body = payload(node_id)
    headers = signed(node_id, secret, body)
    assert hub_client.post(PATH, data=body, headers=headers).status_code == 200
    before = hub_state(hub_db)
    reply = refused(hub_client.post(PATH, data=body, headers=headers), 401, "unauthenticated")
    assert "replay" in reply["errors"][0]["message"]
    assert hub_state(hub_db) == before


def test_a_stale_request_is_refused_with_the_hubs_time(hub_client, hub_db, node):
    node_id, secret = node
    body = payload(node_id)
    before = hub_state(hub_db)
    old = wall_ms() - 10 * 60 * 1000
    reply = refused(hub_client.post(PATH, data=body, headers=signed(node_id, secret, body,
                                                                    time_ms=old)),
                    401, "unauthenticated")
    assert abs(reply["hub_time"] - wall_ms()) < 5000  # so the node can correct its clock
    assert hub_state(hub_db) == before


def test_a_revoked_centre_is_refused_at_once(hub_client, hub_db, node, clock):
    node_id, secret = node
    body = payload(node_id)
    assert hub_client.post(PATH, data=body, headers=signed(node_id, secret, body)
                           ).status_code == 200
    assert centres.revoke_node(hub_db, node_id, clock())
    body = payload(node_id)
    refused(hub_client.post(PATH, data=body, headers=signed(node_id, secret, body)), 401,
            "revoked")


def test_changes_claiming_another_centre_are_refused(hub_client, hub_db, node):
    node_id, secret = node
    changes = {"nodes": [str(uuid.uuid4())], "base": 1, "tables": [{
        "name": "accounts", "columns": ["centre_id", "name"],
        "rows": [["a1", 0, 0, [node_id, "Intrusa"], []]]}]}
    body = payload(node_id, batch={"id": "b1", "from": 0, "to": 1, "changes": changes})
    before = hub_state(hub_db)
    refused(hub_client.post(PATH, data=body, headers=signed(node_id, secret, body)), 403,
            "forged_origin")
    assert hub_state(hub_db) == before


@pytest.mark.parametrize("body", [b"", b"{", b"[1, 2]", b'{"schema": "x"}', b"\xff\xfe",
                                  b'{"instance": "i", "schema": 1, "cursor": NaN}'])
def test_malformed_bodies_are_refused(hub_client, hub_db, node, body):
    node_id, secret = node
    before = hub_state(hub_db)
    refused(hub_client.post(PATH, data=body, headers=signed(node_id, secret, body)), 400,
            "malformed")
    assert hub_state(hub_db) == before


def _batch(node_id, *, value="Rosa", pk="a1", column="name", batch_id="b1"):
    changes = {"nodes": [node_id], "base": 1, "tables": [{
        "name": "accounts", "columns": ["centre_id", column],
        "rows": [[pk, 0, 0, [node_id, value], []]]}]}
    return {"id": batch_id, "from": 0, "to": 1, "changes": changes}


# Values SQLite cannot store: each used to answer 500, which a centre takes for "hub down" and
# resends for ever (issue 13, failure 6).
UNSTORABLE = {
    "a whole number of 10^30": (lambda n: _batch(n, value=10**30), "whole numbers of 64 bits"),
    "minus 10^30": (lambda n: _batch(n, value=-(10**30)), "whole numbers of 64 bits"),
    "an infinite number": (lambda n: _batch(n, value=float("inf")), "finite"),
    "a lone surrogate in a value": (lambda n: _batch(n, value="Ros\ud800a"), "Unicode"),
    "a lone surrogate in a row id": (lambda n: _batch(n, pk="a\udfff"), "bad row"),
    "a lone surrogate in a batch id": (lambda n: _batch(n, batch_id="b\ud800"), "batch"),
    "a lone surrogate in a column": (lambda n: _batch(n, column="na\ud800me"), "column"),
    "true for a value": (lambda n: _batch(n, value=True), "values"),
}


@pytest.mark.parametrize("case", list(UNSTORABLE), ids=list(UNSTORABLE))
def test_values_sqlite_cannot_store_are_refused_by_name(hub_client, hub_db, node, case):
    node_id, secret = node
    batch, words = UNSTORABLE[case]
    text = json.dumps({"node": node_id, "instance": str(uuid.uuid4()), "schema": 1,
                       "cursor": 0, "batch": batch(node_id)}, allow_nan=True)
    # JSON carries a lone surrogate as an escape; 1e400 reads as infinity.
    body = text.replace("Infinity", "1e400").encode()
    before = hub_state(hub_db)
    reply = refused(hub_client.post(PATH, data=body, headers=signed(node_id, secret, body)),
                    400, "malformed")
    assert words in reply["errors"][0]["message"]
    assert hub_state(hub_db)[1:] == before[1:]


@pytest.mark.parametrize("field", ["instance", "node", "cursor", "acked", "limit"])
def test_request_fields_sqlite_cannot_store_are_refused(hub_client, hub_db, node, field):
    node_id, secret = node
    fields = {"node": node_id, "instance": str(uuid.uuid4()), "schema": 1, "cursor": 0}
    text = json.dumps(fields)
    if field in ("instance", "node"):
        text = text.replace(f'"{fields[field]}"', '"x\\ud800"')
    else:
        text = text[:-1] + f', "{field}": {10**30}}}'
    body = text.encode()
    before = hub_state(hub_db)
    refused(hub_client.post(PATH, data=body, headers=signed(node_id, secret, body)), 400,
            "malformed")
    assert hub_state(hub_db)[1:] == before[1:]


def test_oversized_requests_are_refused(hub_client, hub_db, node):
    node_id, secret = node
    body = b"x" * (8 * 1024 * 1024 + 10)
    before = hub_state(hub_db)
    response = hub_client.post(PATH, data=body, headers=signed(node_id, secret, body))
    refused(response, 413, "too_large")
    assert hub_state(hub_db) == before


def test_a_gzip_bomb_costs_nothing(hub_client, hub_db, node):
    node_id, secret = node
    bomb = gzip.compress(b" " * (80 * 1024 * 1024))  # 80 MiB of spaces in about 80 KB
    assert len(bomb) < 200_000
    before = hub_state(hub_db)
    response = hub_client.post(PATH, data=bomb,
                               headers=signed(node_id, secret, bomb, encoding="gzip"))
    refused(response, 413, "too_large")
    assert hub_state(hub_db) == before


def test_an_old_centre_is_asked_to_update(hub_dir, clock, node):
    app = make_app(hub_dir, clock, SYNC_MIN_SCHEMA=5)
    node_id, secret = node
    body = payload(node_id)
    reply = refused(app.test_client().post(PATH, data=body, headers=signed(node_id, secret,
                                                                           body)),
                    409, "schema_too_old")
    assert "Please update" in reply["errors"][0]["message"]


def test_a_batch_stamped_in_the_future_is_refused_with_the_hubs_time(hub_client, hub_db, node,
                                                                     app, db):
    node_id, secret = node
    db.execute("UPDATE _sync_state SET offset_ms = ?", [3_600_000])  # an hour fast
    db.execute("UPDATE _sync_state SET node_id = ?, node_idx = (SELECT id FROM _sync_origins "
               "WHERE node_id = (SELECT node_id FROM _sync_state))", [node_id])
    db.execute("UPDATE _sync_origins SET node_id = ? WHERE id = (SELECT node_idx FROM "
               "_sync_state)", [node_id])
    db.execute("INSERT INTO accounts (id, centre_id, name, role) VALUES ('a', ?, 'Ana', "
               "'villager')", [node_id])
    request = build_request(db, Catalog(db, app.extensions["infocentre"]["synced_tables"]),
                            schema=1)
    body = json.dumps(request).encode()
    before = hub_state(hub_db)
    reply = refused(hub_client.post(PATH, data=body, headers=signed(node_id, secret, body)),
                    409, "clock_ahead")
    assert abs(reply["hub_time"] - wall_ms()) < 5000
    assert hub_state(hub_db)[1:3] == before[1:3]


def test_hello_and_the_openapi_document_need_no_signature(hub_client):
    hello = hub_client.get("/api/sync/v1/hello").get_json()
    assert hello["ok"] is True and hello["api"] == 1
    document = hub_client.get("/api/sync/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.") and "/api/sync/v1/exchange" in document["paths"]


def test_a_centre_serves_no_sync_api(client):
    assert client.get("/api/sync/v1/hello").status_code == 404
    assert client.post(PATH, data=b"{}").status_code == 404


def test_a_batch_packed_ahead_makes_the_same_request_as_one_serialised_whole():
    """The client compresses the batch it read ahead while the hub works on the one before;
    the body it sends then must say exactly what the plain request says."""
    ahead = Ahead(4, 9, {"notes": {"rows": [["k1", 3, 0, ["Minga ñ دال \u2028 <script>"]]]}})
    packed = Packed(ahead)
    request = {"instance": str(uuid.uuid4()), "schema": 1, "acked": 4, "cursor": 17,
               "batch": {"id": ahead.id, "from": 4, "to": 9, "changes": ahead.changes}}
    assert packed.holds(request["batch"])
    assert not packed.holds({**request["batch"], "changes": json.loads(json.dumps(
        ahead.changes))})  # read again, it may differ: only the very batch read ahead counts
    assert not packed.holds({**request["batch"], "id": str(uuid.uuid4())})
    body = packed.body({k: v for k, v in request.items() if k != "batch"})
    assert json.loads(gzip.decompress(body)) == request
    assert not packed.holds(request["batch"])  # sent: a request sent again is serialised anew
    plain, _ = HubClient._json_body(request)
    assert json.loads(gzip.decompress(plain)) == json.loads(gzip.decompress(body))


def test_a_page_asked_for_ahead_is_not_taken_for_what_the_centre_has(hub_client, hub_db, node):
    """A centre asks for the next page while it applies one: until it has applied it, the hub's
    next bundle for it must still start from the cursor it really has."""
    node_id, secret = node
    instance = str(uuid.uuid4())

    def ask(**extra):
        body = json.dumps({"instance": instance, "schema": 1, **extra}).encode()
        response = hub_client.post(PATH, data=body, headers=signed(node_id, secret, body))
        assert response.status_code == 200, response.get_data(as_text=True)
        return hub_db.execute("SELECT cursor FROM _sync_nodes WHERE node_id = ?",
                              [node_id]).fetchone()[0]

    assert ask(cursor=0) == 0
    top = hub_db.execute("SELECT seq FROM _sync_state").fetchone()[0]
    assert top > 0
    assert ask(cursor=top, had=0) == 0  # asked for while the page before is applied
    assert ask(cursor=top) == top
    for had in (top + 1, -1, "0", 1.5):  # past the cursor, or not a sequence number
        body = json.dumps({"instance": instance, "schema": 1, "cursor": top,
                           "had": had}).encode()
        refused(hub_client.post(PATH, data=body, headers=signed(node_id, secret, body)),
                400, "malformed")
