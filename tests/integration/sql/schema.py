"""What a real database's schema looks like, as plain comparable values: reflect a database into a
``Schema`` with ``describe`` (or ``reflect`` for an async engine), compare two with ``compare``.

Each table is described by its columns (type as the database reports it, nullability, server
default), primary key, foreign keys, unique constraints, CHECK constraints (name and SQL text),
indexes (columns, uniqueness, partial condition) and any dialect options the database reports.
Column order is not compared (``ALTER TABLE ADD COLUMN`` appends, ``tables.py`` need not).

SQL texts (CHECK constraints, partial-index conditions, server defaults) are compared after
``normalise_sql``: SQLite hands back the text it was given, PostgreSQL its own rendering, so
whitespace, quoting of identifiers, letter case outside string literals, casts (``::text``,
``::character varying[]``), grouping parentheses and PostgreSQL's ``= ANY (ARRAY[...])`` /
``<> ALL (ARRAY[...])`` forms of ``IN`` / ``NOT IN`` lists are normalised away. What is left is the
sequence of identifiers, literals, operators and function calls, so any change of a value, an
operator or a name shows. Blind spot: two expressions that differ only in their grouping
(``(a OR b) AND c`` against ``a OR (b AND c)``) compare equal.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# table -> aspect ("column", "primary key", "foreign key", "unique", "check", "index") -> name -> value
TableShape = dict[str, dict[str, object]]
Schema = dict[str, TableShape]

ASPECTS = ("column", "primary key", "foreign key", "unique", "check", "index")
BOOKKEEPING_TABLES = frozenset({"alembic_version"})


class ColumnShape(NamedTuple):
    type: str
    nullable: bool
    default: str | None
    extra: tuple[tuple[str, str], ...] = ()  # comment, computed, identity when the database has them


class ForeignKeyShape(NamedTuple):
    columns: tuple[str, ...]
    referred_schema: str | None
    referred_table: str
    referred_columns: tuple[str, ...]
    options: tuple[tuple[str, str], ...] = ()  # ondelete, onupdate, deferrable, ...


class KeyShape(NamedTuple):
    """A primary key or a unique constraint."""

    columns: tuple[str, ...]
    options: tuple[tuple[str, str], ...] = ()


class IndexShape(NamedTuple):
    columns: tuple[str, ...]
    unique: bool
    where: str  # the partial index's condition, normalised; "" for a full index
    options: tuple[tuple[str, str], ...] = ()  # column sorting, INCLUDE columns, USING, ...


class Difference(NamedTuple):
    table: str
    aspect: str  # "table" when the table itself is on one side only
    name: str
    left: object  # None: absent on the left
    right: object  # None: absent on the right

    def __str__(self) -> str:
        return self.describe()

    def describe(self, left: str = "left", right: str = "right") -> str:
        where = f"{self.table}: {self.aspect} {self.name}" if self.aspect != "table" else f"table {self.table}"
        if self.left is None:
            return f"{where}: only in {right}: {self.right}"
        if self.right is None:
            return f"{where}: only in {left}: {self.left}"
        width = max(len(left), len(right)) + 1
        return f"{where}:\n    {left + ':':<{width}} {self.left}\n    {right + ':':<{width}} {self.right}"


# ---------------------------------------------------------------------------------------------
# SQL text


_TOKEN = re.compile(
    r"""
      (?P<string>'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")*")
    | (?P<cast>::)
    | (?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<operator><>|!=|>=|<=|\|\||[-+*/%=<>.,()\[\]])
    | (?P<space>\s+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
# Words that may follow the first word of a type name in a cast (character varying, double
# precision, timestamp with time zone, bit varying, ...).
_TYPE_WORDS = frozenset({"varying", "precision", "with", "without", "time", "zone"})
_NUMERIC_TYPES = frozenset(
    {"smallint", "integer", "int", "int2", "int4", "int8", "bigint", "numeric", "decimal", "real", "double", "float"}
)
# Keywords: a "(" after one opens a group or a list, not a call's arguments; a "-" after one is a sign.
_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "any", "all", "some", "exists", "is", "like", "ilike", "between", "when", "then"}
    | {"else", "case", "array", "values", "on", "where", "select", "from", "as"}
)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind == "space":
            continue
        if kind == "word":
            value = value.lower()  # unquoted identifiers and keywords are case-insensitive
        elif kind == "quoted":
            value = value[1:-1].replace('""', '"')
        elif value == "!=":
            value = "<>"
        if (
            kind == "number"
            and tokens
            and tokens[-1] in ("-", "+")
            and (len(tokens) == 1 or not _ends_operand(tokens[-2]))
        ):
            value = tokens.pop().replace("+", "") + value  # a signed number, not a subtraction
        tokens.append(value)
    return tokens


