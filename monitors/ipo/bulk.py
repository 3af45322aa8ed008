"""Bulk reads and writes of many rows: chunked `IN` lists, and a fast multi-row UPDATE on PostgreSQL."""

from django.db import connection, models

CHUNK = 500  # ids per `IN (…)`: well under SQLite's variable limit


def chunks(items: list, size: int = CHUNK):
    """`items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def bulk_save(model, objects: list, fields: list[str], batch_size: int = 200) -> None:
    """Save `fields` of many rows. On PostgreSQL one `UPDATE … FROM (VALUES …)` per batch (Django's bulk_update
    builds a CASE per field and row, slower than row by row); elsewhere row by row."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        for obj in objects:
            models.Model.save(obj, update_fields=fields)
        return
    columns = [model._meta.get_field(name) for name in fields]
    table = connection.ops.quote_name(model._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(c.column)} = v.{connection.ops.quote_name(c.column)}"
                            for c in columns)
    names = ", ".join(["id", *(connection.ops.quote_name(c.column) for c in columns)])
    row = "(" + ", ".join(["%s::bigint", *(f"%s::{c.db_type(connection)}" for c in columns)]) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(objects), batch_size):
            batch = objects[start:start + batch_size]
            params = []
            for obj in batch:
                params.append(obj.pk)
                params.extend(c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns)
            cursor.execute(f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(batch))}) "
                           f"AS v({names}) WHERE {table}.id = v.id", params)
