"""Browsing and reviewing stories (issue 18): facets by village, decade and tag, a search that
ignores accents, pages of 24, a PLAY button on every card, who sees which story at a centre
and at the hub, and the review queue, whose every bad input changes nothing."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest

from kiosk.data import writing
from kiosk.media import Store
from kiosk.stories import models

from .conftest import SignIn, csrf_from
from .factories import PIN, make_account, make_centre, make_story

STORY_TABLES = ("stories", "story_photos", "stories_search")
# Pages of the other parts of the stories area that these pages link to, stood in for when
# this installation lacks them, so the links can be checked.
OTHER_PAGES = {"stories.tell": "/stories/tell", "stories.mine": "/stories/mine",
               "stories.edit": "/stories/<story_id>/edit",
               "stories.consent": "/stories/<story_id>/consent"}


def text(response) -> str:
    return response.get_data(as_text=True)


def titles_on(page: str) -> list[str]:
    return re.findall(r'<span class="story-title" dir="auto">([^<]*)</span>', page)


def snapshot(db) -> dict:
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in STORY_TABLES}


def signed_in(app, account):
    client = app.test_client()
    assert SignIn(client).pin(account, PIN).status_code == 302
    return client


def jpeg(colour=(200, 120, 40)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), colour).save(out, "JPEG")
    return out.getvalue()


def stored(app, data: bytes) -> str:
    return Store(Path(app.config["DATA_DIR"]) / "media").add_bytes(data).sha


@pytest.fixture
def app(app):
    """The centre, with stand-ins for the other parts' pages it does not have yet."""
    for endpoint, rule in OTHER_PAGES.items():
        if endpoint not in app.view_functions:
            app.add_url_rule(rule, endpoint, lambda **_: "")
    return app


@pytest.fixture
def centre(app) -> str:
    return app.config["CENTRE_ID"]


@pytest.fixture
def people(db, centre) -> dict:
    return {role: make_account(db, centre, role=role, name=name) for role, name in (
        ("facilitator", "Lucía Andrango"), ("villager", "Rosa Pilataxi"),
        ("cooperative", "Manuel Guamán"))}


@pytest.fixture
def lucia(app, people):
    return signed_in(app, people["facilitator"])


# Browsing.


def test_facets_offer_villages_decades_and_tags_with_counts_and_filter(client, db, centre,
                                                                       people):
    by = people["facilitator"]
    make_story(db, centre, by=by, title="El canal", village="Urcuquí", when="1978",
               tags="agua, minga")
    make_story(db, centre, by=by, title="La helada", village="Urcuquí", when="1960s",
               tags="cosecha")
    make_story(db, centre, by=by, title="El tren", village="Ibarra", when="1960s", tags="agua")
    make_story(db, centre, by=by, title="Esperando", village="Ibarra", status="pending")
    page = text(client.get("/stories"))
    assert sorted(titles_on(page)) == ["El canal", "El tren", "La helada"]
    assert "3 stories" in page
    assert re.search(r'village=Urcuqu%C3%AD"><bdi>Urcuquí</bdi> <span class="market-count">2',
                     page)
    assert re.search(r'decade=1960"><bdi>the 1960s</bdi> <span class="market-count">2', page)
    assert re.search(r'tag=agua"><bdi>agua</bdi> <span class="market-count">2', page)
    assert sorted(titles_on(text(client.get("/stories?village=Urcuquí")))) == [
        "El canal", "La helada"]
    assert titles_on(text(client.get("/stories?decade=1970"))) == ["El canal"]
    assert sorted(titles_on(text(client.get("/stories?tag=AGUA")))) == ["El canal", "El tren"]
    chosen = text(client.get("/stories?tag=agua&decade=1960"))
    assert titles_on(chosen) == ["El tren"] and 'aria-current="true"' in chosen
    for odd in ("decade=19x0", "decade=1975", "village=" + "x" * 5000, "tag=%00"):
        assert client.get(f"/stories?{odd}").status_code == 200, odd


