"""A realistic Turkish/English demo CRM, from a handful of customers to millions (benchmarks).

Always present, because the demo call and the tests use them:

  +905321234567  Çağrı Öztürk  tr  gold    account 12345678  open case "Fatura itirazı",
                               two inbound calls this week (a repeat caller), last agent 1006
  +442071234567  Emily Clarke  en  silver  account 87654321  no open case

The rest is generated from a seed: 80 % Turkish customers (names with ç ğ ı ö ş ü, mobiles
+90 5xx, some Istanbul/Ankara/Izmir landlines), 20 % English (UK mobiles and London numbers),
tiers, lifetime values, cases, orders and an activity history. Numbers and account numbers are
unique by construction (a bijection of the customer's index), so no lookups are needed while
loading. Loading is bulk: `executemany` in large transactions on SQLite, COPY on PostgreSQL,
with explicit ids so related rows need no round trip.
"""
from __future__ import annotations

import itertools
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from sqlalchemy import func, select

from gateway.crm import models as m
from gateway.crm.folding import fold_name
from gateway.crm.migrate import sync_engine
from gateway.crm.urls import parse_crm_url

CUSTOMER_COLUMNS = ("id", "account_number", "name", "language", "segment", "tier", "lifetime_value", "notes",
                    "is_lead", "created_at", "updated_at", "name_folded")
PHONE_COLUMNS = ("id", "customer_id", "e164", "label", "is_primary", "created_at")
CASE_COLUMNS = ("id", "customer_id", "subject", "status", "priority", "owner", "opened_at", "closed_at")
ACTIVITY_COLUMNS = ("id", "customer_id", "kind", "occurred_at", "direction", "channel", "summary", "agent_id",
                    "outcome", "case_id", "linkedid", "e164", "started_at", "ended_at", "queue", "wait_seconds",
                    "talk_seconds", "created_at", "updated_at")
ORDER_COLUMNS = ("id", "customer_id", "order_number", "placed_at", "status", "total", "currency", "description")
TABLE_COLUMNS = {
    "customers": CUSTOMER_COLUMNS,
    "phone_numbers": PHONE_COLUMNS,
    "cases": CASE_COLUMNS,
    "activities": ACTIVITY_COLUMNS,
    "orders": ORDER_COLUMNS,
}
TABLE_ORDER = ("customers", "phone_numbers", "cases", "activities", "orders")

CAGRI_NUMBER, CAGRI_ACCOUNT = "+905321234567", "12345678"
EMILY_NUMBER, EMILY_ACCOUNT = "+442071234567", "87654321"
FIXED_CUSTOMERS = 2

TR_FIRST = ("Çağrı", "Ayşe", "Şükrü", "Gülşen", "Ömer", "Işıl", "Çiğdem", "Müge", "Özge", "Ümit", "Barış", "Gökhan",
            "Şebnem", "Tuğçe", "Ilgın", "Doğan", "Yağmur", "Fatih", "Emre", "Zeynep", "Elif", "Mehmet", "Mustafa",
            "Hülya", "Nurşen", "Sevgi", "Buğra", "Cansu", "Öykü", "Kübra", "İsmail", "İbrahim", "Gözde", "Süleyman",
            "Gül", "Şule", "Oğuz", "Ece", "Burak", "Selin")
TR_LAST = ("Öztürk", "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Aydın", "Özdemir",
           "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Şimşek", "Polat",
           "Korkmaz", "Güneş", "Erdoğan", "Akgül", "Türkmen", "Uçar", "Çakır", "Işık", "Ünal", "Bulut", "Gündüz",
           "Sönmez", "Güler", "Tekin")
EN_FIRST = ("Emily", "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Sophie", "Thomas",
            "Charlotte", "William", "Grace", "James", "Lucy", "Henry", "Chloe", "Daniel", "Hannah", "Samuel")
EN_LAST = ("Clarke", "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
           "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Hughes")
TR_MOBILE_PREFIXES = ("530", "531", "532", "533", "534", "535", "536", "537", "538", "539", "541", "542", "543",
                      "544", "545", "546", "547", "548", "549", "551", "552", "553", "554", "555")
TR_LANDLINE_PREFIXES = ("212", "216", "312", "232", "224", "242")
UK_MOBILE_PREFIXES = ("74", "75", "78")
UK_LANDLINE_PREFIXES = ("207", "203", "208")

