"""PostgreSQL's fast path for an upload batch: the batch's JSON text goes to the server as it came and one statement
parses it (once, as jsonb), checks it the way ingest.store does and upserts every table, then moves the position —
no Python object per row, two round trips a batch. Measured by bench/journal_upload.py: building a dict and a COPY
line per row in Python, then staging tables, cost more than all of PostgreSQL's work on the rows.

Each table is described as data: its columns, where each comes from in the terminal's row, which must be whole
numbers >= 0, the unique key and the columns a later change (a higher change_seq) may overwrite."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import psycopg


@dataclass(frozen=True)
class Column:
    """A stored column: its SQL type in the batch's rows, the row key it is read from, whether it must be >= 0."""

    name: str
    type: str
    key: str = ""  # the terminal row's key ("" = the same as name)
    counted: bool = False  # a whole number >= 0 (identifiers, amounts, counts)

    @property
    def source(self) -> str:
        """The terminal row's key."""
        return self.key or self.name

    @property
    def stored(self) -> str:
        """The column of the batch's rows (the recordset) that holds the value to store."""
        return f"{self.source}__object" if self.type == "object" else self.source


# A JSON object the terminal journals as text (or sends decoded; missing or null: empty), as jsonb.
_OBJECT = ("CASE WHEN \"{0}\" IS NULL OR jsonb_typeof(\"{0}\") = 'null' THEN CAST('{{}}' AS jsonb) "
           "WHEN jsonb_typeof(\"{0}\") = 'string' THEN CAST(\"{0}\" #>> '{{}}' AS jsonb) ELSE \"{0}\" END")


@dataclass(frozen=True)
class TableSpec:
    """One journal table as the batch fills it."""

    table: str  # the service's table
    rows: str  # the batch's key for its rows
    columns: tuple[Column, ...]
    unique: tuple[str, ...]
    updates: tuple[str, ...] = ()  # overwritten by a later change of the same row


def _c(name: str, kind: str = "text", key: str = "", counted: bool = False) -> Column:
    return Column(name, kind, key, counted)


_SEQ = _c("change_seq", "bigint", counted=True)
OPERATIONS = TableSpec("journal_operations", "operations", (
    _c("operation", "bigint", counted=True), _c("op_key", key="idempotency_key"), _c("state"), _c("provider"),
    _c("account"), _c("currency"), _c("cash", "bigint", counted=True), _c("fee", "bigint"),
    _c("credited", "bigint"), _c("created_at"), _c("committed_at"), _c("finished_at"), _c("commit_reason"),
    _c("gateway"), _c("external_id"), _c("attempts", "integer", counted=True), _c("last_outcome"),
    _c("attention_reason"), _c("receipt_status"), _c("offline", "boolean"), _c("fields", "object"),
    _c("details", "object"), _SEQ),
    ("terminal_id", "operation", "op_key"),
    ("state", "provider", "account", "cash", "fee", "credited", "committed_at", "finished_at", "commit_reason",
     "gateway", "external_id", "attempts", "last_outcome", "attention_reason", "receipt_status", "fields", "details",
     "change_seq"))
CHILDREN = (
    TableSpec("journal_bills", "bills", (
        _c("op_key"), _c("local_id", "bigint", "id", True), _c("denomination", "bigint", counted=True),
        _c("validator"), _c("stacked_at"), _c("encashment", "bigint"), _SEQ),
        ("terminal_id", "op_key", "local_id"), ("encashment",)),
    TableSpec("journal_attempts", "attempts", (
        _c("op_key"), _c("local_id", "bigint", "id", True), _c("gateway"), _c("verb"), _c("started_at"),
        _c("finished_at"), _c("outcome"), _c("code"), _c("message"), _c("external_id"), _c("session"), _SEQ),
        ("terminal_id", "op_key", "local_id"), ("finished_at", "outcome", "code", "message", "external_id", "session")),
    TableSpec("journal_incidents", "incidents", (
        _c("local_id", "bigint", "id", True), _c("at"), _c("kind"), _c("operation", "bigint"), _c("op_key"),
        _c("detail"), _c("amount", "bigint"), _SEQ),
        ("terminal_id", "local_id", "at")),
    TableSpec("journal_encashments", "encashments", (
        _c("local_id", "bigint", "id", True), _c("closed_at"), _c("reason"), _c("counts"),
        _c("total", "bigint", counted=True), _c("bill_count", "integer", counted=True), _c("cassette_counts"),
        _c("difference"), _SEQ),
        ("terminal_id", "local_id", "closed_at")),
)

# A time the terminal wrote ends with its zone (Z or ±hh:mm): PostgreSQL would otherwise read it in its own zone.
_ZONED = r"(Z|[+-]\d\d(:?\d\d)?)$"
_WHOLE = r"^[0-9]{1,19}$"  # a whole number >= 0 as JSON writes it (past 2**63 the cast refuses it)
MAX_ROWS = 20_000

