"""SELECTs whose rows come back as one JSON array each, for the release morning's hot reads.

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
A column whose values JSON would not carry back exactly (decimals, bytes, ``sa.Enum``, JSON) is
refused when the statement is built, i.e. at import.

``read_together`` sends several such reads in one round trip on MySQL (a multi-statement query,
which the engine's connections allow: see config.py); MariaDB runs them one after another as it
would separately, each seeing what is committed when it starts. Each round trip costs the
release morning's group leader its place at the GIL: the hold group's three reads in one made its
transaction ~25 % shorter in wall time.
"""

import json
from collections import namedtuple
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

_FROM_TEXT = {datetime: datetime.fromisoformat, date: date.fromisoformat, time: time.fromisoformat}


def _python_type(column_type):
    try:
        return column_type.python_type
    except NotImplementedError:
        return None


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
    parse = bool if python_type is bool else _FROM_TEXT.get(python_type)
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
        self._compiled = {}  # per dialect name: the compiled statement, its bind processors
        for column_type in self._types:  # refuse what cannot be packed, at import
            _converter(column_type, None)

    def rows_from(self, dialect, texts) -> list:
        """The rows of this read from its packed values, as ``rows`` gives them."""
        converters = self._converters_for(dialect)
        make = self._row._make
        return [
            make(
                value if convert is None else convert(value)
                for convert, value in zip(converters, json.loads(text), strict=True)
            )
            for (text,) in texts
        ]

    def rows(self, connection, params) -> list:
        return self.rows_from(connection.dialect, connection.execute(self.statement, params))

    def sql(self, dialect, params, mogrify) -> str:
        """This read's SQL for ``dialect`` with ``params`` in it as an execution of the statement
        would send it: each value through its type's bind processing, then written into the
        text by ``mogrify`` (the driver's cursor's, which escapes as its ``execute`` does)."""
        compiled, processors = self._compiled.get(dialect.name) or self._compile(dialect)
        expanded = compiled.construct_expanded_state(params, escape_names=False)
        processors = {**processors, **expanded.processors}  # with those of IN lists' items
        values = {
            name: processors[name](value) if name in processors else value
            for name, value in expanded.parameters.items()
        }
        if expanded.positiontup is not None:  # a driver of positional parameters
            values = tuple(values[name] for name in expanded.positiontup)
        return mogrify(expanded.statement, values)

    def _compile(self, dialect):
        compiled = self.statement.compile(dialect=dialect)
        processors = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        self._compiled[dialect.name] = (compiled, processors)
        return self._compiled[dialect.name]

    def _converters_for(self, dialect):
        converters = self._converters.get(dialect.name)
        if converters is None:
            converters = [_converter(column_type, dialect) for column_type in self._types]
            self._converters[dialect.name] = converters
        return converters


def read_together(connection, reads) -> list[list]:
    """The rows of each ``(packed_select, params)`` of ``reads``, in order, on ``connection`` in
    its transaction: in one round trip on MySQL, one read after another elsewhere."""
    dialect = connection.dialect
    if dialect.name != "mysql" or len(reads) < 2:
        return [packed.rows(connection, params) for packed, params in reads]
    driver_connection = connection.connection.dbapi_connection
    with driver_connection.cursor() as writer:
        sql = ";\n".join(packed.sql(dialect, params, writer.mogrify) for packed, params in reads)
    # no_parameters: the values are in the text, which the driver must not format again.
    result = connection.exec_driver_sql(sql, execution_options={"no_parameters": True})
    cursor = result.cursor
    try:
        found = [reads[0][0].rows_from(dialect, cursor.fetchall())]
        for packed, _ in reads[1:]:
            # The driver raises a later statement's error here, past SQLAlchemy: a lost
            # connection must not go back to the pool.
            try:
                more = cursor.nextset()
            except dialect.loaded_dbapi.Error as error:
                if dialect.is_disconnect(error, driver_connection, cursor):
                    connection.invalidate(error)
                raise
            if not more:
                raise RuntimeError("MySQL answered fewer result sets than statements sent")
            found.append(packed.rows_from(dialect, cursor.fetchall()))
        return found
    finally:
        result.close()  # and with it the cursor, which reads any result left
