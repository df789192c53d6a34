"""Bulk writes that the ORM makes slower than the work they record (hot paths only)."""

from django.db import connection


def rows_update(*, model, rows: list, field_names: list[str] | tuple[str, ...]) -> None:
    """Write `field_names` of each row (by primary key) with one prepared UPDATE run for every row
    (executemany). Django's bulk_update builds a CASE per field and row, which costs more than the
    processing around it at batch sizes."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    table = connection.ops.quote_name(model._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    params = [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk] for row in rows]
    with connection.cursor() as cursor:
        # Table and column names come from the model, never from input.
        cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", params)  # noqa: S608