# The terminal's position row, created or locked until the transaction ends (a resend racing its original waits).
POSITION = ("INSERT INTO journal_positions (terminal_id, acknowledged, rows, updated_at) "
            "VALUES (%(terminal_id)s, 0, 0, %(now)s) ON CONFLICT (terminal_id) "
            "DO UPDATE SET terminal_id = EXCLUDED.terminal_id RETURNING acknowledged")


@dataclass(frozen=True)
class Outcome:
    """What the statement did: `status` 200 (stored, or `resend` when the terminal is ahead of what is held), or the
    HTTP status of a refusal and its `reason`."""

    status: int
    reason: str = ""
    last: int = 0
    count: int = 0
    resend: bool = False


def _rows(spec: TableSpec) -> str:
    return f"COALESCE(doc.d -> 'rows' -> '{spec.rows}', '[]'::jsonb)"


def _recordset(spec: TableSpec) -> str:
    """The batch's rows of one table as typed columns: read only when the header is sound and the batch is next
    (one call for every row: a call per row costs ten times as much)."""
    fields = ", ".join(f'"{c.source}" {"jsonb" if c.type == "object" else c.type}' for c in spec.columns)
    objects = "".join(f', {_OBJECT.format(c.source)} AS "{c.stored}"' for c in spec.columns if c.type == "object")
    return f"SELECT r.*{objects} FROM doc, go, jsonb_to_recordset({_rows(spec)}) AS r({fields})"


def _faults(spec: TableSpec) -> str:
    """The first fault of one table's rows (a counted number below 0, a sequence outside the batch), or none."""
    cases = [f"WHEN \"{c.source}\" < 0 THEN '{spec.rows}: {c.source} below 0'" for c in spec.columns if c.counted]
    cases.append("WHEN change_seq <= go.after OR change_seq > go.last THEN "
                 "'a row''s change sequence is outside the batch'")
    if spec is OPERATIONS:
        cases.append(f"WHEN created_at !~ '{_ZONED}' THEN 'operations: a time without its zone'")
    cases.extend(f"WHEN jsonb_typeof(\"{c.stored}\") <> 'object' THEN '{spec.rows}: {c.source} is not a JSON object'"
                 for c in spec.columns if c.type == "object")
    cases.extend(f"WHEN \"{c.source}\" IS NULL THEN '{spec.rows}: a row lacks {c.source}'" for c in spec.columns
                 if c.name in spec.unique)
    return f"SELECT CASE {' '.join(cases)} END AS fault FROM {spec.rows}, go"


def _insert(spec: TableSpec, fixed: dict[str, str]) -> str:
    """INSERT … SELECT from the recordset, ON CONFLICT: a later change wins, a repeat changes nothing."""
    names = [*fixed, *(c.name for c in spec.columns)]
    values = [*fixed.values(), *(f'CAST("{c.stored}" AS text)' if c.type == "object" else f'"{c.source}"'
                                 for c in spec.columns)]
    if spec.updates:
        changes = ", ".join(f"{c} = EXCLUDED.{c}" for c in spec.updates)
        conflict = f"DO UPDATE SET {changes} WHERE {spec.table}.change_seq < EXCLUDED.change_seq"
    else:
        conflict = "DO NOTHING"
    return (f"INSERT INTO {spec.table} ({', '.join(names)}) SELECT {', '.join(values)} FROM {spec.rows} "
            f"WHERE NOT EXISTS (SELECT 1 FROM faults) ON CONFLICT ({', '.join(spec.unique)}) {conflict}")


_HEAD = f"""head AS (SELECT CASE
    WHEN jsonb_typeof(d) <> 'object' THEN 'expected a JSON object'
    WHEN d -> 'format' IS DISTINCT FROM '1' THEN 'format ' || COALESCE(d ->> 'format', 'none') || ', this service reads 1'
    WHEN d ->> 'terminal' IS DISTINCT FROM %(number)s THEN
        'journal batch of terminal ' || COALESCE(d ->> 'terminal', 'none') || ' sent as terminal ' || %(number)s
    WHEN jsonb_typeof(d -> 'after') IS DISTINCT FROM 'number' OR d ->> 'after' !~ '{_WHOLE}' THEN
        'after must be a whole number >= 0'
    WHEN jsonb_typeof(d -> 'last') IS DISTINCT FROM 'number' OR d ->> 'last' !~ '{_WHOLE}' THEN
        'last must be a whole number >= 0'
    WHEN jsonb_typeof(d -> 'rows') IS DISTINCT FROM 'object' OR EXISTS (
        SELECT 1 FROM jsonb_each(CASE jsonb_typeof(d -> 'rows') WHEN 'object' THEN d -> 'rows' ELSE '{{}}' END) AS t
        WHERE jsonb_typeof(t.value) <> 'array') THEN 'rows must map a table name to a list of rows'
    END AS fault FROM doc),
sizes AS (SELECT
    CASE WHEN head.fault IS NULL THEN CAST(d ->> 'after' AS bigint) END AS after,
    CASE WHEN head.fault IS NULL THEN CAST(d ->> 'last' AS bigint) END AS last,
    CASE WHEN head.fault IS NULL THEN (SELECT COALESCE(SUM(jsonb_array_length(t.value)), 0)
                                       FROM jsonb_each(d -> 'rows') AS t) END AS count
    FROM doc, head),
go AS (SELECT after, last FROM sizes, head WHERE head.fault IS NULL AND count <= {MAX_ROWS} AND after <= %(held)s)"""