# (share of customers, tier, lifetime value range in TRY)
TIER_MIX = ((0.02, "platinum", 150_000, 900_000), (0.08, "gold", 30_000, 150_000), (0.20, "silver", 8_000, 30_000),
            (0.30, "bronze", 1_000, 8_000), (0.40, "standard", 0, 1_000))
TOPICS = {
    "tr": ("Fatura sorusu", "Paket değişikliği", "İnternet arızası bildirimi", "Ödeme onayı", "Kampanya bilgisi",
           "Adres güncelleme", "Sipariş durumu", "İade talebi", "Şifre sıfırlama", "Fatura itirazı"),
    "en": ("Billing question", "Plan change", "Broadband fault reported", "Payment confirmed", "Offer information",
           "Address update", "Order status", "Return request", "Password reset", "Billing dispute"),
}
CASE_SUBJECTS = {
    "tr": ("Fatura itirazı", "İnternet bağlantı sorunu", "Modem değişimi", "İade talebi", "Teslimat gecikmesi"),
    "en": ("Billing dispute", "Broadband connection problem", "Router replacement", "Return request",
           "Delivery delay"),
}
ORDER_ITEMS = ("Fiber 100 Mbps paket", "Modem", "Akıllı telefon", "Ek hat", "Mobile plan 20 GB", "Router",
               "Smartphone", "TV box")
OUTCOMES = ("answered",) * 14 + ("abandoned_queue", "abandoned_ivr", "voicemail", "callback", "transferred")
QUEUES = ("billing", "support", "sales", "retention")
# The roster's agent ids (agents/roster.yaml), so "last agent" can route back to a real agent.
AGENTS = tuple(str(n) for n in range(1001, 1021))


@dataclass
class DemoCounts:
    customers: int = 0
    phone_numbers: int = 0
    cases: int = 0
    activities: int = 0
    orders: int = 0

    def add(self, batch: dict[str, list]) -> None:
        for table, rows in batch.items():
            setattr(self, table, getattr(self, table) + len(rows))


def _scramble(index: int, span: int) -> int:
    # A bijection of [0, span): numbers look random but never repeat. 7919 is coprime to the spans used.
    return (index * 7919 + 1237) % span


def tr_mobile(index: int) -> str:
    prefix = TR_MOBILE_PREFIXES[index % len(TR_MOBILE_PREFIXES)]
    return f"+90{prefix}{2_000_000 + _scramble(index // len(TR_MOBILE_PREFIXES), 8_000_000)}"


def tr_landline(index: int) -> str:
    prefix = TR_LANDLINE_PREFIXES[index % len(TR_LANDLINE_PREFIXES)]
    return f"+90{prefix}{2_000_000 + _scramble(index // len(TR_LANDLINE_PREFIXES), 8_000_000)}"


def uk_mobile(index: int) -> str:
    prefix = UK_MOBILE_PREFIXES[index % len(UK_MOBILE_PREFIXES)]
    return f"+447{prefix[1]}{_scramble(index // len(UK_MOBILE_PREFIXES), 100_000_000):08d}"


def uk_landline(index: int) -> str:
    prefix = UK_LANDLINE_PREFIXES[index % len(UK_LANDLINE_PREFIXES)]
    return f"+44{prefix}{2_000_000 + _scramble(index // len(UK_LANDLINE_PREFIXES), 8_000_000)}"


def account_number(index: int) -> str:
    # 8 digits like the fixed ones, from 30000000 up: never 12345678 or 87654321.
    return str(30_000_000 + index)


