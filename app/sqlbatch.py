"""Several statements in one round trip to MySQL, for the release morning's hold group.

A hold group's transaction is the only place where a process's holds wait for each other, one
group after another, and every round trip to MySQL costs its leader its place at the GIL: the
leader drops it to wait for the answer and gets it back only when the threads that took it let
go. Traced on the release-morning benchmark (2 cores, 2 × 16 threads), a group's seven round
trips took 15–35 ms of wall time for 3–5 ms of its own CPU. Sending the three reads of its rules
together, and its writes together, makes them three (reads, free numbers, writes) and the commit.

On MySQL the statements go as one query of several (``CLIENT.MULTI_STATEMENTS``, which
``allow_batches`` adds to the engine's connections beside SQLAlchemy's own flags). MariaDB runs
them in order, exactly as if they came one by one: each sees what is committed when it starts
(READ COMMITTED), a lock taken by one is held for the next, and the first that fails ends the
query; its error is raised here, wrapped as SQLAlchemy wraps any other, so callers catch
``sqlalchemy.exc.IntegrityError`` as usual. Each statement's SQL is what an execution of it would
send: its values through their types' bind processing, then written into the text by pymysql's
own ``mogrify`` (pymysql always writes the values into the query text; it has no server-side
parameters), so nothing is escaped differently. Elsewhere (SQLite, which ``make run`` uses by
default) the statements run one after another.
"""

import re

import sqlalchemy as sa
from pymysql.constants import CLIENT
from sqlalchemy import event, exc


def allow_batches(engine):
    """Let the engine's MySQL connections take a query of several statements (nothing else
    changes for a query of one). Flags ORed into SQLAlchemy's own (FOUND_ROWS, which the ORM
    needs to see an UPDATE that changed nothing as a match)."""
    if engine.dialect.name != "mysql":
        return

    @event.listens_for(engine, "do_connect")
    def multi_statements(dialect, record, cargs, cparams):
        cparams["client_flag"] = cparams.get("client_flag", 0) | CLIENT.MULTI_STATEMENTS


# Per dialect name and statement: the statement, compiled, and its bind processors. Meant for
# prebuilt statements (module constants); a few hundred at most are kept.
_compiled: dict[tuple[str, int], tuple] = {}
_COMPILED_KEPT = 256


def _sql(statement, params, dialect, mogrify) -> str:
    """The SQL an execution of ``statement`` with ``params`` would send: each value through its
    type's bind processing, then written into the text by the driver's ``mogrify``."""
    key = (dialect.name, id(statement))
    found = _compiled.get(key)
    if found is None or found[0] is not statement:
        compiled = statement.compile(dialect=dialect)
        if len(_compiled) >= _COMPILED_KEPT:
            _compiled.clear()
        found = _compiled[key] = (statement, compiled, _bind_processors(compiled, dialect))
    _, compiled, processors = found
    expanded = compiled.construct_expanded_state(params, escape_names=False)
    processors = {**processors, **expanded.processors}  # with those of IN lists' items
    values = {
        name: processors[name](value) if name in processors else value
        for name, value in expanded.parameters.items()
    }
    if expanded.positiontup is not None:  # a driver of positional parameters
        values = tuple(values[name] for name in expanded.positiontup)
    return mogrify(expanded.statement, values)


def _bind_processors(compiled, dialect) -> dict:
    processors = {}
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
    return processors


class _Statement:
    """A Core statement and its parameters, to run together with others."""

    __slots__ = ("params", "statement")

    def __init__(self, statement, params):
        self.statement, self.params = statement, params

    def sql(self, dialect, mogrify) -> str:
        return _sql(self.statement, self.params, dialect, mogrify)

    def execute(self, connection):
        return connection.execute(self.statement, self.params)


