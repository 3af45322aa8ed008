"""Many new rows of one model in one go: PostgreSQL's COPY FROM (a scan's 5,000 reports in a fraction of what
INSERT … VALUES costs to build and parse), `bulk_create` on other databases."""

import io
import json

from django.db import connection, models

TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def insert(model: type[models.Model], rows: list[dict]) -> None:
    """Insert new rows of `model`, each a dict by field attname (`scan_id`, not `scan`); a missing field takes its
    default. No model instances are built on PostgreSQL: for thousands of rows their construction is what costs."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], batch_size=2000)
        return
    fields = [field for field in model._meta.concrete_fields if not isinstance(field, models.AutoField)]
    converters = [(field.attname, field.get_default(), _converter(field)) for field in fields]
    buffer = io.StringIO()
    for row in rows:
        values = [row.get(name, default) for name, default, _ in converters]
        buffer.write("\t".join("\\N" if value is None else convert(value)
                                for value, (_, _, convert) in zip(values, converters, strict=True)) + "\n")
    buffer.seek(0)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN",
                                  buffer)


def _converter(field: models.Field):
    """How a value of `field` is written in COPY's text format."""
    if isinstance(field, models.JSONField):
        return lambda value: json.dumps(value, cls=field.encoder).translate(TEXT_ESCAPES)
    if isinstance(field, models.BooleanField):
        return lambda value: "t" if value else "f"
    if isinstance(field, models.FloatField | models.IntegerField | models.ForeignKey | models.DateTimeField):
        return str  # numbers, keys and aware datetimes need no escaping
    return lambda value: str(value).translate(TEXT_ESCAPES)
