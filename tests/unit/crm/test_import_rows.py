"""Validating one CSV row of a customer import."""
from decimal import Decimal

import pytest

from gateway.crm.importer import CsvFormatError, CustomerRow, RowError, _header, read_rows, validate_row

COLUMNS = _header(["account_number", "name", "phone", "language", "tier", "segment", "lifetime_value", "notes"])


def row(**cells):
    values = [cells.get(c, "") for c in COLUMNS]
    return validate_row(COLUMNS, values, 7, "TR")


def test_a_good_row():
    result = row(account_number="A-1001", name="Gülşen Yıldız", phone="0532 765 43 21; +44 20 7946 0001",
                 language="TR", tier="Gold", lifetime_value="12345,50", notes="çok iyi\nmüşteri")
    assert isinstance(result, CustomerRow)
    assert result.phones == ["+905327654321", "+442079460001"]
    assert (result.language, result.tier, result.lifetime_value) == ("tr", "gold", Decimal("12345.50"))


@pytest.mark.parametrize("cells, reason", [
    ({"account_number": "1"}, "name is empty"),
    ({"name": "X"}, "needs an account number or a phone"),
    ({"name": "X", "phone": "12"}, "is not a valid number"),
    ({"name": "X", "phone": "'; DROP TABLE customers; --"}, "is not a valid number"),
    ({"name": "X", "account_number": "12 34"}, "account number"),
    ({"name": "X", "account_number": "1234", "tier": "diamond"}, "tier 'diamond'"),
    ({"name": "X", "account_number": "1234", "tier": "lead"}, "tier 'lead'"),
    ({"name": "X", "account_number": "1234", "language": "turkish"}, "language"),
    ({"name": "X", "account_number": "1234", "lifetime_value": "-5"}, "lifetime value"),
    ({"name": "X", "account_number": "1234", "lifetime_value": "lots"}, "lifetime value"),
    ({"name": "X", "account_number": "1234", "lifetime_value": "1e400"}, "lifetime value"),
    ({"name": "X\x00", "account_number": "1234"}, "control characters"),
    ({"name": "X" * 201, "account_number": "1234"}, "longer than 200"),
    ({"name": "bad \ufffd bytes", "account_number": "1234"}, "UTF-8"),
])
def test_bad_rows_say_why(cells, reason):
    result = row(**cells)
    assert isinstance(result, RowError) and result.line == 7
    assert reason in result.reason


@pytest.mark.parametrize("text, value", [
    ("1234.50", "1234.50"), ("1234,5", "1234.50"), ("1,234.50", "1234.50"), ("12.345,50", "12345.50"),
    ("1 000 000", "1000000.00"), ("0", "0.00"),
])
def test_amounts_as_people_type_them(text, value):
    assert row(name="X", account_number="1234", lifetime_value=text).lifetime_value == Decimal(value)


def test_too_many_fields():
    result = validate_row(COLUMNS, ["1234", "X", "", "", "", "", "", "", "extra"], 3, "TR")
    assert isinstance(result, RowError) and "9 fields" in result.reason


def test_header_needs_a_name_and_a_key():
    with pytest.raises(CsvFormatError, match="name"):
        _header(["account_number", "phone"])
    with pytest.raises(CsvFormatError, match="account_number"):
        _header(["name", "tier"])
    assert _header(["Name", "Phones", "whatever"]) == ["name", "phone", None]


def test_line_numbers_survive_quoted_newlines_and_repeats_are_caught(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('name,account_number,phone,notes\n'
                    'Ayşe Kaya,1001,05321110001,"two\nlines"\n'
                    'Ömer Çelik,1001,05321110002,\n'
                    '\n'
                    'Işıl Ünal,1003,05321110001,\n', encoding="utf-8")
    results = list(read_rows(path, "TR"))
    assert isinstance(results[0], CustomerRow) and results[0].line == 2
    assert isinstance(results[1], RowError) and results[1].line == 4 and "already on line 2" in results[1].reason
    assert isinstance(results[2], RowError) and results[2].line == 6 and "phone +905321110001" in results[2].reason
