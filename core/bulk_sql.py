"""Bulk writes that the ORM makes slower than the work they record (hot paths only).

On PostgreSQL each call is one statement over `unnest` of column arrays, bound on the server in binary:
Django's bulk_create and bulk_update bind on the client, quoting every value of every row into the SQL text
(and bulk_update builds a CASE per field and row), which costs more than the processing around them at
batch sizes. Other databases get the ORM's own bulk operations. Table and column names come from the
model, never from input; values are parameters.
"""

import json

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import JSONField
from django.utils import timezone

# Cast targets for the arrays: text for every string column (the column's own length check then applies on
# assignment, where a cast to varchar(n) would cut the value silently), jsonb travels as text.
_TEXT_TYPES = ("varchar", "char", "text")


def _array_type(field) -> str:
    if isinstance(field, JSONField):
        return "text"
    db_type = field.cast_db_type(connection)
    return "text" if db_type.split("(")[0] in _TEXT_TYPES else db_type


_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def json_text(value, encoder: type[json.JSONEncoder] | None = None) -> str:
    """`value` as JSON text, as `json.dumps` with `encoder` writes it for a jsonb column (what it does not know
    goes to the encoder's `default`: Decimal and datetime as Django's encoder writes them), in a fraction of
    the time; what orjson cannot write (an integer beyond 64 bits) falls back to `json.dumps`."""
    encoder = encoder or DjangoJSONEncoder
    try:
        return orjson.dumps(value, default=encoder().default, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(value, cls=encoder, separators=(",", ":"), ensure_ascii=False)


def _json_texts(field, values: list) -> list:
    """The values as bound: JSON as its text (cast to jsonb in the statement), others as they are."""
    if not isinstance(field, JSONField):
        return values
    encoder = field.encoder
    return [None if value is None else json_text(value, encoder) for value in values]


def _select_value(field, name: str) -> str:
    return f"{name}::jsonb" if isinstance(field, JSONField) else name


def _bind(fields: list, columns: list[list], *, arrays_needed: bool) -> tuple[list[str], list[str], list]:
    """How the statement gets each field's values: (SQL value expression per field, the unnest array
    declarations, the parameters: scalars first, then arrays). A column with the same value in every row
    (a chunk's source, status, processing time) is bound once as a scalar instead of as an array of copies;
    `arrays_needed` keeps at least one array, which gives the statement its rows."""
    exprs, arrays, scalars, array_params = [], [], [], []
    for field, values in zip(fields, columns, strict=True):
        values = _json_texts(field, values)
        first = values[0]
        kind = type(first)
        if not (arrays_needed and not arrays and field is fields[-1]) and all(
            v is first or (type(v) is kind and v == first) for v in values
        ):
            exprs.append(_select_value(field, f"%b::{_array_type(field)}"))
            scalars.append(first)
        else:
            exprs.append(_select_value(field, f"u.c{len(arrays)}"))
            arrays.append(f"%b::{_array_type(field)}[]")
            array_params.append(values)
    return exprs, arrays, scalars + array_params


def run_bound(sql: str, params: list) -> list[tuple]:
    """Run one statement with its parameters bound on the server (`%b` for binary) and return its rows."""
    import psycopg

    connection.ensure_connection()
    # Django's cursor wrapper (query logging, error translation) around a server-binding psycopg cursor.
    with connection._prepare_cursor(psycopg.Cursor(connection.connection)) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def columns_insert(*, model, columns: dict[str, list], skip_conflicts: bool = False) -> list:
    """INSERT rows given column by column (attname → one value per row; the columns not given take their
    defaults, `auto_now_add` the time of the call) in one statement; returns the new primary keys, in order.
    A constraint violation raises IntegrityError and writes none of the rows, unless `skip_conflicts`: then
    the rows that conflict are skipped (after waiting for a concurrent writer of the same key) and the keys
    returned are those of the rows written."""
    count = len(next(iter(columns.values())))
    if not count:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    now = timezone.now()

    def default(field):
        return (
            now if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) else field.get_default()
        )

    if connection.vendor != "postgresql":
        given = [f for f in fields if f.attname in columns]
        defaults = {f.attname: default(f) for f in fields if f.attname not in columns}
        objects = [model(**defaults, **{f.attname: columns[f.attname][i] for f in given}) for i in range(count)]
        model.objects.bulk_create(objects, ignore_conflicts=skip_conflicts)
        return [] if skip_conflicts else [obj.pk for obj in objects]
    quote = connection.ops.quote_name
    values = [columns[f.attname] if f.attname in columns else [default(f)] * count for f in fields]
    exprs, arrays, params = _bind(fields, values, arrays_needed=True)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"SELECT {', '.join(exprs)} FROM unnest({', '.join(arrays)}) WITH ORDINALITY "
        f"AS u({', '.join(f'c{i}' for i in range(len(arrays)))}, n) ORDER BY u.n "
        f"{'ON CONFLICT DO NOTHING ' if skip_conflicts else ''}RETURNING {quote(model._meta.pk.column)}"
    )
    return [pk for (pk,) in run_bound(sql, params)]


def rows_update(*, model, rows: list, field_names: list[str] | tuple[str, ...]) -> None:
    """Write `field_names` of each row (model objects, by primary key) in one statement."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk
    if connection.vendor != "postgresql":
        assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
        params = [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk] for row in rows]
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {quote(pk.column)} = %s", params)  # noqa: S608
        return
    exprs, arrays, params = _bind(
        fields, [[row.__dict__[f.attname] for row in rows] for f in fields], arrays_needed=False
    )
    assignments = ", ".join(f"{quote(f.column)} = {expr}" for f, expr in zip(fields, exprs, strict=True))
    names = ", ".join(["pk", *(f"c{i}" for i in range(len(arrays)))])
    sql = (
        f"UPDATE {table} AS t SET {assignments} "  # noqa: S608
        f"FROM unnest({', '.join([f'%b::{_array_type(pk)}[]', *arrays])}) AS u({names}) "
        f"WHERE t.{quote(pk.column)} = u.pk"
    )
    # The scalars come first in the statement (SET), the arrays after them (FROM), the ids first of those.
    scalar_count = len(params) - len(arrays)
    run_bound(sql, [*params[:scalar_count], [row.pk for row in rows], *params[scalar_count:]])
