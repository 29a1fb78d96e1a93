"""Search: the database's text indexes over the search entries (FTS5 on SQLite; full-text
and, where the pg_trgm extension can be created, trigram GIN indexes on PostgreSQL), the
triggers that drop a deleted record's entry, and an entry for every record already there,
so that an upgraded database is searchable at once.

The structures are built by records.search.backends.install(), which every later `migrate`
runs again (idempotent): without pg_trgm this migration logs a warning and carries on.
"""

from django.db import migrations


def build(apps, schema_editor):
    from django.apps import apps as current_apps

    from records.search.backends import install
    from records.search.index import BATCH, entry_values

    alias = schema_editor.connection.alias
    install(alias)
    SearchEntry = apps.get_model("records", "SearchEntry")
    for model in current_apps.get_app_config("records").get_models():
        kind = getattr(model, "kind", None)
        if kind is None:
            continue
        # The rows as this migration's state knows them; the kind (naming, searched fields)
        # from the code, keeping the fields this state has.
        historical = apps.get_model(model._meta.app_label, model._meta.model_name)
        present = {field.name for field in historical._meta.concrete_fields}
        fields = [f for f in ("patient", "tags", kind.title, *kind.text, kind.date) if f in present]
        if kind.title not in present:
            continue
        batch = []
        for row in historical._base_manager.using(alias).only(*fields).iterator(chunk_size=BATCH):
            batch.append(SearchEntry(**entry_values(kind, row)))
            if len(batch) >= BATCH:
                SearchEntry.objects.using(alias).bulk_create(batch, ignore_conflicts=True)
                batch = []
        SearchEntry.objects.using(alias).bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0014_search_tags_reports"),
    ]

    operations = [
        migrations.RunPython(build, migrations.RunPython.noop, elidable=True),
    ]