@pytest.mark.parametrize("typed, found", [
    ("jovenes", ["El canal"]), ("JÓVENES", ["El canal"]), ("urcuqui", ["El canal"]),
    ("minga", ["El canal"]), ("rosa", ["El canal"]), ("hel", ["La helada"]),
    ("canal helada", []), ("«»!?", []),
])
def test_search_ignores_accents_and_case_over_titles_transcripts_and_tags(
        client, db, centre, people, typed, found):
    by = people["facilitator"]
    make_story(db, centre, by=by, title="El canal", teller_name="Mama Rosa", village="Urcuquí",
               tags="minga", transcript="Cuando éramos jóvenes cavamos el canal.")
    make_story(db, centre, by=by, title="La helada", transcript="Se perdió todo el maíz.")
    make_story(db, centre, by=by, title="Jóvenes esperando", status="pending")
    page = text(client.get("/stories", query_string={"q": typed}))
    assert titles_on(page) == found
    if not found and typed.strip("«»!?"):
        assert "Nothing found for “canal helada”" in page


def test_the_index_has_pages_of_24(client, db, centre, people):
    with writing(db):
        for n in range(30):
            make_story(db, centre, by=people["facilitator"], title=f"Historia {n:02}")
    first, second = text(client.get("/stories")), text(client.get("/stories?page=2"))
    assert len(titles_on(first)) == 24 and len(titles_on(second)) == 6
    assert not set(titles_on(first)) & set(titles_on(second))
    assert "Page 1 of 2" in first and 'rel="next"' in first and 'rel="prev"' in second
    assert titles_on(first)[0] == "Historia 29"  # newest first
    for page in ("0", "x", "²", "9" * 40):
        assert client.get("/stories", query_string={"page": page}).status_code == 200


def test_every_card_has_a_picture_and_a_play_button_for_its_recording(app, client, db, centre,
                                                                      people):
    by = people["facilitator"]
    with app.app_context():
        from kiosk.media import add_photo

        photo = add_photo(jpeg())
    voice = stored(app, b"OggS" + b"\x00" * 200)
    make_story(db, centre, by=by, title="Con foto y voz", photos=[photo],
               audio={"sha": voice, "kind": "audio/ogg", "bytes": 204, "seconds": 187})
    make_story(db, centre, by=by, title="Solo escrita", transcript="", body="Había una vez")
    make_story(db, centre, by=by, title="Voz en camino",
               audio={"sha": "ab" * 32, "kind": "audio/ogg", "bytes": 9, "seconds": 3})
    page = text(client.get("/stories"))
    cards = dict(zip(titles_on(page), page.split('<li class="story-card">')[1:]))
    told = cards["Con foto y voz"]
    assert f'src="/media/{photo}/320"' in told and 'loading="lazy"' in told
    assert "data-listen" in told and f'src="/media/{voice}"' in told and "3:07" in told
    assert 'aria-label="Play: Con foto y voz"' in told and 'preload="none"' in told
    written = cards["Solo escrita"]
    assert "story-scene" in written and "data-listen" not in written and ">Read<" in written
    assert "has not arrived yet" in cards["Voz en camino"]
    assert client.get(f"/media/{voice}").status_code == 200


