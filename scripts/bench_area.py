"""An area for scripts/bench_sync.py only: three region-wide tables shaped like the suite's
listings, lessons and stories, and a seeded generator of realistic records for them.

The benchmark adds it with the AREAS setting (and this folder on PYTHONPATH); the suite itself
never loads it.
"""

from __future__ import annotations

import random
import uuid

from sqlite_utils import Migrations

from sync.engine import REGION, SyncedTable

MIGRATIONS = Migrations("bench")

SYNCED_TABLES = [
    SyncedTable("bench_listings", scope=REGION, media=("photo",)),
    SyncedTable("bench_lessons", scope=REGION),
    SyncedTable("bench_stories", scope=REGION),
]


@MIGRATIONS()
def m0001_bench_tables(db):
    db.executescript(
        """
        CREATE TABLE bench_listings (id TEXT PRIMARY KEY, centre_id TEXT NOT NULL DEFAULT '',
            title TEXT, description TEXT, price INTEGER, stock INTEGER, unit TEXT,
            updated_at TEXT, photo TEXT);
        CREATE TABLE bench_lessons (id TEXT PRIMARY KEY, centre_id TEXT NOT NULL DEFAULT '',
            course TEXT, title TEXT, body TEXT, minutes INTEGER, level TEXT);
        CREATE TABLE bench_stories (id TEXT PRIMARY KEY, centre_id TEXT NOT NULL DEFAULT '',
            teller TEXT, place TEXT, title TEXT, summary TEXT, year INTEGER);
        """
    )


PRODUCTS = ["quinua", "papa chola", "maíz morado", "queso fresco", "miel de abeja", "lana de "
            "alpaca", "chompa tejida", "café de altura", "cacao fino", "panela", "mora", "chocho",
            "habas", "melloco", "zanahoria blanca", "poncho", "shigra", "sombrero de paja",
            "mermelada de uvilla", "harina de cebada"]
ADJECTIVES = ["orgánico", "de la comunidad", "cosechado a mano", "sin químicos", "tradicional",
              "de temporada", "secado al sol", "hecho en casa", "de páramo", "recién cosechado"]
PLACES = ["Guamote", "Colta", "Otavalo", "Cotacachi", "Saquisilí", "Zumbahua", "Alausí",
          "Riobamba", "Salinas", "Cañar", "Pujilí", "Tigua", "Chimborazo", "Cayambe"]
WORDS = ("la comunidad cosecha siembra minga fiesta agua río montaña abuelo abuela camino "
         "mercado feria escuela trabajo familia tierra lluvia helada semilla maíz papa cebada "
         "animales llamas ovejas tejido música danza Inti Raymi Pawkar historia recuerdo "
         "aprender computadora correo teléfono mensaje precio venta cooperativa socios "
         "reunión acuerdo proyecto centro curso lección práctica").split()
NAMES = ["María", "Rosa", "Manuel", "José", "Tránsito", "Segundo", "Lucía", "Carmen", "Ángel",
         "Dolores", "Luis", "Pedro", "Juana", "Mercedes"]
SURNAMES = ["Quishpe", "Guamán", "Lema", "Yupanqui", "Chimbo", "Cuji", "Andrango", "Tenemaza",
            "Paucar", "Caiza", "Pilco", "Morocho", "Tacuri", "Asitimbay"]


BORN_MS = 1_780_272_000_000  # 2026-06-01: when the first seeded record is made


def row_id(rng: random.Random, born_ms: int) -> str:
    """A time-ordered UUID (version 7) as kiosk.data.new_id makes for every row born at a
    centre (DESIGN, Data), from ``rng``: rows made one after another sort one after another."""
    value = (born_ms & ((1 << 48) - 1)) << 80 | rng.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def records(count: int, centre_id: str, seed: int = 2026):
    """(table, row) pairs, about 300 bytes each as JSON, the same for the same seed."""
    rng = random.Random(seed)
    for i in range(count):
        row_id_ = row_id(rng, BORN_MS + i * 1000)  # one a second
        kind = i % 3
        if kind == 0:
            product = rng.choice(PRODUCTS)
            yield "bench_listings", {
                "id": row_id_, "centre_id": centre_id,
                "title": f"{product.capitalize()} {rng.choice(ADJECTIVES)}",
                "description": f"{product.capitalize()} de {rng.choice(PLACES)}. "
                               + sentence(rng, rng.randint(8, 14)),
                "price": rng.randint(50, 4000), "stock": rng.randint(0, 200),
                "unit": rng.choice(["libra", "kilo", "unidad", "litro", "atado"]),
                "updated_at": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"}
        elif kind == 1:
            yield "bench_lessons", {
                "id": row_id_, "centre_id": centre_id,
                "course": rng.choice(["Usar la computadora", "Seguridad en internet",
                                      "Vender en el mercado"]),
                "title": sentence(rng, rng.randint(3, 6)),
                "body": sentence(rng, rng.randint(16, 26)),
                "minutes": rng.randint(5, 40), "level": rng.choice(["inicial", "medio"])}
        else:
            yield "bench_stories", {
                "id": row_id_, "centre_id": centre_id,
                "teller": f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}",
                "place": rng.choice(PLACES), "title": sentence(rng, rng.randint(3, 6)),
                "summary": sentence(rng, rng.randint(14, 22)),
                "year": rng.randint(1950, 2026)}
