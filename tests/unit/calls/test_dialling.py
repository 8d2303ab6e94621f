"""Numbers an agent types to dial: normalised to E.164, anything else refused with a reason."""
import pytest

from gateway.calls.dialling import NotDiallable, dialable_number


@pytest.mark.parametrize("typed", ["05321234567", "0532 123 45 67", "(0532) 123-45-67", "+90 532 123 45 67",
                                   "00905321234567", " 0532.123.45.67 "])
def test_turkish_numbers_in_any_usual_form_become_e164(typed):
    assert dialable_number(typed, "TR") == "+905321234567"


def test_the_default_region_reads_national_numbers():
    assert dialable_number("020 7123 4567", "GB") == "+442071234567"
    assert dialable_number("+442071234567", "TR") == "+442071234567"


@pytest.mark.parametrize("typed, reason", [
    ("", "enter the number"),
    ("   ", "enter the number"),
    (None, "enter the number"),
    ("1" * 65, "too long"),
    ("9" * 10_000, "too long"),
    ("0532123456;7", "only digits"),
    ("sip:+905321234567@evil", "only digits"),
    ("05321234567&Dial(PJSIP/1001)", "only digits"),
    ("0532\n1234567", "only digits"),
    ("05321234567\x00", "only digits"),
    ("٠٥٣٢١٢٣٤٥٦٧", "only digits"),  # Arabic-Indic digits: not what the dialplan takes
    ("'; DROP TABLE customers; --", "only digits"),
    ("--- ...", "not a phone number"),
    ("12", "not a valid number"),
    ("0532 123", "not a valid number"),
    ("0900 123 45 67", "premium-rate"),
])
def test_what_is_not_a_callable_number_is_refused_with_a_reason(typed, reason):
    with pytest.raises(NotDiallable, match=reason):
        dialable_number(typed, "TR")