def _ends_operand(token: str) -> bool:
    """Whether ``token`` can end an operand (so a following ``-`` is a subtraction)."""
    return (
        token in (")", "]") or _is_string(token) or (bool(re.fullmatch(r"[\w$.]+", token)) and token not in _KEYWORDS)
    )


def _is_string(token: str) -> bool:
    return len(token) >= 2 and token[0] == token[-1] == "'"


def _without_casts(tokens: list[str]) -> list[str]:
    """Drops ``::type`` (``::text``, ``::character varying(32)[]``, ...). A numeric string cast to a
    number (``'-1'::integer``) becomes the number."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] != "::":
            out.append(tokens[i])
            i += 1
            continue
        i += 1
        type_name = tokens[i] if i < len(tokens) else ""
        i += 1
        while i < len(tokens) and tokens[i] in _TYPE_WORDS:
            i += 1
        if i < len(tokens) and tokens[i] == "(":  # a length or precision
            while i < len(tokens) and tokens[i] != ")":
                i += 1
            i += 1
        while i + 1 < len(tokens) and tokens[i] == "[" and tokens[i + 1] == "]":
            i += 2
        if out and _is_string(out[-1]) and type_name in _NUMERIC_TYPES and _NUMBER.fullmatch(out[-1][1:-1]):
            out[-1] = out[-1][1:-1]
    return out


def _without_grouping(tokens: list[str]) -> list[str]:
    """Drops every parenthesis except a function call's."""
    out: list[str] = []
    calls: list[bool] = []  # per open parenthesis: is it a function call's?
    for i, token in enumerate(tokens):
        if token == "(":
            previous = tokens[i - 1] if i else ""
            call = bool(re.fullmatch(r"[a-z_][a-z0-9_$]*", previous)) and previous not in _KEYWORDS
            calls.append(call)
            if call:
                out.append(token)
        elif token == ")" and calls:
            if calls.pop():
                out.append(token)
        else:
            out.append(token)
    return out


def _array_lists_as_in(tokens: list[str]) -> list[str]:
    """``x = ANY ARRAY [a, b]`` -> ``x IN a, b``; ``x <> ALL ARRAY [a, b]`` -> ``x NOT IN a, b``;
    then a one-value list ``x IN a`` -> ``x = a`` (PostgreSQL's form of a one-value IN)."""
    out: list[str] = []
    open_arrays: list[bool] = []  # per "[": was it rewritten (so its "]" goes too)?
    i = 0
    while i < len(tokens):
        window = tokens[i : i + 4]
        if window[1:] == ["any", "array", "["] and window[0] in ("=", "<>"):
            out.extend(["in"] if window[0] == "=" else ["not", "in"])
            open_arrays.append(True)
            i += 4
            continue
        if window[1:] == ["all", "array", "["] and window[0] == "<>":
            out.extend(["not", "in"])
            open_arrays.append(True)
            i += 4
            continue
        token = tokens[i]
        if token == "[":
            open_arrays.append(False)
        elif token == "]" and open_arrays and open_arrays.pop():
            i += 1
            continue
        out.append(token)
        i += 1
    for i, token in enumerate(out):
        if token == "in" and i + 1 < len(out) and (i + 2 >= len(out) or out[i + 2] != ","):
            if i and out[i - 1] == "not":
                out[i - 1 : i + 1] = ["<>", ""]
            else:
                out[i] = "="
    return [token for token in out if token]


def normalise_sql(text: object, *, numeric_strings: bool = False) -> str:
    """A canonical form of a SQL expression (see the module's docstring); ``""`` for none.
    ``numeric_strings``: a string literal holding a number is that number (for server defaults:
    SQLite keeps ``DEFAULT '0'`` as written and converts it by the column's affinity)."""
    if text is None:
        return ""
    tokens = _array_lists_as_in(_without_grouping(_without_casts(_tokens(str(text)))))
    if numeric_strings:
        tokens = [t[1:-1] if _is_string(t) and _NUMBER.fullmatch(t[1:-1]) else t for t in tokens]
    return " ".join(tokens).replace(" ,", ",").replace(" (", "(").replace("( ", "(").replace(" )", ")")


# ---------------------------------------------------------------------------------------------
# Reflection


