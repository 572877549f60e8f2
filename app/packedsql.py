"""Hot reads and writes with their rows packed in JSON, for the release morning.

pymysql is pure Python, and for every result it parses one column definition per column (six
length-coded strings and a struct each), then every value of every row. A hold group reads ~45
columns in four statements, and on the release morning that parsing was a quarter of the CPU of
the group's transaction, which runs one group after another in each process. Asking the server
for ``JSON_ARRAY(<the columns>)`` instead costs one column definition and one value per row,
decoded by the C JSON parser; MariaDB and SQLite both have the function.

The rows are what the plain statement gives: each value is turned back into its column type's
Python type (dates, times and datetimes from their ISO text, booleans from 0/1) and then through
the type's own ``process_result_value`` when it is a TypeDecorator (aware UTC datetimes, enums).
tests/integration/test_packed_reads.py holds the two equal, value and type, on MariaDB and SQLite.

The same goes for a multi-row INSERT: pymysql escapes each of its values in Python (~25 per
order). On MariaDB (and MySQL 8) ``PackedInsert`` sends the rows as one JSON document, which
``JSON_TABLE`` expands server-side: one value to escape. Elsewhere (SQLite) it is SQLAlchemy's
multi-row INSERT.
"""

import json
from collections import namedtuple
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

_JSON_TABLE_DIALECTS = {"mysql"}  # SQLAlchemy's name for MariaDB and MySQL

_FROM_TEXT = {datetime: datetime.fromisoformat, date: date.fromisoformat, time: time.fromisoformat}


def _python_type(column_type):
    try:
        return column_type.python_type
    except NotImplementedError:
        return None


def _converter(column_type, dialect):
    """value from JSON → the value the plain statement's row holds, or None for as-is."""
    decorator = column_type if isinstance(column_type, TypeDecorator) else None
    impl = decorator.impl_instance if decorator is not None else column_type
    python_type = _python_type(impl)
    parse = bool if python_type is bool else _FROM_TEXT.get(python_type)
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

    def rows(self, connection, params) -> list:
        converters = self._converters_for(connection.dialect)
        make = self._row._make
        return [
            make(
                value if convert is None else convert(value)
                for convert, value in zip(converters, json.loads(text), strict=True)
            )
            for (text,) in connection.execute(self.statement, params)
        ]

    def _converters_for(self, dialect):
        converters = self._converters.get(dialect.name)
        if converters is None:
            converters = [_converter(column_type, dialect) for column_type in self._types]
            self._converters[dialect.name] = converters
        return converters


class PackedInsert:
    """``INSERT INTO <table> (<columns>)`` of many rows, answering the new ids in row order."""

    def __init__(self, table: sa.Table, columns: list[str], id_column: str = "id"):
        self.table, self.columns, self.id_column = table, list(columns), id_column
        self._fallback = sa.insert(table).returning(
            table.c[id_column], sort_by_parameter_order=True
        )
        self._prepared = {}  # per dialect name: (statement, bind processors)

    def insert(self, connection, rows: list[dict]) -> list:
        """Insert ``rows`` (column → value, as for the table's own INSERT); their ids."""
        dialect = connection.dialect
        if dialect.name not in _JSON_TABLE_DIALECTS:
            return connection.execute(self._fallback, rows).scalars().all()
        statement, processors = self._prepare(dialect)
        packed = [
            [
                _json_value(value if bind is None else bind(value))
                for bind, value in zip(
                    processors, (row[column] for column in self.columns), strict=True
                )
            ]
            for row in rows
        ]
        # ORDER BY the document's order: the ids are given in that order, so sorted they are
        # the rows' (whatever order RETURNING lists them in).
        ids = connection.execute(statement, {"rows": json.dumps(packed)}).scalars().all()
        if len(ids) != len(rows):
            raise RuntimeError(f"{len(rows)} rows inserted as {len(ids)}")
        return sorted(ids)

    def _prepare(self, dialect):
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            quote = dialect.identifier_preparer.quote
            table_columns = [self.table.c[key] for key in self.columns]
            names = ", ".join(quote(column.name) for column in table_columns)
            paths = ", ".join(
                f"{quote(column.name)} {column.type.compile(dialect=dialect)} PATH '$[{index}]'"
                for index, column in enumerate(table_columns)
            )
            # Built from the table's own metadata (names quoted by the dialect), never from data.
            sql = (
                f"INSERT INTO {quote(self.table.name)} ({names}) "  # noqa: S608
                f"SELECT {names} FROM JSON_TABLE(:rows, '$[*]' COLUMNS "
                f"(packed_row_number FOR ORDINALITY, {paths})) AS packed_rows "
                f"ORDER BY packed_row_number "
                f"RETURNING {quote(self.table.c[self.id_column].name)}"
            )
            statement = sa.text(sql)
            processors = [column.type.bind_processor(dialect) for column in table_columns]
            prepared = self._prepared[dialect.name] = (statement, processors)
        return prepared


def _json_value(value):
    """A bound value as JSON_TABLE reads it back into its column type."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime | date | time):
        return str(value)  # "2026-11-22 08:00:00", "2026-11-22", "08:00:00"
    return value
