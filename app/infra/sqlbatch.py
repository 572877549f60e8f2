"""Several statements in one round trip to MySQL, for the release morning's hold group.

A hold group's transaction is the only place where a process's holds wait for each other, one
group after another, and every round trip to MySQL costs its leader its place at the GIL: the
leader drops it to wait for the answer and gets it back only when the threads that took it let
go, so a group's round trips take several times its own CPU in wall time. Sending the three
reads of its rules together, and its writes together, makes them three (reads, free numbers,
writes) and the commit.

On MySQL the statements go as one query of several (``CLIENT.MULTI_STATEMENTS``), on an engine
of their own: ``register`` makes it beside the app's (same database and options, a small pool)
and only its connections have the flag, so everywhere else MariaDB itself refuses a text of
several statements, and ``connection()`` gives the hold group the session's connection to it
(one session, one transaction, committed as any other). MariaDB runs
them in order, exactly as if they came one by one: each sees what is committed when it starts
(READ COMMITTED), a lock taken by one is held for the next, and the first that fails ends the
query; its error is raised here, wrapped as SQLAlchemy wraps any other, so callers catch
``sqlalchemy.exc.IntegrityError`` as usual. Each statement's SQL is what an execution of it with
the values given would send: the values through their types' bind processing, then written into
the text by pymysql's own ``mogrify`` (pymysql always writes the values into the query text; it
has no server-side parameters), so nothing is escaped differently. A statement that an
execution would complete itself (a column's Python-side default or ``onupdate``) or whose
parameter names SQLAlchemy would have to escape is refused, as is a batch whose first statement
returns no rows. Elsewhere (SQLite, which ``make run`` uses by default) the statements run one
after another.

On that engine, any other SQL text with a ``;`` in it is refused before it is sent
(SQLAlchemy's statements never have one; their values are not in the text yet): MySQL would run
each statement of such a text and report only the first one's outcome.
"""

import re

import sqlalchemy as sa
from flask import current_app
from pymysql.constants import CLIENT
from sqlalchemy import event, exc

from app.extensions import db
from app.infra import database

_BATCH = "sqlbatch"  # the execution option that marks a batch of run_together
_ENGINE = "sqlbatch_engine"  # where the app keeps the engine of batches
# Connections of the batch engine per process: one group at a time leads in a process, and a
# hold that runs alone after its group failed may overlap the next group.
_POOL_SIZE = 4


def register(app):
    """On MySQL, make the app's engine of batches (see the module's docstring); elsewhere the
    statements of a batch run one by one on the app's own engine."""
    main = db.engine
    if main.dialect.name != "mysql":
        return
    options = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_size": _POOL_SIZE}
    options["max_overflow"] = _POOL_SIZE
    engine = sa.create_engine(main.url, **options)
    database.tune_pool(engine)
    allow_batches(engine)
    app.extensions[_ENGINE] = engine


def engine() -> sa.Engine:
    """The engine that ``connection()`` connects to."""
    return current_app.extensions.get(_ENGINE, db.engine)


def connection():
    """The session's connection for statements sent together, in the session's transaction: to
    the engine of batches where there is one, else the session's usual connection."""
    batches = engine()
    # A session bound to a connection of its own (a test's rolled-back transaction) keeps it.
    if batches is db.engine or db.session.get_bind() is not db.engine:
        return db.session.connection()
    return db.session.connection(bind_arguments={"bind": batches})


def takes_batches(sa_connection) -> bool:
    """Whether this connection's server runs a query of several statements."""
    if sa_connection.dialect.name != "mysql":
        return False
    return bool(sa_connection.connection.dbapi_connection.client_flag & CLIENT.MULTI_STATEMENTS)


def allow_batches(engine):
    """Let the engine's MySQL connections take a query of several statements, from
    ``run_together`` only. Flags ORed into SQLAlchemy's own (FOUND_ROWS, which the ORM needs to
    see an UPDATE that changed nothing as a match)."""

    @event.listens_for(engine, "do_connect")
    def multi_statements(dialect, record, cargs, cparams):
        cparams["client_flag"] = cparams.get("client_flag", 0) | CLIENT.MULTI_STATEMENTS

    @event.listens_for(engine, "before_cursor_execute")
    def one_statement_unless_batched(connection, cursor, statement, parameters, context, many):
        if ";" in statement and not (context and context.execution_options.get(_BATCH)):
            raise exc.ArgumentError(
                "one statement per execution: several go together through app.infra.sqlbatch"
            )


# Per statement: the statement, the dialect, the statement compiled for it and its bind
# processors. Meant for prebuilt statements (module constants); a few hundred at most are kept.
_compiled: dict[int, tuple] = {}
_COMPILED_KEPT = 256


def _compile(statement, dialect):
    """The statement compiled for ``dialect`` and its bind processors, for writing its SQL
    ourselves; TypeError for a statement an execution would have to complete."""
    found = _compiled.get(id(statement))
    if found is None or found[0] is not statement or found[1] is not dialect:
        compiled = statement.compile(dialect=dialect)
        if compiled.insert_prefetch or compiled.update_prefetch:
            # Values (a Python-side default, an onupdate) that only an execution makes.
            raise TypeError("a statement sent together must be given every value it writes")
        if compiled.escaped_bind_names:
            raise TypeError("a statement sent together needs plain parameter names")
        if len(_compiled) >= _COMPILED_KEPT:
            _compiled.clear()
        found = (statement, dialect, compiled, _bind_processors(compiled, dialect))
        _compiled[id(statement)] = found
    return found[2], found[3]