def _options(values: Mapping[str, Any] | None, skip: Collection[str] = ()) -> tuple[tuple[str, str], ...]:
    """The options a database reported, without empty ones (PostgreSQL reports an empty
    ``postgresql_include`` for every index)."""
    if not values:
        return ()
    return tuple(sorted((key, str(value)) for key, value in values.items() if key not in skip and value))


def _columns(names: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(name if name is not None else "<expression>" for name in names)


def _unnamed(prefix: str, detail: object) -> str:
    return f"<unnamed {prefix} {detail}>"


def _type(column: Mapping[str, Any], dialect: sa.Dialect) -> str:
    try:
        return str(column["type"].compile(dialect=dialect))
    except sa.exc.CompileError:
        return repr(column["type"])


def describe_table(inspector: sa.Inspector, table: str) -> TableShape:
    dialect = inspector.dialect
    shape: TableShape = {aspect: {} for aspect in ASPECTS}

    for column in inspector.get_columns(table):
        extra = _options({key: column.get(key) for key in ("comment", "computed", "identity")})
        shape["column"][column["name"]] = ColumnShape(
            type=_type(column, dialect),
            nullable=bool(column["nullable"]),
            default=normalise_sql(column.get("default"), numeric_strings=True) or None,
            extra=extra,
        )

    pk = inspector.get_pk_constraint(table)
    if pk and pk.get("constrained_columns"):
        columns = tuple(pk["constrained_columns"])
        shape["primary key"][pk.get("name") or _unnamed("primary key", columns)] = KeyShape(
            columns, _options(pk.get("dialect_options"))
        )

    for fk in inspector.get_foreign_keys(table):
        columns = tuple(fk["constrained_columns"])
        shape["foreign key"][fk.get("name") or _unnamed("foreign key", columns)] = ForeignKeyShape(
            columns=columns,
            referred_schema=fk.get("referred_schema"),
            referred_table=fk["referred_table"],
            referred_columns=tuple(fk["referred_columns"]),
            options=_options(fk.get("options")),
        )

    for unique in inspector.get_unique_constraints(table):
        columns = _columns(unique["column_names"])
        shape["unique"][unique.get("name") or _unnamed("unique", columns)] = KeyShape(
            columns, _options(unique.get("dialect_options"))
        )

    for check in inspector.get_check_constraints(table):
        text = normalise_sql(check["sqltext"])
        shape["check"][check.get("name") or _unnamed("check", text)] = text

    for index in inspector.get_indexes(table):
        if index.get("duplicates_constraint"):
            continue  # PostgreSQL lists a unique constraint's index as well
        options = dict(index.get("dialect_options") or {})
        where = options.pop(f"{dialect.name}_where", None)
        expressions = index.get("expressions")
        columns = _columns(index["column_names"]) if not expressions else tuple(normalise_sql(e) for e in expressions)
        index_options = {
            **options,
            "column_sorting": index.get("column_sorting"),
            "include_columns": index.get("include_columns"),
        }
        name = index.get("name") or _unnamed("index", columns)
        shape["index"][name] = IndexShape(
            columns=columns, unique=bool(index["unique"]), where=normalise_sql(where), options=_options(index_options)
        )
    return shape


def describe(connection: Connection, *, exclude: Collection[str] = BOOKKEEPING_TABLES) -> Schema:
    """Every table of the connection's (default) schema but ``exclude``, described."""
    inspector = sa.inspect(connection)
    return {
        table: describe_table(inspector, table) for table in sorted(inspector.get_table_names()) if table not in exclude
    }


async def reflect(engine: AsyncEngine, *, exclude: Collection[str] = BOOKKEEPING_TABLES) -> Schema:
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: describe(sync, exclude=exclude))


def compare(left: Schema, right: Schema) -> list[Difference]:
    """Everything in which two schemas differ, in a stable order; ``[]`` when they are equal."""
    differences: list[Difference] = []
    for table in sorted(left.keys() | right.keys()):
        if table not in left or table not in right:
            differences.append(Difference(table, "table", table, left.get(table), right.get(table)))
            continue
        for aspect in ASPECTS:
            ours, theirs = left[table].get(aspect, {}), right[table].get(aspect, {})
            for name in sorted(ours.keys() | theirs.keys()):
                if ours.get(name) != theirs.get(name):
                    differences.append(Difference(table, aspect, name, ours.get(name), theirs.get(name)))
    return differences


def explain(differences: Iterable[Difference], left: str = "left", right: str = "right") -> str:
    """The differences, one per paragraph, for an assertion message; ``left`` and ``right`` name
    the two sides."""
    return "\n".join(difference.describe(left, right) for difference in differences) or "no differences"
