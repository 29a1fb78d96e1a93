"""manage.py rebuild_search_index: every record's search entry written again from the record.

For a database whose index is in doubt (rows written by hand or by a tool that bypassed the
application); the application keeps the index in step by itself otherwise."""

from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS

from records.search.backends import install
from records.search.index import rebuild


class Command(BaseCommand):
    help = "Rebuilds the search index (one entry per record of every type) from the records."

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, database, **options):
        install(database)  # the text indexes and delete triggers, should they be missing
        counts = rebuild(using=database)
        total = sum(counts.values())
        detail = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()) if count)
        self.stdout.write(f"Search index rebuilt: {total} entries ({detail or 'no records'}).")
