"""The SQL of the hot paths, written out, run on the raw drivers (sqlite3, asyncpg).

Why not SQLAlchemy here: measured on 1M customers / 10M activities (DESIGN.md), a lookup's
queries cost 45-600 us on the raw drivers, and each async hop or Core round trip adds about
as much again. So a lookup is one unit of work: on SQLite the three statements below run in
one worker-thread hop; on PostgreSQL it is one statement (sub-selects folded into arrays of
rows, which asyncpg decodes natively). The drivers prepare each text once per connection
(sqlite3's statement cache, asyncpg's prepared-statement cache).

Statements use `:name` parameters; `pg_positional()` rewrites them as `$n` for asyncpg so
the write statements, which both engines spell the same, are written once. Every value is a
bound parameter; no text from a caller is ever put into SQL.
"""
from __future__ import annotations

import functools
import re

ACTIVITY_COLUMNS = (
    "id", "kind", "occurred_at", "direction", "channel", "summary", "agent_id", "outcome",
    "disposition", "case_id",
)
CASE_COLUMNS = ("id", "subject", "status", "priority", "opened_at", "owner")
ORDER_COLUMNS = ("id", "order_number", "placed_at", "status", "total", "currency", "description")

_PROFILE_SELECT = """
SELECT c.id, c.name, c.language, c.tier, c.segment, c.lifetime_value, c.account_number,
       c.notes, c.is_lead,
       (SELECT a.agent_id FROM activities a
         WHERE a.customer_id = c.id AND a.agent_id IS NOT NULL
         ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1) AS last_agent_id,
       (SELECT count(*) FROM activities a
         WHERE a.customer_id = c.id AND a.kind = 'call' AND a.direction = 'inbound'
           AND a.occurred_at >= :since) AS calls_since"""

_RECENT_ACTIVITIES = """
SELECT id, kind, occurred_at, direction, channel, summary, agent_id, outcome, disposition, case_id
  FROM activities WHERE customer_id = :customer_id
 ORDER BY occurred_at DESC, id DESC LIMIT :activity_limit"""

_OPEN_CASES = """
SELECT id, subject, status, priority, opened_at, owner
  FROM cases WHERE customer_id = :customer_id AND closed_at IS NULL
 ORDER BY opened_at DESC, id DESC LIMIT :case_limit"""

# -- SQLite: three statements in one read transaction, one thread hop ----------------------
SQLITE_PROFILE_BY_PHONE = _PROFILE_SELECT + """
  FROM phone_numbers p JOIN customers c ON c.id = p.customer_id
 WHERE p.e164 = :e164"""
SQLITE_PROFILE_BY_ACCOUNT = _PROFILE_SELECT + """
  FROM customers c WHERE c.account_number = :account_number"""
SQLITE_RECENT_ACTIVITIES = _RECENT_ACTIVITIES
SQLITE_OPEN_CASES = _OPEN_CASES

# -- PostgreSQL: the same reads as one statement, one round trip ---------------------------
_PG_NESTED = """,
       ARRAY(SELECT ROW(a.id, a.kind, a.occurred_at, a.direction, a.channel, a.summary,
                        a.agent_id, a.outcome, a.disposition, a.case_id)
               FROM activities a WHERE a.customer_id = c.id
              ORDER BY a.occurred_at DESC, a.id DESC LIMIT :activity_limit) AS recent,
       ARRAY(SELECT ROW(k.id, k.subject, k.status, k.priority, k.opened_at, k.owner)
               FROM cases k WHERE k.customer_id = c.id AND k.closed_at IS NULL
              ORDER BY k.opened_at DESC, k.id DESC LIMIT :case_limit) AS open_cases"""
PG_LOOKUP_BY_PHONE = _PROFILE_SELECT + _PG_NESTED + """
  FROM phone_numbers p JOIN customers c ON c.id = p.customer_id
 WHERE p.e164 = :e164"""
PG_LOOKUP_BY_ACCOUNT = _PROFILE_SELECT + _PG_NESTED + """
  FROM customers c WHERE c.account_number = :account_number"""

# -- self-service -------------------------------------------------------------------------
ACCOUNT_NUMBER_OF = "SELECT account_number FROM customers WHERE id = :customer_id"
LATEST_OPEN_CASE = """
SELECT id, subject, status, priority, opened_at, owner
  FROM cases WHERE customer_id = :customer_id AND closed_at IS NULL
 ORDER BY opened_at DESC, id DESC LIMIT 1"""
RECENT_ORDERS = """
SELECT id, order_number, placed_at, status, total, currency, description
  FROM orders WHERE customer_id = :customer_id
 ORDER BY placed_at DESC, id DESC LIMIT :limit"""

# -- leads --------------------------------------------------------------------------------
CUSTOMER_OF_PHONE = "SELECT customer_id FROM phone_numbers WHERE e164 = :e164"
INSERT_LEAD = """
INSERT INTO customers (name, language, tier, lifetime_value, is_lead, created_at, updated_at)
VALUES ('', :language, 'lead', 0, :true, :now, :now) RETURNING id"""
INSERT_LEAD_PHONE = """
INSERT INTO phone_numbers (customer_id, e164, label, is_primary, created_at)
VALUES (:customer_id, :e164, 'unknown', :true, :now)
ON CONFLICT (e164) DO NOTHING RETURNING customer_id"""

