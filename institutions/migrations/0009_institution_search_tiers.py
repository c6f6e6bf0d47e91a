"""The search's letter form with a filler for a missing final consonant (institutions.search
.jamo), and on PostgreSQL the indexes that serve each tier of the search in name order.

The letter form is recomputed here with a copy of the rule in institutions/search.py, as
migrations never import app code. The btree indexes hold only open institutions, compare
the compared name byte by byte (COLLATE "C", whatever the database's collation: the order of
Hangul syllables in Unicode) and include the type and the letter form, so a page is read
from the index in order and the filters are checked there without visiting the table. SQLite has no "C" collation and needs none: its
default comparison is already byte-wise.
"""

import re

from django.db import migrations

_SPACES = re.compile(r"\s+")
_IGNORED = re.compile(r"[()\[\]·.,\-_/'\"]")


def _letters(key):
    out = []
    for ch in key:
        code = ord(ch)
        if 0xAC00 <= code <= 0xD7A3:
            index = code - 0xAC00
            final = index % 28
            out += [chr(0x1100 + index // 588), chr(0x1161 + index % 588 // 28),
                    chr(0x11A7 + final) if final else "\u1160"]
        else:
            out.append(ch)
    return "".join(out)


def fill_letters(apps, schema_editor):
    Institution = apps.get_model("institutions", "Institution")
    batch = []
    for row in Institution.objects.only("pk", "name").iterator(chunk_size=5000):
        row.name_key = _IGNORED.sub("", _SPACES.sub("", row.name or "")).lower()
        row.name_jamo = _letters(row.name_key)
        batch.append(row)
        if len(batch) == 500:  # bulk_update's CASE grows with the batch: keep it small
            Institution.objects.bulk_update(batch, ["name_key", "name_jamo"])
            batch = []
    Institution.objects.bulk_update(batch, ["name_key", "name_jamo"])


INDEXES = (
    "CREATE INDEX IF NOT EXISTS institution_open_name_idx ON institutions_institution "
    "(name_key COLLATE \"C\", id) INCLUDE (type_id, name_jamo) WHERE status = 'open'",
    "CREATE INDEX IF NOT EXISTS institution_open_region_name_idx ON institutions_institution "
    "(region_id, name_key COLLATE \"C\", id) INCLUDE (type_id, name_jamo) "
    "WHERE status = 'open'",
)
# Trigrams of syllables for queries of three or more (pg_trgm, when migration 0007 could
# create it).
TRIGRAM = ("CREATE INDEX IF NOT EXISTS institution_name_key_trgm ON institutions_institution "
           "USING gin (name_key gin_trgm_ops)")


def add_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in INDEXES:
        schema_editor.execute(sql)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is not None:
            schema_editor.execute(TRIGRAM)
    schema_editor.execute("ANALYZE institutions_institution")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS institution_open_name_idx")
        schema_editor.execute("DROP INDEX IF EXISTS institution_open_region_name_idx")
        schema_editor.execute("DROP INDEX IF EXISTS institution_name_key_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ("institutions", "0008_institution_request"),
    ]

    operations = [
        # The prefix tiers use the letter form's index now.
        migrations.RemoveIndex(model_name="institution", name="institution_name_key_idx"),
        migrations.RunPython(fill_letters, migrations.RunPython.noop),
        migrations.RunPython(add_indexes, drop_indexes),
    ]
