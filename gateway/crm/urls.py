"""The CRM URL (`[crm] url`), read once into what each driver needs.

The gateway accepts `sqlite:///path`, `postgresql://...` and the SQLAlchemy spellings with a
driver (`sqlite+aiosqlite://`, `postgresql+asyncpg://`, `postgresql+psycopg://`). At run time
it talks to SQLite through the stdlib `sqlite3` and to PostgreSQL through asyncpg; tools
(migrations, import, demo data) use SQLAlchemy's sync engine with sqlite3 or psycopg.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class CrmUrlError(ValueError):
    pass


@dataclass(frozen=True)
class CrmUrl:
    engine: str  # "sqlite" or "postgresql"
    sqlalchemy_url: str  # for a sync SQLAlchemy engine (tools, migrations)
    sqlite_path: Path | None = None
    pg_dsn: str | None = None  # libpq-style URL for asyncpg / psycopg

    @property
    def is_sqlite(self) -> bool:
        return self.engine == "sqlite"


def parse_crm_url(url: str) -> CrmUrl:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise CrmUrlError(f"not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise CrmUrlError("the SQLite CRM needs a file path (sqlite:///path/to/crm.sqlite3)")
        path = Path(parsed.database).expanduser().resolve()
        return CrmUrl("sqlite", f"sqlite:///{path}", sqlite_path=path)
    if backend in ("postgresql", "postgres"):
        plain = parsed.set(drivername="postgresql")
        dsn = plain.render_as_string(hide_password=False)
        return CrmUrl(
            "postgresql",
            plain.set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
            pg_dsn=dsn,
        )
    raise CrmUrlError(f"unsupported CRM database {backend!r}: use sqlite:///... or postgresql://...")