@cache
def batch_statement() -> str:
    """The statement that checks and stores a batch (psycopg parameters: document, number, held, dealer_id,
    terminal_id, now): its one row is the header's fault, the row count, `after`, `last`, and the rows' first fault."""
    parts = ["doc AS (SELECT CAST(%(document)s AS jsonb) AS d)", _HEAD,
             *(f"{s.rows} AS ({_recordset(s)})" for s in (OPERATIONS, *CHILDREN))]
    faults = " UNION ALL ".join(f"({_faults(s)})" for s in (OPERATIONS, *CHILDREN))
    parts.append(f"faults AS (SELECT fault FROM ({faults}) AS f WHERE fault IS NOT NULL LIMIT 1)")
    fixed = {"terminal_id": "%(terminal_id)s"}
    parts.append("operation_rows AS (" + _insert(OPERATIONS, {
        "dealer_id": "%(dealer_id)s", **fixed, "created_utc": "CAST(created_at AS timestamptz)",
        "received_at": "%(now)s"}) + ")")
    # every version as the terminal sent it (the story page reads each one's whole row)
    parts.append("versions AS (INSERT INTO journal_operation_versions (terminal_id, op_key, change_seq, state, record, "
                 "received_at) SELECT %(terminal_id)s, e ->> 'idempotency_key', CAST(e ->> 'change_seq' AS bigint), "
                 f"e ->> 'state', CAST(e AS text), %(now)s FROM doc, go, jsonb_array_elements({_rows(OPERATIONS)}) "
                 "AS e WHERE NOT EXISTS (SELECT 1 FROM faults) "
                 "ON CONFLICT (terminal_id, op_key, change_seq) DO NOTHING)")
    parts.extend(f"{s.rows}_rows AS ({_insert(s, fixed)})" for s in CHILDREN)
    parts.append("moved AS (UPDATE journal_positions SET acknowledged = go.last, rows = journal_positions.rows + "
                 "sizes.count, updated_at = %(now)s FROM go, sizes WHERE terminal_id = %(terminal_id)s "
                 "AND NOT EXISTS (SELECT 1 FROM faults))")
    return ("WITH " + ",\n".join(parts) +
            "\nSELECT head.fault, sizes.count, sizes.after, sizes.last, (SELECT fault FROM faults) FROM head, sizes")


def store_text(connection: psycopg.Connection[Any], document: bytes, *, number: str, dealer_id: int,
               terminal_id: int, now: datetime) -> Outcome:
    """Check and store a batch (its JSON text as received) from terminal `number` in the connection's transaction;
    the outcome. A refused batch stores nothing (the caller rolls back)."""
    params: dict[str, Any] = {"terminal_id": terminal_id, "now": now}
    try:
        with connection.cursor() as cursor:
            row = cursor.execute(POSITION, params, prepare=True).fetchone()
            assert row is not None
            held = int(row[0])
            params |= {"document": document.decode(), "number": number, "held": held, "dealer_id": dealer_id}
            found = cursor.execute(batch_statement(), params, prepare=True).fetchone()
            assert found is not None
    except psycopg.Error as exc:
        # the batch's fault: JSON that does not parse (22), a value of the wrong type or a text longer than its column
        # (22), a missing value (23), one row twice in a batch (21). Anything else (the database) is the service's.
        if (exc.sqlstate or "")[:2] not in ("21", "22", "23"):
            raise
        return Outcome(400, str(exc).splitlines()[0])
    head, count, after, last, fault = found
    if head is not None:
        return Outcome(400, head)
    if count > MAX_ROWS:
        return Outcome(413, f"journal batch of {count} rows; at most {MAX_ROWS}")
    if after > held:
        return Outcome(200, last=held, resend=True)  # the terminal thinks we hold more than we do
    if fault is not None:
        return Outcome(400, fault)
    return Outcome(200, last=int(last), count=int(count))
