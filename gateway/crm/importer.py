"""Importing customers from CSV: every row validated, bad rows reported, good rows upserted.

Columns (header names, any order, case-insensitive):

    account_number, name, phone (several separated by ';'), language, tier, segment,
    lifetime_value, notes

`name` is required, and each row needs an account number or at least one phone. A row
matches an existing customer by account number, else by one of its phones; it then updates
that customer (an empty cell leaves the field as it was) and adds phones it does not have yet.
Otherwise it creates a customer. Running the same file twice changes nothing the second time.

A phone that already belongs to another customer is an error for that row, never a silent
move. Rows are applied in batches, one transaction each; if the database refuses a batch
(a concurrent change), its rows are retried one by one so only the offending row fails.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gateway.crm import models as m
from gateway.crm.folding import fold_name
from gateway.crm.migrate import sync_engine
from gateway.crm.numbers import classify_ani, safe_display
from gateway.tiers import DEFAULT_TIER, LEAD_TIER, TIERS

COLUMNS = ("account_number", "name", "phone", "language", "tier", "segment", "lifetime_value", "notes")
_COLUMN_ALIASES = {"phones": "phone", "phone_numbers": "phone", "account": "account_number"}
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{3,31}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_PHONE_SPLIT = re.compile(r"[;|]")
IMPORTABLE_TIERS = tuple(t for t in TIERS if t != LEAD_TIER)
MAX_LIFETIME_VALUE = Decimal("999999999999.99")  # NUMERIC(14, 2)


class CsvFormatError(ValueError):
    """The file cannot be imported at all (no header, no name column, ...)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class CustomerRow:
    line: int
    name: str
    account_number: str | None
    phones: list[str]
    language: str | None = None
    tier: str | None = None
    segment: str | None = None
    lifetime_value: Decimal | None = None
    notes: str | None = None


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    phones_added: int = 0
    errors: list[RowError] = field(default_factory=list)