class DemoGenerator:
    """Rows for the demo CRM, table by table, in customer batches. Timestamps are text in
    the format both loaders accept (SQLite's storage format; PostgreSQL reads it as UTC)."""

    def __init__(self, *, activities_per_customer: int = 5, seed: int = 1, now: datetime | None = None,
                 timestamp_suffix: str = ""):
        self.activities_per_customer = max(0, activities_per_customer)
        self.rng = random.Random(seed)
        self.now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
        self._ids = {kind: itertools.count(1) for kind in ("phone", "case", "activity", "order", "call")}
        # Formatting millions of timestamps with strftime dominated the load: precompute the
        # day and time-of-day parts once.
        midnight = self.now.replace(hour=0, minute=0, second=0)
        self._now_offset = int((self.now - midnight).total_seconds())
        self._days = [(midnight - timedelta(days=d)).strftime("%Y-%m-%d ") for d in range(0, 3000)]
        self._times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000{timestamp_suffix}"
                       for s in range(86_400)]
        self._now_text = self.ts(0)

    def ts(self, seconds_ago: float) -> str:
        """The instant `seconds_ago` (at most ~8 years) before now, as text."""
        days_back, second = divmod(self._now_offset - int(seconds_ago), 86_400)
        return self._days[-days_back] + self._times[second]

    def _rows(self) -> dict[str, list]:
        return {table: [] for table in TABLE_ORDER}

    # -- the fixed customers ---------------------------------------------------------------
    def fixed(self) -> dict[str, list]:
        rows = self._rows()
        now = self._now_text
        day = 86_400
        rows["customers"] += [
            (1, CAGRI_ACCOUNT, "Çağrı Öztürk", "tr", "consumer", "gold", 48_750.0,
             "SMS ile iletişim tercih ediyor.", False, self.ts(900 * day), now, fold_name("Çağrı Öztürk")),
            (2, EMILY_ACCOUNT, "Emily Clarke", "en", "consumer", "silver", 12_480.5,
             "Prefers email follow-ups.", False, self.ts(400 * day), now, fold_name("Emily Clarke")),
        ]
        rows["phone_numbers"] += [
            (self._next("phone"), 1, CAGRI_NUMBER, "mobile", True, self.ts(900 * day)),
            (self._next("phone"), 2, EMILY_NUMBER, "work", True, self.ts(400 * day)),
        ]
        dispute, modem, emily_case = self._next("case"), self._next("case"), self._next("case")
        rows["cases"] += [
            (dispute, 1, "Fatura itirazı", "open", "high", "1006", self.ts(5 * day), None),
            (modem, 1, "Modem değişimi", "closed", "normal", "1004", self.ts(120 * day), self.ts(110 * day)),
            (emily_case, 2, "Router replacement", "closed", "normal", "1009", self.ts(60 * day), self.ts(55 * day)),
        ]
        cagri = (
            # kind, seconds ago, direction, channel, summary, agent, outcome, case, call?
            ("call", 2 * day, "inbound", "phone", "Fatura itirazı: ek ücret açıklandı, inceleme sürüyor",
             "1006", "answered", dispute, True),
            ("case_update", 2 * day - 600, None, "web", "Vaka güncellendi: faturalama ekibine iletildi",
             "1006", None, dispute, False),
            ("call", 5 * day, "inbound", "phone", "Fatura itirazı açıldı", "1006", "answered", dispute, True),
            ("email", 20 * day, "outbound", "email", "Kampanya bilgisi gönderildi", "1004", None, None, False),
            ("call", 45 * day, "inbound", "phone", "Paket değişikliği", "1004", "answered", None, True),
            ("note", 110 * day, None, "web", "Modem değişimi tamamlandı", "1004", None, modem, False),
        )
        emily = (
            ("call", 30 * day, "inbound", "phone", "Billing question", "1009", "answered", None, True),
            ("email", 40 * day, "outbound", "email", "Offer information sent", "1009", None, None, False),
            ("call", 60 * day, "inbound", "phone", "Router replacement requested", "1009", "answered",
             emily_case, True),
        )
        for customer_id, number, history in ((1, CAGRI_NUMBER, cagri), (2, EMILY_NUMBER, emily)):
            for kind, ago, direction, channel, summary, agent, outcome, case_id, is_call in history:
                rows["activities"].append(self._activity(customer_id, kind, ago, direction, channel, summary,
                                                         agent, outcome, case_id, number if is_call else None))
        rows["orders"] += [
            (self._next("order"), 1, "SP-000000001", self.ts(30 * day), "delivered", 1_249.90, "TRY",
             "Fiber 100 Mbps paket"),
            (self._next("order"), 1, "SP-000000002", self.ts(3 * day), "shipped", 3_499.00, "TRY", "Modem"),
            (self._next("order"), 2, "SP-000000003", self.ts(50 * day), "delivered", 89.99, "GBP", "Router"),
        ]
        return rows

    # -- generated customers ---------------------------------------------------------------
    def batch(self, start: int, stop: int) -> dict[str, list]:
        """Generated customers with index start..stop-1 (customer id = FIXED_CUSTOMERS + 1 + index)."""
        rows = self._rows()
        r = self.rng.random
        day = 86_400
        for index in range(start, stop):
            customer_id = FIXED_CUSTOMERS + 1 + index
            english = r() < 0.2
            lang = "en" if english else "tr"
            first, last = (EN_FIRST, EN_LAST) if english else (TR_FIRST, TR_LAST)
            name = f"{first[int(r() * len(first))]} {last[int(r() * len(last))]}"
            pick = r()
            for share, tier, low, high in TIER_MIX:
                if pick < share:
                    break
                pick -= share
            value = round(low + r() * (high - low), 2)
            segment = "business" if r() < 0.15 else "consumer"
            since = self.ts(day * (30 + int(r() * 2500)) if r() < 0.5 else day * (30 + int(r() * 700)))
            rows["customers"].append((customer_id, account_number(index), name, lang, segment, tier, value,
                                      None, False, since, self._now_text, fold_name(name)))
            primary = uk_mobile(index) if english else tr_mobile(index)
            rows["phone_numbers"].append((self._next("phone"), customer_id, primary, "mobile", True, since))
            if r() < 0.2:
                landline = uk_landline(index) if english else tr_landline(index)
                rows["phone_numbers"].append((self._next("phone"), customer_id, landline, "home", False, since))
            case_id = None
            if r() < 0.12:
                case_id = self._next("case")
                subjects = CASE_SUBJECTS[lang]
                opened = day * (1 + int(r() * 200))
                is_open = r() < 0.4
                rows["cases"].append((case_id, customer_id, subjects[int(r() * len(subjects))],
                                      "open" if is_open else "closed", ("low", "normal", "high")[int(r() * 3)],
                                      AGENTS[int(r() * len(AGENTS))], self.ts(opened),
                                      None if is_open else self.ts(max(0, opened - day * int(1 + r() * 10)))))
            topics = TOPICS[lang]
            recent_calls = 2 + int(r() * 2) if r() < 0.03 else 0  # some repeat callers this week
            for n in range(self.activities_per_customer):
                if n < recent_calls:
                    kind, ago = "call", int(r() * 6 * day)
                else:
                    k = r()
                    kind = "call" if k < 0.6 else "note" if k < 0.8 else "email" if k < 0.95 else "case_update"
                    ago = int(r() * 365 * day)
                agent = AGENTS[int(r() * len(AGENTS))]
                if kind == "call":
                    direction = "inbound" if r() < 0.85 else "outbound"
                    outcome = OUTCOMES[int(r() * len(OUTCOMES))]
                    rows["activities"].append(self._activity(
                        customer_id, kind, ago, direction, "phone", topics[int(r() * len(topics))],
                        agent if outcome in ("answered", "transferred") else None, outcome, None, primary))
                else:
                    channel = "email" if kind == "email" else "web"
                    rows["activities"].append(self._activity(
                        customer_id, kind, ago, "outbound" if kind == "email" else None, channel,
                        topics[int(r() * len(topics))], agent, None,
                        case_id if kind == "case_update" else None, None))
            for _ in range(int(r() * 3)):
                order_id = self._next("order")
                item = ORDER_ITEMS[int(r() * len(ORDER_ITEMS))]
                rows["orders"].append((order_id, customer_id, f"SP-{order_id:09d}", self.ts(int(r() * 400 * day)),
                                       ("delivered", "delivered", "shipped", "returned", "cancelled")[int(r() * 5)],
                                       round(50 + r() * 5000, 2), "GBP" if english else "TRY", item))
        return rows

    def _activity(self, customer_id, kind, ago, direction, channel, summary, agent, outcome, case_id, number):
        occurred = self.ts(ago)
        activity_id = self._next("activity")
        if kind != "call":
            return (activity_id, customer_id, kind, occurred, direction, channel, summary, agent, outcome, case_id,
                    None, None, None, None, None, None, None, occurred, occurred)
        wait = float(int(self.rng.random() * 90))
        talk = float(int(self.rng.random() * 600)) if outcome in ("answered", "transferred") else 0.0
        linkedid = f"demo-{self._next('call'):010d}"
        return (activity_id, customer_id, kind, occurred, direction, channel, summary, agent, outcome, case_id,
                linkedid, number, occurred, self.ts(max(0, ago - wait - talk)), QUEUES[activity_id % len(QUEUES)],
                wait, talk, occurred, occurred)

    def _next(self, kind: str) -> int:
        return next(self._ids[kind])


