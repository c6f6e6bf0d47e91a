"""The search's name keys for existing rows, and on PostgreSQL a trigram index on the
letters form (institutions.search.jamo).

CREATE EXTENSION needs a privileged role: where the extension is missing and cannot be
created, the index is skipped and the search falls back to a scan (institutions.selectors
asks the database which it has). The name key is computed here with a copy of the rule in
institutions/search.py, as migrations never import app code.
"""

import re
import unicodedata

from django.db import migrations

_SPACES = re.compile(r"\s+")
_IGNORED = re.compile(r"[()\[\]·.,\-_/'\"]")


def fill_name_keys(apps, schema_editor):
    Institution = apps.get_model("institutions", "Institution")
    rows = list(Institution.objects.only("pk", "name"))
    for row in rows:
        row.name_key = _IGNORED.sub("", _SPACES.sub("", row.name or "")).lower()
        row.name_jamo = unicodedata.normalize("NFD", row.name_key)
    Institution.objects.bulk_update(rows, ["name_key", "name_jamo"], batch_size=2000)


def add_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
            if cursor.fetchone() is None:
                return
            try:
                cursor.execute("SAVEPOINT trgm")
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cursor.execute("RELEASE SAVEPOINT trgm")
            except Exception:  # no privilege: the search falls back to a scan
                cursor.execute("ROLLBACK TO SAVEPOINT trgm")
                return
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS institution_name_jamo_trgm "
            "ON institutions_institution USING gin (name_jamo gin_trgm_ops)"
        )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS institution_name_jamo_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ("institutions", "0006_institution_registry"),
    ]

    operations = [
        migrations.RunPython(fill_name_keys, migrations.RunPython.noop),
        migrations.RunPython(add_trigram_index, drop_trigram_index),
    ]