class InsertRows:
    """``INSERT … VALUES (…), (…) … RETURNING`` of ``keys`` for any number of rows.

    Sent together with other statements, its SQL is the one-row statement's, compiled once,
    with one VALUES tuple per row (each row's values through the same bind processing and
    ``mogrify``), as SQLAlchemy's own "insertmanyvalues" writes a batch: a statement compiled
    per row count cost 5–15 ms of CPU the first time, in the middle of a release morning.
    Elsewhere it is SQLAlchemy's insert of several rows with RETURNING in their order.
    """

    def __init__(self, table: sa.Table, keys, returning):
        self.keys = tuple(keys)
        self.one_row = (
            sa.insert(table)
            .values({key: sa.bindparam(f"v_{key}", type_=table.c[key].type) for key in self.keys})
            .returning(*returning)
        )
        self.many = sa.insert(table).returning(*returning, sort_by_parameter_order=True)
        self._parts = {}  # per dialect name: (head, one row's VALUES, tail, bind processors)

    def of(self, rows: list[dict]) -> "_InsertedRows":
        """What inserts ``rows`` (dicts of ``keys``), for ``run_together``."""
        return _InsertedRows(self, rows)

    def parts(self, dialect):
        parts = self._parts.get(dialect.name)
        if parts is None:
            compiled = self.one_row.compile(dialect=dialect)
            head, values, tail = re.fullmatch(
                r"(INSERT INTO .+?) VALUES (\(.+\)) (RETURNING .+)", compiled.string, re.DOTALL
            ).groups()
            unknown = set(compiled.binds) - {f"v_{key}" for key in self.keys}
            if unknown:  # a column default's value, which only an execution would make
                raise TypeError(f"InsertRows needs every column with a default: {unknown}")
            processors = _bind_processors(compiled, dialect)
            parts = self._parts[dialect.name] = (head, values, tail, processors)
        return parts


class _InsertedRows:
    __slots__ = ("insert", "rows")

    def __init__(self, insert: InsertRows, rows):
        self.insert, self.rows = insert, rows

    def sql(self, dialect, mogrify) -> str:
        head, values, tail, processors = self.insert.parts(dialect)
        rendered = []
        for row in self.rows:
            processed = {}
            for key in self.insert.keys:
                name, value = f"v_{key}", row[key]
                processed[name] = processors[name](value) if name in processors else value
            rendered.append(mogrify(values, processed))
        return f"{head} VALUES {', '.join(rendered)} {tail}"

    def execute(self, connection):
        return connection.execute(self.insert.many, self.rows)


def run_together(connection, statements) -> list:
    """Run each of ``statements`` — ``(statement, params)`` or ``InsertRows.of(rows)`` — in
    order on ``connection``, in its transaction; per statement, its rows (plain tuples) if it
    returns rows, else its row count. Rows come as the driver gives them, without the column
    types' result processing: for columns that need none (integers, text; a PackedSelect's one
    packed column, which its ``rows_from`` converts).

    In one round trip on MySQL, where the first statement must return rows (SQLAlchemy closes
    the cursor of a result without any, and with it the results that follow).
    """
    items = [item if isinstance(item, _InsertedRows) else _Statement(*item) for item in statements]
    dialect = connection.dialect
    if dialect.name != "mysql" or len(items) < 2:
        found = []
        for item in items:
            result = item.execute(connection)
            found.append([tuple(row) for row in result] if result.returns_rows else result.rowcount)
        return found
    driver_connection = connection.connection.dbapi_connection
    with driver_connection.cursor() as writer:
        sql = ";\n".join(item.sql(dialect, writer.mogrify) for item in items)
    # no_parameters: the values are in the text, which the driver must not format again.
    result = connection.exec_driver_sql(sql, execution_options={"no_parameters": True})
    cursor = result.cursor
    if cursor is None:
        raise ValueError("the first statement sent together must return rows")
    try:
        found = [cursor.fetchall()]
        for _ in items[1:]:
            # The driver raises a later statement's error here, past SQLAlchemy: wrapped as it
            # would be, and a lost connection must not go back to the pool.
            try:
                more = cursor.nextset()
            except dialect.loaded_dbapi.Error as error:
                lost = dialect.is_disconnect(error, driver_connection, cursor)
                if lost:
                    connection.invalidate(error)
                raise exc.DBAPIError.instance(
                    sql,
                    None,
                    error,
                    dialect.loaded_dbapi.Error,
                    hide_parameters=True,
                    connection_invalidated=lost,
                    dialect=dialect,
                ) from error
            if not more:
                raise RuntimeError("MySQL answered fewer results than statements sent")
            found.append(list(cursor.fetchall()) if cursor.description else cursor.rowcount)
        return [list(found[0]), *found[1:]]
    finally:
        result.close()  # and with it the cursor, which reads any result left