# -- loading -------------------------------------------------------------------------------
@dataclass
class DemoResult:
    counts: DemoCounts = field(default_factory=DemoCounts)
    skipped: bool = False  # the CRM already had customers
    existing_customers: int = 0


def existing_customer_count(url: str) -> int:
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.customers)).scalar_one()
    finally:
        engine.dispose()


def load_demo_data(
    url: str,
    customers: int,
    activities_per_customer: int = 5,
    *,
    seed: int = 1,
    replace: bool = False,
    batch_size: int = 20_000,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> DemoResult:
    """Load the fixed customers plus `customers` generated ones into a migrated CRM.

    A CRM that already has customers is left alone (result.skipped) unless replace=True,
    which empties the CRM tables first. `progress(n)` is told of every n customers loaded."""
    crm_url = parse_crm_url(url)
    existing = existing_customer_count(url)
    if existing and not replace:
        return DemoResult(skipped=True, existing_customers=existing)
    generator = DemoGenerator(activities_per_customer=activities_per_customer, seed=seed, now=now,
                              timestamp_suffix="" if crm_url.is_sqlite else "+00")
    loader = _SqliteLoader(crm_url.sqlite_path) if crm_url.is_sqlite else _PostgresLoader(crm_url.pg_dsn)
    result = DemoResult()
    with loader:
        if replace:
            loader.empty_tables()
        for rows in _batches(generator, customers, batch_size):
            loader.write(rows)
            result.counts.add(rows)
            if progress:
                progress(len(rows["customers"]))
        loader.finish()
    return result


def _batches(generator: DemoGenerator, customers: int, batch_size: int) -> Iterator[dict[str, list]]:
    yield generator.fixed()
    for start in range(0, customers, batch_size):
        yield generator.batch(start, min(customers, start + batch_size))


def _insert_sql(table: str, placeholder: str = "?") -> str:
    columns = TABLE_COLUMNS[table]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(placeholder for _ in columns)})"


