"""`ctigw crm ...` against real databases: import with bad rows, lookup, demo data, migrate."""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import crm as crm_cli
from gateway.config import Settings
from gateway.crm.migrate import head_revision

ROOT = Path(__file__).resolve().parents[2]


def ctigw_crm(url: str, *argv: str) -> int:
    """Run `ctigw crm ARGV` in-process with the CRM at `url` (what main() would do)."""
    parser = argparse.ArgumentParser(prog="ctigw")
    crm_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["crm", *argv])
    args.settings = Settings()
    args.settings.crm.url = url
    return args.func(args)


CSV = """account_number,name,phone,language,tier,segment,lifetime_value,notes
50000001,Ayşe Yılmaz,0532 111 22 33,tr,gold,consumer,"12.500,00",VIP müşteri
50000002,Oliver Smith,+44 7400 111222; +44 20 7946 0002,en,silver,business,3100.50,
50000003,,05321112234,tr,bronze,,,name is missing
50000004,Şükrü Çetin,0532 11,tr,bronze,,,phone too short
50000005,Gülşen Kaya,05321112235,tr,diamond,,,no such tier
50000006,Barış Doğan,05321112236,Turkish,silver,,,bad language
50000007,Ömer Kılıç,05321112237,tr,silver,,-10,negative value
50000001,Ayşe Yılmaz Again,05321112238,tr,gold,,,account twice in the file
50000009,Işıl Ünal,0532 111 22 33,tr,gold,,,phone twice in the file
99999999,Çağrı Başka,+905321234567,tr,gold,,,Çağrı's number under another account
,,,,,,,
50000011,Tuğçe Aslan,'; DROP TABLE customers; --,tr,gold,,,SQL as a phone
50000012,Buğra Polat,05321112240,tr,silver,,,"multi
line note"
50000013,Zeynep Arslan,05321112241,tr,standard,,,"ok",extra field
,Cansu Öz,,tr,gold,,,no key at all
50000015,Öykü Şahin,+90 (216) 555 44 33,,platinum,business,1000000,
"""


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    with open(path, "ab") as handle:
        handle.write("50000016,Bad Bytes \xff\xfe,05321112243,tr,gold,,,\n".encode("latin-1"))
    return path


def test_import_reports_bad_rows_and_imports_the_good_ones(demo_url, csv_file, capsys, sql):
    before = sql.counts(demo_url)["customers"]
    assert ctigw_crm(demo_url, "import", str(csv_file), "--no-progress") == 1
    out = capsys.readouterr().out
    assert "16 rows read: 4 customers created, 0 updated, 0 unchanged" in out
    expected_errors = {
        4: "name is empty", 5: "'0532 11' is not a valid number", 6: "tier 'diamond'", 7: "language 'turkish'",
        8: "lifetime value '-10'", 9: "account number 50000001 already on line 2",
        10: "phone +905321112233 already on line 2",
        11: "belongs to the customer with account 12345678",
        13: "is not a valid number", 16: "9 fields, but the header has 8",
        17: "needs an account number or a phone", 19: "not valid UTF-8",
    }
    for line, reason in expected_errors.items():
        assert any(f"line {line}: " in l and reason in l for l in out.splitlines()), (line, reason, out)
    assert "12 rows rejected" in out
    assert sql.counts(demo_url)["customers"] == before + 4
    rows = sql.rows(demo_url, "SELECT c.name, c.tier, c.language, c.lifetime_value, p.e164, p.is_primary "
                              "FROM customers c JOIN phone_numbers p ON p.customer_id = c.id "
                              "WHERE c.account_number IN ('50000001', '50000002') ORDER BY p.e164")
    assert [(r[0], r[4]) for r in rows] == [("Oliver Smith", "+442079460002"), ("Oliver Smith", "+447400111222"),
                                            ("Ayşe Yılmaz", "+905321112233")]
    assert float(rows[2][3]) == 12500.0
    notes = sql.rows(demo_url, "SELECT notes FROM customers WHERE account_number = '50000012'")
    assert notes == [("multi\nline note",)]
    assert sql.rows(demo_url, "SELECT name FROM customers WHERE account_number = '12345678'") == [("Çağrı Öztürk",)]


def test_import_twice_changes_nothing_then_updates(demo_url, csv_file, tmp_path, capsys, sql):
    ctigw_crm(demo_url, "import", str(csv_file), "--no-progress")
    counts = sql.counts(demo_url)
    capsys.readouterr()
    assert ctigw_crm(demo_url, "import", str(csv_file), "--no-progress") == 1
    assert "0 customers created, 0 updated, 4 unchanged, 0 phone numbers added" in capsys.readouterr().out
    assert sql.counts(demo_url) == counts
    changed = tmp_path / "changed.csv"
    changed.write_text("phone,name,tier,account_number\n"
                       "05321112233,Ayşe Yılmaz,platinum,\n"  # found by phone: tier changes
                       "05321112240,Buğra Polat,silver,50000012;\n", encoding="utf-8")
    assert ctigw_crm(demo_url, "import", str(changed), "--no-progress") == 1
    out = capsys.readouterr().out
    assert "1 updated, 0 unchanged" in out and "line 3: account number" in out
    assert sql.rows(demo_url, "SELECT tier FROM customers WHERE account_number = '50000001'") == [("platinum",)]


