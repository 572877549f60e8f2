"""SELECTs whose rows come back as one JSON array each, for the release morning's hot reads.

pymysql is pure Python, and for every result it parses one column definition per column (six
length-coded strings and a struct each), then every value of every row. A hold group reads ~45
columns in four statements, and on the release morning that parsing is a large share of the CPU
of the group's transaction, which runs one group after another in each process. Asking the server
for ``JSON_ARRAY(<the columns>)`` instead costs one column definition and one value per row,
decoded by the C JSON parser; MariaDB and SQLite both have the function.

The rows are what the plain statement gives: each value is turned back into its column type's
Python type (dates, times and datetimes from their ISO text, booleans from 0/1) and then through
the type's own ``process_result_value`` when it is a TypeDecorator (aware UTC datetimes, enums).
tests/integration/test_packed_reads.py holds the two equal, value and type, on MariaDB and SQLite.
A column whose values JSON would not carry back exactly (decimals, bytes, ``sa.Enum``, JSON) is
refused when the statement is built, i.e. at import. ``read_together`` sends several reads in one
round trip on MySQL (app/infra/sqlbatch.py).
"""

import json
from collections import namedtuple
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from app.infra.sqlbatch import run_together

_FROM_TEXT = {datetime: datetime.fromisoformat, date: date.fromisoformat, time: time.fromisoformat}


def _python_type(column_type):
    try:
        return column_type.python_type
    except NotImplementedError:
        return None


def _boolean(value) -> bool:
    """A packed boolean: JSON's true or false, 1 or 0 (a boolean column), or the text "1" or "0"
    (MariaDB packs a condition such as EXISTS so)."""
    return value not in (0, "0")


# What JSON gives back exactly: numbers (no decimals), text, and the ISO text of dates and times.
_PACKABLE = {int, str, bool, *_FROM_TEXT}


def _converter(column_type, dialect):
    """value from JSON → the value the plain statement's row holds, or None for as-is."""
    decorator = column_type if isinstance(column_type, TypeDecorator) else None
    impl = decorator.impl_instance if decorator is not None else column_type
    python_type = _python_type(impl)
    if python_type not in _PACKABLE or isinstance(impl, sa.Enum | sa.JSON):
        # Decimals would come back as floats, bytes not at all, enums and JSON unconverted.
        raise TypeError(f"a {column_type!r} column cannot be packed")
    parse = _boolean if python_type is bool else _FROM_TEXT.get(python_type)
    if decorator is not None and (
        type(decorator).process_result_value is TypeDecorator.process_result_value
    ):
        decorator = None  # no conversion of its own on the way out
    if decorator is None:
        if parse is None:
            return None
        return lambda value: None if value is None else parse(value)
    if parse is None:
        return lambda value: decorator.process_result_value(value, dialect)
    return lambda value: decorator.process_result_value(
        None if value is None else parse(value), dialect
    )


class PackedSelect:
    """A Core SELECT run as ``SELECT JSON_ARRAY(<its columns>) …`` (same FROM, WHERE, ORDER BY
    and locking); ``rows(connection, params)`` gives named tuples keyed as its columns."""

    def __init__(self, select: sa.Select):
        columns = list(select.selected_columns)
        self.plain = select
        self.statement = select.with_only_columns(sa.func.json_array(*columns))
        self._types = [column.type for column in columns]
        self._row = namedtuple("PackedRow", [column.key for column in columns])
        self._converters = {}  # per dialect name
        for column_type in self._types:  # refuse what cannot be packed, at import
            _converter(column_type, None)

    def rows(self, connection, params) -> list:
        return self.rows_from(connection.dialect, connection.execute(self.statement, params))

    def rows_from(self, dialect, results) -> list:
        """The rows from this statement's raw results (one packed value each)."""
        converting = self._converters_for(dialect)
        make = self._row._make  # refuses a row of another length
        rows = []
        for (text,) in results:
            values = json.loads(text)
            for index, convert in converting:
                values[index] = convert(values[index])
            rows.append(make(values))
        return rows

    def _converters_for(self, dialect) -> list:
        """(index, converter) of the columns whose JSON value needs converting: most need none."""
        converting = self._converters.get(dialect.name)
        if converting is None:
            converting = [
                (index, convert)
                for index, column_type in enumerate(self._types)
                if (convert := _converter(column_type, dialect)) is not None
            ]
            self._converters[dialect.name] = converting
        return converting


def read_together(connection, reads) -> list[list]:
    """The rows of each ``(packed_select, params)`` of ``reads``, in order, on ``connection`` in
    its transaction: in one round trip on MySQL (app/infra/sqlbatch.py)."""
    found = run_together(connection, [(packed.statement, params) for packed, params in reads])
    return [
        packed.rows_from(connection.dialect, rows)
        for (packed, _), rows in zip(reads, found, strict=True)
    ]