class _SqliteLoader:
    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None)

    def __enter__(self):
        # A bulk load is restartable from scratch, so it may skip the per-commit fsync.
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -262144")
        return self

    def empty_tables(self) -> None:
        self.conn.execute("BEGIN")
        for table in reversed(TABLE_ORDER):
            self.conn.execute(f"DELETE FROM {table}")
        self.conn.execute("COMMIT")

    def write(self, rows: dict[str, list]) -> None:
        self.conn.execute("BEGIN")
        for table in TABLE_ORDER:
            if rows[table]:
                self.conn.executemany(_insert_sql(table), rows[table])
        self.conn.execute("COMMIT")

    def finish(self) -> None:
        self.conn.execute("PRAGMA analysis_limit = 1000")
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def __exit__(self, *exc):
        self.conn.close()


class _PostgresLoader:
    def __init__(self, dsn: str):
        import psycopg

        self.conn = psycopg.connect(dsn)

    def __enter__(self):
        return self

    def empty_tables(self) -> None:
        self.conn.execute(f"TRUNCATE {', '.join(TABLE_ORDER)} RESTART IDENTITY CASCADE")
        self.conn.commit()

    def write(self, rows: dict[str, list]) -> None:
        with self.conn.cursor() as cur:
            for table in TABLE_ORDER:
                if not rows[table]:
                    continue
                with cur.copy(f"COPY {table} ({', '.join(TABLE_COLUMNS[table])}) FROM STDIN") as copy:
                    for row in rows[table]:
                        copy.write_row(row)
        self.conn.commit()

    def finish(self) -> None:
        # Explicit ids were loaded: move each sequence past them. Then VACUUM: it sets the
        # visibility map and hint bits now, rather than the first lookups (and autovacuum)
        # paying for it later, and refreshes the planner's statistics.
        for table in TABLE_ORDER:
            self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)")
        self.conn.commit()
        self.conn.autocommit = True
        self.conn.execute("VACUUM (ANALYZE)")

    def __exit__(self, *exc):
        self.conn.close()