def _bind_processors(compiled, dialect) -> dict:
    processors = {}
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
    return processors


def _written(text, values: dict, positions, mogrify) -> str:
    """``text`` with ``values`` written in by ``mogrify``, by name or in ``positions``' order."""
    if positions is not None:  # a driver of positional parameters
        return mogrify(text, tuple(values[name] for name in positions))
    return mogrify(text, values)


class _Statement:
    """A Core statement and its parameters, to run together with others."""

    __slots__ = ("params", "statement")

    def __init__(self, statement, params):
        self.statement, self.params = statement, params

    def returns_rows(self, dialect) -> bool:
        compiled = _compile(self.statement, dialect)[0]
        return self.statement.is_select or bool(compiled.returning or compiled.implicit_returning)

    def sql(self, dialect, mogrify) -> str:
        compiled, processors = _compile(self.statement, dialect)
        expanded = compiled.construct_expanded_state(self.params, escape_names=False)
        processors = {**processors, **expanded.processors}  # with those of IN lists' items
        values = {
            name: processors[name](value) if name in processors else value
            for name, value in expanded.parameters.items()
        }
        return _written(expanded.statement, values, expanded.positiontup, mogrify)

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
        self._names = {key: f"v_{key}" for key in keys}  # each value's parameter
        self.one_row = (
            sa.insert(table)
            .values(
                {
                    key: sa.bindparam(name, type_=table.c[key].type)
                    for key, name in self._names.items()
                }
            )
            .returning(*returning)
        )
        self.many = sa.insert(table).returning(*returning, sort_by_parameter_order=True)
        self._parts = None  # (the dialect, its parts): worked out once, not at every batch

    def of(self, rows: list[dict]) -> "_InsertedRows":
        """What inserts ``rows`` (dicts of ``keys``), for ``run_together``."""
        return _InsertedRows(self, rows)

    def parts(self, dialect):
        """The SQL before the VALUES, one row's VALUES, the SQL after them; each value's key,
        parameter and bind processor (or None); the order of positional parameters (None when
        named)."""
        if self._parts is None or self._parts[0] is not dialect:
            compiled, processors = _compile(self.one_row, dialect)
            head, values, tail = re.fullmatch(
                r"(INSERT INTO .+?) VALUES (\(.+\)) (RETURNING .+)", compiled.string, re.DOTALL
            ).groups()
            fields = tuple((key, name, processors.get(name)) for key, name in self._names.items())
            self._parts = (dialect, (head, values, tail, fields, compiled.positiontup))
        return self._parts[1]


class _InsertedRows:
    __slots__ = ("insert", "rows")

    def __init__(self, insert: InsertRows, rows):
        self.insert, self.rows = insert, rows

    def returns_rows(self, dialect) -> bool:
        return True

    def sql(self, dialect, mogrify) -> str:
        head, values, tail, fields, positions = self.insert.parts(dialect)
        rendered = []
        for row in self.rows:
            processed = {
                name: row[key] if process is None else process(row[key])
                for key, name, process in fields
            }
            rendered.append(_written(values, processed, positions, mogrify))
        return f"{head} VALUES {', '.join(rendered)} {tail}"

    def execute(self, connection):
        return connection.execute(self.insert.many, self.rows)


def run_together(connection, statements) -> list:
    """Run each of ``statements`` — ``(statement, params)`` or ``InsertRows.of(rows)`` — in
    order on ``connection``, in its transaction; per statement, its rows (plain tuples) if it
    returns rows, else its row count. Rows come as the driver gives them, without the column
    types' result processing: for columns that need none (integers, text; a PackedSelect's one
    packed column, which its ``rows_from`` converts).

    In one round trip on a connection of the engine of batches (``connection()``), where the
    first statement must return rows (SQLAlchemy closes the cursor of a result without any, and
    with it the results that follow); one by one on any other.
    """
    items = [item if isinstance(item, _InsertedRows) else _Statement(*item) for item in statements]
    dialect = connection.dialect
    if len(items) < 2 or not takes_batches(connection):
        found = []
        for item in items:
            result = item.execute(connection)
            found.append([tuple(row) for row in result] if result.returns_rows else result.rowcount)
        return found
    if not items[0].returns_rows(dialect):
        raise ValueError("the first statement sent together must return rows")
    driver_connection = connection.connection.dbapi_connection
    with driver_connection.cursor() as writer:
        sql = ";\n".join(item.sql(dialect, writer.mogrify) for item in items)
    # no_parameters: the values are in the text, which the driver must not format again.
    options = {"no_parameters": True, _BATCH: True}
    result = connection.exec_driver_sql(sql, execution_options=options)
    cursor = result.cursor
    try:
        found = [list(cursor.fetchall())]
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
                    hide_parameters=connection.engine.hide_parameters,
                    connection_invalidated=lost,
                    dialect=dialect,
                ) from error
            if not more:
                raise RuntimeError("MySQL answered fewer results than statements sent")
            found.append(list(cursor.fetchall()) if cursor.description else cursor.rowcount)
        return found
    finally:
        result.close()  # and with it the cursor, which reads any result left