def test_a_story_page_shows_everything_escaped_with_photos_to_open_whole(app, client, db,
                                                                        centre, people):
    with app.app_context():
        from kiosk.media import add_photo

        shas = [add_photo(jpeg()), add_photo(jpeg((20, 120, 40)))]
    voice = stored(app, b"OggS" + b"\x01" * 200)
    story_id = make_story(
        db, centre, by=people["facilitator"], title="El canal", teller_name="Mama Rosa",
        village="Urcuquí", when="1978", lang="qu_EC", tags="agua, minga", photos=shas,
        audio={"sha": voice, "kind": "audio/ogg", "bytes": 204, "seconds": 65},
        transcript="<script>alert(1)</script>\nCuando éramos jóvenes", body="Escrito <b>así</b>")
    page = text(client.get(f"/stories/{story_id}"))
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>así</b>" not in page and "Escrito &lt;b&gt;así&lt;/b&gt;" in page
    assert "Mama Rosa" in page and "Urcuquí" in page and "1978" in page
    assert "Kichwa" in page and "Centro de Prueba" in page and 'lang="qu-EC"' in page
    assert "/stories?tag=agua" in page and "/stories?tag=minga" in page
    assert "/stories?decade=1970" in page and "/stories?village=Urcuqu%C3%AD" in page
    assert f"/media/{shas[0]}/800" in page and f"/media/{shas[1]}/320" in page
    for sha in shas:
        assert f'href="/media/{sha}"' in page
    assert f'src="/media/{voice}"' in page and "1:05" in page and "data-listen" in page
    assert "/edit" not in page and "/consent" not in page  # not for a passer-by
    assert "Waiting for review" not in page


def test_an_unknown_story_is_a_404_page(client):
    for path in ("/stories/nope", "/stories/" + "x" * 300):
        response = client.get(path)
        assert response.status_code == 404 and "<!doctype html>" in text(response)


# Who sees what.


@pytest.mark.parametrize("status", ["pending", "returned", "hidden"])
def test_a_story_not_approved_is_seen_only_by_its_teller_recorder_and_facilitators(
        app, client, db, centre, people, status):
    teller, recorder = people["villager"], people["cooperative"]
    story_id = make_story(db, centre, by=recorder, teller_id=teller["id"], title="Mi abuela",
                          status=status, note="Falta decir el año")
    path = f"/stories/{story_id}"
    assert "Mi abuela" not in text(client.get("/stories"))
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/auth/signin" in anonymous.location
    stranger = make_account(db, centre, name="Otra Vecina")
    assert signed_in(app, stranger).get(path).status_code == 404
    for person in (teller, recorder, people["facilitator"]):
        signed = signed_in(app, person)
        page = text(signed.get(path))
        assert "Mi abuela" in page and models.status_label(status) in page
        if status != "pending":
            assert "Falta decir el año" in page
        assert f"/stories/{story_id}/edit" in page and f"/stories/{story_id}/consent" in page
        assert "Mi abuela" not in text(signed.get("/stories"))  # browsing is approved only
    facilitator = text(signed_in(app, people["facilitator"]).get(path))
    assert ("/stories/review#story-" in facilitator) == (status == "pending")


def test_approved_stories_are_seen_by_all_and_changed_by_few(app, client, db, centre, people):
    teller = people["villager"]
    story_id = make_story(db, centre, by=people["facilitator"], teller_id=teller["id"],
                          title="La fiesta")
    edit = f"/stories/{story_id}/edit"
    assert edit not in text(client.get(f"/stories/{story_id}"))
    assert edit in text(signed_in(app, teller).get(f"/stories/{story_id}"))
    assert edit not in text(signed_in(app, people["cooperative"]).get(f"/stories/{story_id}"))
    assert "Every centre of the region" in text(signed_in(app, teller).get(f"/stories/{story_id}"))


def test_a_story_of_another_centre_is_read_here_and_changed_only_there(app, db, people):
    far = make_centre(db, "Centro Cotacachi")
    author = make_account(db, far, role="facilitator", name="Facilitador Lejano")
    story_id = make_story(db, far, by=author, title="El volcán")
    lucia = signed_in(app, people["facilitator"])
    page = text(lucia.get(f"/stories/{story_id}"))
    assert "El volcán" in page and "Centro Cotacachi" in page and "/edit" not in page
    assert "El volcán" in text(lucia.get("/stories"))


