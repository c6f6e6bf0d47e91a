import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from institutions import hira
from institutions.models import Institution
from institutions.services import institutions_import

LISTS = {"hospitals": Institution.Source.HIRA_HOSPITALS,
         "pharmacies": Institution.Source.HIRA_PHARMACIES}


class Command(BaseCommand):
    help = (
        "Import one of HIRA's 요양기관 lists (병원정보서비스 or 약국정보서비스, CSV or XLSX) into "
        "the institutions table: rows are keyed on the institution number (암호화요양기호 or "
        "요양기관기호); new ones are added, changed ones updated, institutions of the same list "
        "missing from the file are marked closed (폐업), never deleted. Each row is mapped to "
        "an institution type (종별코드), a 시도 and 시군구 (by code or name) and the health "
        "center with jurisdiction (institutions/data/jurisdiction_rules.csv where a 시군구 has "
        "several). Refused rows are listed with the reason. A field the helpdesk corrected "
        "keeps its correction and the disagreement is listed. Running it again on the same "
        "file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--list", choices=sorted(LISTS), default=None,
                            help="Which list the file is (default: pharmacies when every row's "
                                 "종별코드 is 81, else hospitals). Only institutions of this "
                                 "list are closed when missing.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Print what would change and write nothing.")
        parser.add_argument("--column", action="append", default=[], metavar="FIELD=HEADER",
                            help="Read FIELD from the column named HEADER (fields: "
                                 + ", ".join(hira.COLUMNS) + ").")
        parser.add_argument("--show", type=int, default=20,
                            help="How many rows of each kind to list (default 20; refused "
                                 "rows are always all listed).")

    def handle(self, *args, file: Path, dry_run: bool, column: list[str], show: int,
               **options):
        if not file.is_file():
            raise CommandError(f"no such file: {file}")
        overrides = {}
        for item in column:
            field, sep, header = item.partition("=")
            if not sep or field not in hira.COLUMNS:
                raise CommandError(f"--column wants FIELD=HEADER with FIELD one of "
                                   f"{', '.join(hira.COLUMNS)}: {item!r}")
            overrides[field] = header
        try:
            rows = list(hira.rows_from_table(hira.read_table(file), overrides))
        except (hira.ColumnsMissing, ValueError) as exc:
            raise CommandError(f"{file}: {exc}") from exc
        kind = options["list"] or (
            "pharmacies" if rows and all(r.category_code == "81" for r in rows) else "hospitals")
        progress = self._progress(len(rows)) if self._tty() else None
        result = institutions_import(rows=rows, source=LISTS[kind], dry_run=dry_run,
                                     file_name=file.name, progress=progress)
        if progress:
            self.stdout.write("")
        if not dry_run and (result.added or result.changed or result.closed):
            # Fresh statistics, or the search's planner misjudges the new rows; and a vacuum,
            # which marks the written pages all-visible: until then the search's index-only
            # scans visit the table for every index entry (autovacuum would come, later).
            # VACUUM runs only outside a transaction (the import's has committed; a caller's
            # own, as in the tests, gets the statistics alone).
            from django.db import connection

            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE institutions_institution"
                                   if connection.in_atomic_block
                                   else "VACUUM (ANALYZE) institutions_institution")
        self._report(result, kind, show)

    def _tty(self) -> bool:
        stream = getattr(self.stdout, "_out", self.stdout)
        return bool(getattr(stream, "isatty", lambda: False)())

    def _progress(self, total: int):
        stream = getattr(self.stdout, "_out", sys.stdout)

        def show(done: int) -> None:
            width = 30
            filled = width * done // max(total, 1)
            stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            stream.flush()

        return show

    def _report(self, result, kind: str, show: int) -> None:
        verb = "would be" if result.dry_run else "were"
        write = self.stdout.write
        for number in result.added[:show]:
            write(f"  add    {number}")
        for number, fields in result.changed[:show]:
            write(f"  change {number}: {', '.join(fields)}")
        for number in result.closed[:show]:
            write(f"  close  {number}")
        for line, number, reason in result.refused:
            write(f"  refuse line {line} {number or '-'}: {reason}")
        for number, field, listed, corrected, moved in result.kept[:show]:
            since = "; the list's value changed since the correction: check it" if moved else ""
            write(f"  keep   {number}: {field} corrected by the helpdesk to {corrected!r}, "
                  f"the list says {listed!r}{since}")
        for number, field in result.agreed[:show]:
            write(f"  agree  {number}: {field} (the list now says what the helpdesk corrected)")
        write(
            f"{'Dry run: ' if result.dry_run else ''}{result.rows} rows of the {kind} list; "
            f"{verb} added: {len(result.added)}, changed: {len(result.changed)}, "
            f"closed: {len(result.closed)}, refused: {len(result.refused)}, "
            f"unchanged: {result.unchanged}; helpdesk corrections kept: {len(result.kept)}, "
            f"now agreed by the list: {len(result.agreed)}."
        )
