"""ANI classification: every form of one number gives one E.164; hostile input never raises."""
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.crm.numbers import DISPLAY_LENGTH, KINDS, classify_ani, language_for_region, safe_display

E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@pytest.mark.parametrize("raw", [
    "05321234567", "5321234567", "905321234567", "00905321234567", "+905321234567",
    "+90 532 123 45 67", "0532 123 45 67", "(0532) 123-45-67", "0532.123.45.67", " 05321234567 ",
    "sip:+905321234567@carrier.example", "<sip:05321234567@10.0.0.1>", "tel:+905321234567", b"05321234567",
])
def test_every_form_of_a_turkish_mobile_is_one_e164(raw):
    ani = classify_ani(raw, "TR")
    assert (ani.kind, ani.e164, ani.region) == ("number", "+905321234567", "TR")
    assert ani.display == "+90 532 123 45 67"


@pytest.mark.parametrize("raw", ["+442071234567", "00442071234567", "442071234567", "+44 20 7123 4567"])
def test_a_london_number_from_turkey(raw):
    assert classify_ani(raw, "TR").e164 == "+442071234567"


def test_national_form_depends_on_the_region():
    assert classify_ani("020 7123 4567", "GB").e164 == "+442071234567"
    assert classify_ani("020 7123 4567", "TR").kind == "invalid"


@pytest.mark.parametrize("raw, kind", [
    (None, "empty"), ("", "empty"), ("   ", "empty"), ('""', "empty"), ("<>", "empty"),
    ("anonymous", "anonymous"), ("Anonymous", "anonymous"), ("sip:anonymous@anonymous.invalid", "anonymous"),
    ("<sip:anonymous@anonymous.invalid>", "anonymous"),
    ("Restricted", "withheld"), ("PRIVATE", "withheld"), ("withheld", "withheld"), ("Gizli Numara", "withheld"),
    ("unknown", "unknown"), ("Unavailable", "unknown"), ("out of area", "unknown"), ("O", "unknown"),
    ("1001", "invalid"), ("12", "invalid"), ("+999123456789", "invalid"), ("05321234567x", "invalid"),
    ("'; DROP TABLE customers; --", "invalid"), ("0532'1234567", "invalid"), ('"05321234567', "invalid"),
    ("0532\x001234567", "invalid"), ("\x00", "invalid"), ("\x1b[31m05321234567", "invalid"),
    ("0532\u202e1234567", "invalid"), ("☎️05321234567", "invalid"), ("😀", "invalid"), ("٠٥٣٢١٢٣٤٥٦٧", "invalid"),
    ("0" * 65, "invalid"), ("5" * 10_240, "invalid"), ("x" * 10_240, "invalid"), (12345, "invalid"),
])
def test_what_is_not_a_number_is_classified(raw, kind):
    ani = classify_ani(raw, "TR")
    assert ani.kind == kind
    assert ani.e164 is None


def test_display_is_safe_and_short():
    ani = classify_ani("\x1b[2J\x00evil\u202e" + "A" * 10_000, "TR")
    assert ani.kind == "invalid"
    assert len(ani.display) <= DISPLAY_LENGTH
    assert all(unicodedata.category(ch)[0] != "C" for ch in ani.display)
    assert ani.display.startswith("[2Jevil")


def test_safe_display_keeps_unicode_letters():
    assert safe_display("Çağrı Öztürk") == "Çağrı Öztürk"
    assert safe_display("a\tb\nc") == "a b c"


def test_language_guess_from_the_number():
    assert language_for_region("TR") == "tr"
    assert language_for_region("GB") == "en"
    assert language_for_region(None) is None


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=200), st.binary(max_size=200), st.integers()),
       st.sampled_from(["TR", "GB", "US", "", "zz"]))
def test_never_raises_and_e164_is_plain_digits(raw, region):
    ani = classify_ani(raw, region)
    assert ani.kind in KINDS
    assert (ani.kind == "number") == (ani.e164 is not None)
    if ani.e164 is not None:
        assert E164.fullmatch(ani.e164)
    assert len(ani.display) <= DISPLAY_LENGTH
    assert all(unicodedata.category(ch)[0] != "C" for ch in ani.display)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"\A5[345][0-9]{8}\Z"), st.sampled_from(["0{}", "90{}", "0090{}", "+90{}", "+90 {}"]))
def test_any_turkish_mobile_in_any_form_normalises_the_same(national, form):
    expected = classify_ani("+90" + national, "TR")
    if expected.kind != "number":
        return  # not an allocated range
    assert classify_ani(form.format(national), "TR").e164 == expected.e164