def test_the_buttons_follow_what_the_person_may_do(app, client, db, centre, people):
    make_story(db, centre, by=people["facilitator"], title="Uno", status="pending")
    make_story(db, centre, by=people["facilitator"], title="Dos", status="pending")
    page = text(client.get("/stories"))
    assert "/stories/tell" not in page and "/stories/review" not in page
    villager = text(signed_in(app, people["villager"]).get("/stories"))
    assert 'href="/stories/tell"' in villager and "/stories/mine" in villager
    assert "/stories/review" not in villager
    facilitator = text(signed_in(app, people["facilitator"]).get("/stories"))
    assert 'href="/stories/tell"' in facilitator and "2 stories to review" in facilitator


# The hub.


@pytest.fixture
def region(hub_db) -> dict:
    """At the hub: stories of a centre, as its sync brought them."""
    far = make_centre(hub_db, "Centro Cotacachi")
    by = {"id": "", "name": "Facilitador Lejano"}
    return {"centre": far, **{title: make_story(hub_db, far, by=by, title=title, **extra)
                              for title, extra in (
        ("Para la región", {"consent": "region"}), ("Para todos", {"consent": "public"}),
        ("Solo del centro", {"consent": "centre"}),
        ("Esperando", {"consent": "region", "status": "pending"}))}}


def test_the_hub_shows_the_region_its_stories_and_staff_the_archive(hub_app, hub_client,
                                                                   hub_db, region):
    assert sorted(titles_on(text(hub_client.get("/stories")))) == ["Para la región",
                                                                   "Para todos"]
    assert "Centro Cotacachi" in text(hub_client.get(f"/stories/{region['Para todos']}"))
    assert hub_client.get(f"/stories/{region['Solo del centro']}").status_code == 302
    facets = text(hub_client.get("/stories"))
    assert "/stories/tell" not in facets and "/stories/review" not in facets
    staff = hub_app.test_client()
    regional = make_account(hub_db, "hub", role="regional", name="Ana Regional")
    assert SignIn(staff).password(regional["name"], "a-long-staff-password").status_code == 302
    assert sorted(titles_on(text(staff.get("/stories")))) == [
        "Para la región", "Para todos", "Solo del centro"]
    for title in ("Solo del centro", "Esperando"):
        page = text(staff.get(f"/stories/{region[title]}"))
        assert title in page and "/edit" not in page
    assert staff.get("/stories/review").status_code == 404


# Review.


@pytest.fixture
def waiting(db, centre, people) -> str:
    return make_story(db, centre, by=people["villager"], title="La laguna", status="pending",
                      consent="region")


def review(client, story_id, **form):
    page = client.get("/stories/review")
    return client.post(f"/stories/{story_id}/review",
                       data={"csrf_token": csrf_from(page), **form})


def test_the_queue_shows_each_waiting_story_with_its_player_photos_and_transcript(
        app, db, centre, people, lucia):
    with app.app_context():
        from kiosk.media import add_photo

        photo = add_photo(jpeg())
    voice = stored(app, b"OggS" + b"\x02" * 200)
    make_story(db, centre, by=people["villager"], title="La laguna", status="pending",
               photos=[photo], audio={"sha": voice, "kind": "audio/ogg", "bytes": 204,
                                      "seconds": 30},
               transcript="<script>x</script> el agua")
    make_story(db, centre, by=people["villager"], title="Ya aprobada")
    page = text(lucia.get("/stories/review"))
    assert "La laguna" in page and "Ya aprobada" not in page
    assert f'src="/media/{voice}"' in page and f"/media/{photo}/160" in page
    assert "&lt;script&gt;x&lt;/script&gt; el agua" in page
    assert page.count('name="action" value="') == 3


