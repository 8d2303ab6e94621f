"""`ctigw crm ...`: the CRM database from the command line.

    ctigw crm migrate                       bring the schema up to date
    ctigw crm import customers.csv          validate and upsert customers (re-runnable)
    ctigw crm lookup 05321234567            the caller view an agent would see
    ctigw crm demo-data --customers 1000    demo customers (Çağrı Öztürk, Emily Clarke, ...)
"""
from __future__ import annotations

import asyncio
import json
import sys

from gateway.config import redact_url
from gateway.crm.numbers import safe_display

EXIT_KNOWN, EXIT_NOT_KNOWN, EXIT_ROWS_REJECTED, EXIT_BAD_INPUT, EXIT_CRM_UNAVAILABLE = 0, 1, 1, 2, 3


def register(sub) -> None:
    crm = sub.add_parser("crm", help="the CRM database: migrate, import, lookup, demo data")
    crm_sub = crm.add_subparsers(dest="crm_command", metavar="CRM_COMMAND", required=True)

    p = crm_sub.add_parser("migrate", help="apply the schema migrations (also done at gateway start)")
    p.set_defaults(func=migrate)

    p = crm_sub.add_parser("import", help="import customers from a CSV file (re-runnable: upserts)",
                           description="Columns: account_number, name, phone (several separated by ';'), "
                                       "language, tier, segment, lifetime_value, notes. Bad rows are reported "
                                       "with their line numbers; the good ones are imported. Exit status 1 "
                                       "when some rows were rejected.")
    p.add_argument("csv_file")
    p.add_argument("--region", help="region for national numbers (default: [gateway] default_region)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=import_csv)

    p = crm_sub.add_parser("lookup", help="show the caller view for a number",
                           description="Exit status: 0 known customer, 1 not a customer, 3 CRM unavailable.")
    p.add_argument("number", help="caller number in any form: 05321234567, +905321234567, 00905321234567, ...")
    p.add_argument("--json", action="store_true", help="print the screen-pop JSON instead")
    p.set_defaults(func=lookup)

    p = crm_sub.add_parser("demo-data", help="load demo customers (Turkish and English) for trying out and benchmarks")
    p.add_argument("--customers", type=int, default=1000, help="generated customers besides the fixed ones")
    p.add_argument("--activities-per-customer", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--replace", action="store_true", help="empty the CRM tables first")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=demo_data)


def migrate(args) -> int:
    from gateway.crm.migrate import upgrade_database

    url = args.settings.crm_url
    revision = upgrade_database(url)
    print(f"CRM schema at revision {revision}: {redact_url(url)}")
    return 0


def import_csv(args) -> int:
    from gateway.crm.importer import CsvFormatError, count_data_lines, import_customers
    from gateway.crm.migrate import upgrade_database
    from gateway.crm.progress import Progress

    url = args.settings.crm_url
    region = args.region or args.settings.gateway.default_region
    try:
        total = count_data_lines(args.csv_file)
    except OSError as exc:
        print(f"ctigw crm import: cannot read {args.csv_file}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    upgrade_database(url)
    progress = Progress(total, "importing", "rows", enabled=not args.no_progress)
    try:
        report = import_customers(url, args.csv_file, region, progress=progress.advance)
    except CsvFormatError as exc:
        print(f"ctigw crm import: {args.csv_file}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    progress.finish()
    print(f"{report.rows} rows read: {report.created} customers created, {report.updated} updated, "
          f"{report.unchanged} unchanged, {report.phones_added} phone numbers added, "
          f"{len(report.errors)} rows rejected")
    for error in report.errors:
        print(f"  {args.csv_file}: {error}")
    return EXIT_ROWS_REJECTED if report.errors else 0


def lookup(args) -> int:
    from gateway.crm.store import CrmStore

    async def run():
        store = await CrmStore.open(args.settings.crm_url, region=args.settings.gateway.default_region,
                                    create_leads=False, lookup_timeout=5.0, sqlite_threads=1, pg_pool_size=1)
        try:
            return await store.lookup(args.number)
        finally:
            await store.close()

    # A loop of its own: the command may run inside a process that already has one (tests).
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        view = runner.run(run())
    if args.json:
        print(json.dumps(view.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_view(view))
    if not view.crm_available:
        return EXIT_CRM_UNAVAILABLE
    return EXIT_KNOWN if view.known else EXIT_NOT_KNOWN


def demo_data(args) -> int:
    from gateway.crm.demo_data import load_demo_data
    from gateway.crm.migrate import upgrade_database
    from gateway.crm.progress import Progress

    if args.customers < 0 or args.activities_per_customer < 0:
        print("ctigw crm demo-data: counts must not be negative", file=sys.stderr)
        return EXIT_BAD_INPUT
    url = args.settings.crm_url
    upgrade_database(url)
    progress = Progress(args.customers + 2, "loading demo data", "customers", enabled=not args.no_progress)
    result = load_demo_data(url, args.customers, args.activities_per_customer, seed=args.seed,
                            replace=args.replace, progress=progress.advance)
    if result.skipped:
        print(f"the CRM already has {result.existing_customers:,} customers; nothing loaded "
              f"(--replace empties it first): {redact_url(url)}")
        return 0
    progress.finish()
    c = result.counts
    print(f"loaded {c.customers:,} customers, {c.phone_numbers:,} phone numbers, {c.activities:,} activities, "
          f"{c.cases:,} cases, {c.orders:,} orders into {redact_url(url)}")
    print("try: ctigw crm lookup 05321234567   (Çağrı Öztürk)   or   ctigw crm lookup +442071234567   (Emily Clarke)")
    return 0


def format_view(view) -> str:
    """The caller view as an agent would read it, for a terminal."""
    ani = view.ani
    if ani.kind != "number":
        what = {"withheld": "caller ID withheld", "anonymous": "anonymous caller", "unknown": "caller ID unknown",
                "empty": "no caller ID", "invalid": "not a phone number"}[ani.kind]
        return f"{what}: {ani.display!r}" if ani.display else what
    number = f"{ani.display} ({ani.region})"
    if not view.crm_available:
        return f"{number}\n  CRM unavailable: caller shown as unknown"
    if not view.known:
        return f"{number}\n  unknown caller: no customer has this number"
    t = _text
    lines = [
        f"{t(view.name) or '(lead, no name yet)'}  customer {view.customer_id}, account {view.account_number or '-'}",
        f"  number        {number}",
        f"  language      {view.language or '-'}    tier {view.tier}    segment {view.segment or '-'}"
        f"    lifetime value {view.lifetime_value}",
        f"  calls, 7 days {view.calls_last_7_days}" + ("  (repeat caller)" if view.repeat_caller else "")
        + f"    last agent {view.last_agent_id or '-'}",
    ]
    if view.notes:
        lines.append(f"  notes         {t(view.notes, 100)}")
    if view.open_cases:
        lines.append("  open cases")
        for case in view.open_cases:
            lines.append(f"    #{case.id:<6} {t(case.subject, 40):<40} {case.status:<8} {case.priority:<7} "
                         f"opened {case.opened_at:%Y-%m-%d}  owner {case.owner or '-'}")
    else:
        lines.append("  open cases    none")
    if view.recent_activities:
        lines.append("  recent activity")
        for act in view.recent_activities:
            lines.append(f"    {act.occurred_at:%Y-%m-%d %H:%M}  {act.kind:<11} {act.outcome or '':<15} "
                         f"{act.agent_id or '-':<9} {t(act.summary, 60)}")
    return "\n".join(lines)


def _text(value: str | None, limit: int = 200) -> str:
    # Names and summaries come from the database (imports, agents): keep the terminal safe.
    return safe_display(value, limit) if value else ""