# -- reading and validating ----------------------------------------------------------------
def read_rows(path: str | Path, region: str) -> Iterator[CustomerRow | RowError]:
    """Each data row of the file, validated: a CustomerRow or a RowError with its line."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise CsvFormatError("the file is empty (expected a header line)") from None
        columns = _header(header)
        seen_accounts: dict[str, int] = {}
        seen_phones: dict[str, int] = {}
        while True:
            line = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(line, f"unreadable CSV: {exc}")
                continue
            if not any(v.strip() for v in values):
                continue  # blank line
            result = validate_row(columns, values, line, region)
            if isinstance(result, CustomerRow):
                result = _check_repeats(result, seen_accounts, seen_phones)
            yield result


def _header(header: list[str]) -> list[str | None]:
    columns: list[str | None] = []
    for raw in header:
        name = raw.strip().lower().replace(" ", "_")
        name = _COLUMN_ALIASES.get(name, name)
        columns.append(name if name in COLUMNS else None)  # unknown columns are ignored
    if "name" not in columns:
        raise CsvFormatError(f"no 'name' column in the header (expected columns: {', '.join(COLUMNS)})")
    if "account_number" not in columns and "phone" not in columns:
        raise CsvFormatError("the header needs an 'account_number' or a 'phone' column")
    return columns


def validate_row(columns: list[str | None], values: list[str], line: int, region: str) -> CustomerRow | RowError:
    if len(values) > len(columns):
        return RowError(line, f"{len(values)} fields, but the header has {len(columns)}")
    cells = {col: value.strip() for col, value in zip(columns, values) if col is not None}
    if any("\ufffd" in value for value in cells.values()):
        return RowError(line, "not valid UTF-8 text")
    if any(not _printable(value, allow_newlines=(col == "notes")) for col, value in cells.items()):
        return RowError(line, "contains control characters")

    name = cells.get("name", "")
    if not name:
        return RowError(line, "name is empty")
    if len(name) > 200:
        return RowError(line, "name is longer than 200 characters")

    account = cells.get("account_number") or None
    if account is not None and not _ACCOUNT.fullmatch(account):
        return RowError(line, f"account number {safe_display(account)!r} is not 4-32 letters, digits or '-'")

    phones: list[str] = []
    for raw_phone in _PHONE_SPLIT.split(cells.get("phone", "")):
        if not raw_phone.strip():
            continue
        ani = classify_ani(raw_phone, region)
        if ani.kind != "number":
            return RowError(line, f"phone {safe_display(raw_phone)!r} is not a valid number (region {region})")
        if ani.e164 not in phones:
            phones.append(ani.e164)
    if account is None and not phones:
        return RowError(line, "needs an account number or a phone number")

    language = cells.get("language", "").lower() or None
    if language is not None and not _LANGUAGE.fullmatch(language):
        return RowError(line, f"language {safe_display(language)!r} is not a two-letter ISO 639-1 code")
    tier = cells.get("tier", "").lower() or None
    if tier is not None and tier not in IMPORTABLE_TIERS:
        return RowError(line, f"tier {safe_display(tier)!r} is not one of {', '.join(IMPORTABLE_TIERS)}")
    segment = cells.get("segment") or None
    if segment is not None and len(segment) > 32:
        return RowError(line, "segment is longer than 32 characters")
    value = None
    if cells.get("lifetime_value"):
        value = _money(cells["lifetime_value"])
        if value is None:
            return RowError(line, f"lifetime value {safe_display(cells['lifetime_value'])!r} is not an amount "
                                  f"between 0 and {MAX_LIFETIME_VALUE}")
    notes = cells.get("notes") or None
    if notes is not None and len(notes) > 4000:
        return RowError(line, "notes are longer than 4000 characters")
    return CustomerRow(line, name, account, phones, language, tier, segment, value, notes)


def _check_repeats(row: CustomerRow, seen_accounts: dict[str, int], seen_phones: dict[str, int]):
    if row.account_number is not None:
        first = seen_accounts.get(row.account_number)
        if first is not None:
            return RowError(row.line, f"account number {row.account_number} already on line {first}")
    for phone in row.phones:
        first = seen_phones.get(phone)
        if first is not None:
            return RowError(row.line, f"phone {phone} already on line {first}")
    if row.account_number is not None:
        seen_accounts[row.account_number] = row.line
    for phone in row.phones:
        seen_phones[phone] = row.line
    return row


def _printable(text: str, allow_newlines: bool) -> bool:
    if allow_newlines:
        text = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return text.isprintable()


def _money(text: str) -> Decimal | None:
    """An amount as people type it: 1234.50, 1234,50, 1,234.50 or 12.345,50 (Turkish)."""
    cleaned = text.replace(" ", "").replace("\u00a0", "")
    if "," in cleaned and "." in cleaned:
        thousands = "." if cleaned.rindex(",") > cleaned.rindex(".") else ","
        cleaned = cleaned.replace(thousands, "")
    cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value > MAX_LIFETIME_VALUE:
        return None
    return value.quantize(Decimal("0.01"))


# -- writing -------------------------------------------------------------------------------
def import_customers(
    url: str,
    path: str | Path,
    region: str = "TR",
    *,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate and upsert every row of the CSV file into a migrated CRM."""
    report = ImportReport()
    engine = sync_engine(url)
    try:
        batch: list[CustomerRow] = []
        for item in read_rows(path, region):
            report.rows += 1
            if isinstance(item, RowError):
                report.errors.append(item)
            else:
                batch.append(item)
            if len(batch) >= batch_size:
                _apply_batch(engine, batch, report)
                batch = []
            if progress:
                progress(1)
        if batch:
            _apply_batch(engine, batch, report)
    finally:
        engine.dispose()
    report.errors.sort(key=lambda e: e.line)
    return report


def count_data_lines(path: str | Path) -> int:
    """Physical lines after the header: the progress bar's total (quoted newlines overcount a little)."""
    with open(path, "rb") as handle:
        return max(0, sum(1 for _ in handle) - 1)


def _apply_batch(engine, rows: list[CustomerRow], report: ImportReport) -> None:
    try:
        with engine.begin() as conn:
            outcome = _upsert(conn, rows)
    except IntegrityError:
        # Someone changed the same customers meanwhile: apply one by one to find the culprit.
        outcome = _Outcome()
        for row in rows:
            try:
                with engine.begin() as conn:
                    outcome.merge(_upsert(conn, [row]))
            except IntegrityError as exc:
                outcome.errors.append(RowError(row.line, f"refused by the database: {exc.orig}"))
    report.created += outcome.created
    report.updated += outcome.updated
    report.unchanged += outcome.unchanged
    report.phones_added += outcome.phones_added
    report.errors.extend(outcome.errors)