@pytest.mark.parametrize("action, note, status, shared", [
    ("approve", "", "approved", 1), ("return", "Di el nombre del río", "returned", 0),
    ("hide", "Habla de una familia sin su permiso", "hidden", 0),
])
def test_a_facilitator_approves_sends_back_or_hides(db, lucia, waiting, action, note, status,
                                                   shared):
    response = review(lucia, waiting, action=action, note=note)
    assert response.status_code == 302 and response.location.endswith("/stories/review")
    story = models.get_story(db, waiting)
    assert (story["status"], story["shared"], story["review_note"]) == (status, shared, note)
    assert story["reviewed_by"] == "Lucía Andrango"
    page = text(lucia.get("/stories/review"))
    assert "“La laguna”" in page and "No story waits for review." in page


@pytest.mark.parametrize("form, status, message", [
    ({"action": "return", "note": "  "}, 400, "Write what the teller should change."),
    ({"action": "hide"}, 400, "Write why the story is hidden."),
    ({"action": "publish"}, 400, "Choose approve, send back or hide."),
    ({}, 400, "Choose approve, send back or hide."),
    ({"action": "return", "note": "x" * 501}, 400, "500 letters at most"),
    ({"action": "return", "note": "bad\x00byte"}, 400, "500 letters at most"),
])
def test_bad_review_input_says_what_is_wrong_and_changes_nothing(db, lucia, waiting, form,
                                                                 status, message):
    before = snapshot(db)
    response = review(lucia, waiting, **form)
    assert response.status_code == status
    page = text(response)
    assert message in page and "Nothing was changed" in page and "has-problem" in page
    assert snapshot(db) == before


def test_a_review_sent_twice_changes_nothing_the_second_time(db, lucia, waiting):
    assert review(lucia, waiting, action="return", note="Falta el final").status_code == 302
    before = snapshot(db)
    again = review(lucia, waiting, action="approve")
    assert again.status_code == 400
    assert "already reviewed (Sent back). Nothing was changed." in text(again)
    assert snapshot(db) == before


def test_a_story_of_another_centre_or_unknown_is_not_reviewed_here(db, people, lucia):
    far = make_centre(db, "Centro Cotacachi")
    author = make_account(db, far, role="facilitator", name="Facilitador Lejano")
    theirs = make_story(db, far, by=author, title="El volcán")
    before = snapshot(db)
    response = review(lucia, theirs, action="hide", note="No")
    assert response.status_code == 404
    assert "told at another centre: it is reviewed there" in text(response)
    response = review(lucia, "no-such-story", action="approve")
    assert response.status_code == 404 and "is not here" in text(response)
    assert snapshot(db) == before


def test_only_facilitators_review(app, client, db, people, waiting):
    villager = signed_in(app, people["villager"])
    assert villager.get("/stories/review").status_code == 403
    before = snapshot(db)
    response = villager.post(f"/stories/{waiting}/review",
                             data={"action": "approve", "csrf_token": SignIn(villager).token()})
    assert response.status_code == 403
    assert client.get("/stories/review").status_code == 302
    assert snapshot(db) == before


# A village's archive.


def test_a_thousand_stories_still_make_a_small_quick_index(app, client, db, centre, people):
    by = people["facilitator"]
    villages = ["Urcuquí", "Ibarra", "Cotacachi", "Peguche", "Ilumán"]
    with writing(db):
        for n in range(1000):
            make_story(db, centre, by=by, title=f"Historia {n:04}", village=villages[n % 5],
                       when=str(1940 + n % 80), tags=f"tema{n % 30}, agua",
                       transcript=f"Recuerdo número {n} del pueblo de {villages[n % 5]}")
    started = time.perf_counter()
    page = text(client.get("/stories"))
    searched = text(client.get("/stories?q=pueblo+urcuqui&tag=agua&page=3"))
    elapsed = time.perf_counter() - started
    assert "1,000 stories" in page and len(titles_on(page)) == 24
    assert "200 stories" in searched and len(titles_on(searched)) == 24
    assert len(page) < 150_000  # cards and facets, not the whole archive
    print(f"index and a search of 1,000 stories: {elapsed * 1000:.0f} ms")
    assert elapsed < 20  # a sanity bound on a shared machine, not a measure