def test_import_turns_a_lead_into_a_customer(demo_url, tmp_path, capsys, sql):
    from gateway.crm.store import CrmStore
    from gateway.loop import install_reactor

    async def make_lead():
        store = await CrmStore.open(demo_url, create_leads=True)
        view = await store.lookup("05335556677")
        await store.close()
        return view

    lead = install_reactor().run_until_complete(make_lead())
    assert lead.lead_created
    path = tmp_path / "c.csv"
    path.write_text("account_number,name,phone\n60000001,Elif Koç,0533 555 66 77\n", encoding="utf-8")
    assert ctigw_crm(demo_url, "import", str(path), "--no-progress") == 0
    assert "1 updated" in capsys.readouterr().out
    assert sql.rows(demo_url, "SELECT id, name, tier, is_lead FROM customers WHERE account_number = '60000001'") == [
        (lead.customer_id, "Elif Koç", "standard", False)]


def test_import_refuses_a_file_it_cannot_use(sqlite_url, tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("id,full name\n1,x\n", encoding="utf-8")
    assert ctigw_crm(sqlite_url, "import", str(path)) == 2
    assert "no 'name' column" in capsys.readouterr().err
    assert ctigw_crm(sqlite_url, "import", str(tmp_path / "nope.csv")) == 2


def test_import_shows_progress(sqlite_url, tmp_path, capsys):
    path = tmp_path / "many.csv"
    lines = ["account_number,name,phone"] + [f"{70000000 + n},Müşteri {n},0532{3000000 + n}" for n in range(3000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert ctigw_crm(sqlite_url, "import", str(path)) == 0
    captured = capsys.readouterr()
    assert "3000 rows read: 3000 customers created" in captured.out
    assert "importing [" in captured.err and "3,000/3,000 rows" in captured.err


def test_lookup_prints_the_view(demo_url, capsys):
    assert ctigw_crm(demo_url, "lookup", "0532 123 45 67") == 0
    out = capsys.readouterr().out
    assert "Çağrı Öztürk" in out and "account 12345678" in out and "Fatura itirazı" in out
    assert "tier gold" in out and "(repeat caller)" in out and "last agent 1006" in out
    assert ctigw_crm(demo_url, "lookup", "+442071234567", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["name"], data["language"], data["tier"]) == ("Emily Clarke", "en", "silver")
    assert ctigw_crm(demo_url, "lookup", "05329999999") == 1
    assert "unknown caller" in capsys.readouterr().out
    assert ctigw_crm(demo_url, "lookup", "'; DROP TABLE customers; --") == 1
    assert "not a phone number" in capsys.readouterr().out


def test_lookup_with_the_crm_down(tmp_path, capsys):
    assert ctigw_crm(f"sqlite:///{tmp_path / 'gone.sqlite3'}", "lookup", "05321234567") == 3
    assert "CRM unavailable" in capsys.readouterr().out


def test_demo_data_and_migrate(sqlite_url, capsys, sql):
    assert ctigw_crm(sqlite_url, "migrate") == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out
    assert ctigw_crm(sqlite_url, "demo-data", "--customers", "300", "--activities-per-customer", "4",
                     "--no-progress") == 0
    assert "loaded 302 customers" in capsys.readouterr().out
    counts = sql.counts(sqlite_url)
    assert counts["customers"] == 302 and counts["activities"] == 300 * 4 + 9
    assert ctigw_crm(sqlite_url, "demo-data", "--customers", "10", "--no-progress") == 0  # safe to re-run
    assert "already has 302 customers; nothing loaded" in capsys.readouterr().out
    assert ctigw_crm(sqlite_url, "demo-data", "--customers", "10", "--replace", "--no-progress") == 0
    assert sql.counts(sqlite_url)["customers"] == 12


@pytest.mark.postgres
def test_demo_data_on_postgres_then_new_rows_get_fresh_ids(pg_url, sql):
    assert ctigw_crm(pg_url, "demo-data", "--customers", "200", "--no-progress") == 0
    from gateway.crm.store import CrmStore
    from gateway.loop import install_reactor

    async def lead():
        store = await CrmStore.open(pg_url, create_leads=True)
        view = await store.lookup("05441234567")
        await store.close()
        return view

    view = install_reactor().run_until_complete(lead())
    assert view.lead_created and view.customer_id == 203  # the sequence moved past the loaded ids


def test_the_real_command_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    env = {**os.environ, "CTIGW_CRM_URL": url, "CTIGW_CONFIG": ""}
    ctigw = [sys.executable, "-m", "gateway.cli.main"]
    done = subprocess.run([*ctigw, "crm", "demo-data", "--customers", "20", "--no-progress"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*ctigw, "crm", "lookup", "05321234567"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Çağrı Öztürk" in done.stdout