@dataclass
class _Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    phones_added: int = 0
    errors: list[RowError] = field(default_factory=list)

    def merge(self, other: _Outcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.phones_added += other.phones_added
        self.errors.extend(other.errors)


_UPDATABLE = ("account_number", "name", "language", "tier", "segment", "lifetime_value", "notes")


def _upsert(conn: Connection, rows: list[CustomerRow]) -> _Outcome:
    outcome = _Outcome()
    c, p = m.customers, m.phone_numbers
    accounts = [r.account_number for r in rows if r.account_number]
    phones = [phone for r in rows for phone in r.phones]
    by_account = dict(conn.execute(select(c.c.account_number, c.c.id).where(c.c.account_number.in_(accounts))).all()) \
        if accounts else {}
    phone_owner = dict(conn.execute(select(p.c.e164, p.c.customer_id).where(p.c.e164.in_(phones))).all()) \
        if phones else {}
    targets = set(by_account.values()) | set(phone_owner.values())
    existing = {row.id: row for row in conn.execute(
        select(c.c.id, c.c.is_lead, *[c.c[col] for col in _UPDATABLE]).where(c.c.id.in_(targets)))} if targets else {}

    now = m.utcnow()
    new_rows: list[CustomerRow] = []
    updates: list[dict] = []
    new_phones: list[dict] = []
    for row in rows:
        owners = {phone_owner[ph] for ph in row.phones if ph in phone_owner}
        target = by_account.get(row.account_number) if row.account_number else None
        if target is None and len(owners) == 1:
            target = next(iter(owners))
            current_account = existing[target].account_number
            if row.account_number and current_account and current_account != row.account_number:
                outcome.errors.append(RowError(row.line, f"phone belongs to the customer with account "
                                                         f"{current_account}, not {row.account_number}"))
                continue
        foreign = [ph for ph in row.phones if ph in phone_owner and phone_owner[ph] != target]
        if foreign:
            outcome.errors.append(RowError(row.line, f"phone {foreign[0]} belongs to another customer"))
            continue
        if target is None:
            new_rows.append(row)
            continue
        changes = _changes(existing[target], row)
        if changes:
            values = {col: changes.get(col, getattr(existing[target], col)) for col in _UPDATABLE}
            updates.append({"b_id": target, **values, "name_folded": fold_name(values["name"]), "is_lead": False,
                            "updated_at": now})
            outcome.updated += 1
        else:
            outcome.unchanged += 1
        new_phones += [_phone(target, ph, False, now) for ph in row.phones if ph not in phone_owner]

    if updates:
        conn.execute(update(c).where(c.c.id == bindparam("b_id")), updates)
    if new_rows:
        inserted = conn.execute(
            insert(c).returning(c.c.id, sort_by_parameter_order=True),
            [_new_customer(row, now) for row in new_rows],
        ).scalars().all()
        for customer_id, row in zip(inserted, new_rows):
            new_phones += [_phone(customer_id, ph, i == 0, now) for i, ph in enumerate(row.phones)]
        outcome.created += len(new_rows)
    if new_phones:
        conn.execute(insert(p), new_phones)
        outcome.phones_added += len(new_phones)
    return outcome


def _changes(current, row: CustomerRow) -> dict:
    """The fields the row changes; a lead the file names becomes a customer."""
    tier = row.tier or (DEFAULT_TIER if current.is_lead else None)
    wanted = {
        "account_number": row.account_number, "name": row.name, "language": row.language, "tier": tier,
        "segment": row.segment, "lifetime_value": row.lifetime_value, "notes": row.notes,
    }
    changes = {"is_lead": False} if current.is_lead else {}
    for col, value in wanted.items():
        if value is None:
            continue  # an empty cell keeps what the CRM has
        have = getattr(current, col)
        if col == "lifetime_value" and have is not None:
            have = Decimal(str(have)).quantize(Decimal("0.01"))
        if have != value:
            changes[col] = value
    return changes


def _new_customer(row: CustomerRow, now) -> dict:
    return {
        "account_number": row.account_number, "name": row.name, "name_folded": fold_name(row.name),
        "language": row.language, "tier": row.tier or DEFAULT_TIER, "segment": row.segment,
        "lifetime_value": row.lifetime_value if row.lifetime_value is not None else Decimal("0.00"),
        "notes": row.notes, "is_lead": False, "created_at": now, "updated_at": now,
    }


def _phone(customer_id: int, e164: str, primary: bool, now) -> dict:
    return {"customer_id": customer_id, "e164": e164, "label": None, "is_primary": primary, "created_at": now}