# -- the activity log: idempotent by linkedid ---------------------------------------------
# A repeated write of the same call never adds a row; a later write adds what it knows
# (non-NULL values win, NULLs never erase) and never touches the agent's wrap-up columns.
#
# The customer: the one the call tracker names, unless that is a lead (the stand-in for an
# unknown caller) whose number an agent has since linked to a customer: then the number's
# owner now. And a customer already on the row (an agent linked the call to them while it was
# live, directory.py) is kept over a lead. The call tracker only knows the customer it looked
# up when the call came in, perhaps on another gateway than the agent's link: the database
# decides, when the call is written.
UPSERT_CALL_ACTIVITY = """
INSERT INTO activities (
    linkedid, kind, customer_id, occurred_at, direction, channel, summary, agent_id, outcome,
    raw_ani, e164, dnis, started_at, answered_at, ended_at, queue,
    wait_seconds, talk_seconds, hold_seconds, ivr_path, ivr_inputs, route, transfers, created_at, updated_at)
VALUES (
    :linkedid, 'call',
    COALESCE((SELECT id FROM customers WHERE id = :customer_id AND NOT is_lead),
             (SELECT customer_id FROM phone_numbers WHERE e164 = :e164),
             (SELECT id FROM customers WHERE id = :customer_id)),
    :occurred_at, :direction, 'phone', :summary, :agent_id, :outcome,
    :raw_ani, :e164, :dnis, :started_at, :answered_at, :ended_at, :queue,
    :wait_seconds, :talk_seconds, :hold_seconds, :ivr_path, :ivr_inputs, :route, :transfers, :now, :now)
ON CONFLICT (linkedid) DO UPDATE SET
    customer_id = COALESCE((SELECT id FROM customers WHERE id = excluded.customer_id AND NOT is_lead),
                           (SELECT id FROM customers WHERE id = activities.customer_id AND NOT is_lead),
                           excluded.customer_id, activities.customer_id),
    occurred_at = excluded.occurred_at,
    direction = COALESCE(excluded.direction, activities.direction),
    summary = COALESCE(excluded.summary, activities.summary),
    agent_id = COALESCE(excluded.agent_id, activities.agent_id),
    outcome = COALESCE(excluded.outcome, activities.outcome),
    raw_ani = COALESCE(excluded.raw_ani, activities.raw_ani),
    e164 = COALESCE(excluded.e164, activities.e164),
    dnis = COALESCE(excluded.dnis, activities.dnis),
    started_at = COALESCE(excluded.started_at, activities.started_at),
    answered_at = COALESCE(excluded.answered_at, activities.answered_at),
    ended_at = COALESCE(excluded.ended_at, activities.ended_at),
    queue = COALESCE(excluded.queue, activities.queue),
    wait_seconds = COALESCE(excluded.wait_seconds, activities.wait_seconds),
    talk_seconds = COALESCE(excluded.talk_seconds, activities.talk_seconds),
    hold_seconds = COALESCE(excluded.hold_seconds, activities.hold_seconds),
    ivr_path = COALESCE(excluded.ivr_path, activities.ivr_path),
    ivr_inputs = COALESCE(excluded.ivr_inputs, activities.ivr_inputs),
    route = COALESCE(excluded.route, activities.route),
    transfers = COALESCE(excluded.transfers, activities.transfers),
    updated_at = excluded.updated_at
RETURNING id"""

# The wrap-up may even arrive first (its call's write still spooled or in flight): then it
# creates the row, and the call's write fills in the rest.
UPSERT_WRAPUP = """
INSERT INTO activities (
    linkedid, kind, occurred_at, direction, channel, agent_id, disposition, notes, case_id,
    created_at, updated_at)
VALUES (
    :linkedid, 'call', :now, 'inbound', 'phone', :agent_id, :disposition, :notes,
    (SELECT id FROM cases WHERE id = :case_id), :now, :now)
ON CONFLICT (linkedid) DO UPDATE SET
    agent_id = COALESCE(activities.agent_id, excluded.agent_id),
    disposition = COALESCE(excluded.disposition, activities.disposition),
    notes = COALESCE(excluded.notes, activities.notes),
    case_id = COALESCE(excluded.case_id, activities.case_id),
    updated_at = excluded.updated_at
RETURNING id"""

# A mandatory wrap-up that ran out: its timeout disposition is recorded only where the agent
# saved none, so a save that raced the timer always wins.
UPSERT_WRAPUP_TIMEOUT = """
INSERT INTO activities (
    linkedid, kind, occurred_at, direction, channel, agent_id, disposition, created_at, updated_at)
VALUES (:linkedid, 'call', :now, 'inbound', 'phone', :agent_id, :disposition, :now, :now)
ON CONFLICT (linkedid) DO UPDATE SET
    agent_id = COALESCE(activities.agent_id, excluded.agent_id),
    disposition = COALESCE(activities.disposition, excluded.disposition),
    updated_at = excluded.updated_at
RETURNING id"""

_NAMED_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@functools.lru_cache(maxsize=None)
def pg_positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` parameters -> `$1..$n` for asyncpg; returns the SQL and the names in order."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED_PARAM.sub(number, sql), tuple(names)
