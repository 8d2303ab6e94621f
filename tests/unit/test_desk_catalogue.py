"""Every string the agent desk shows (its template, the strings its script gets, the not-ready
reasons and case statuses) has its Turkish in the one catalogue."""
import re
from pathlib import Path

from babel.messages.pofile import read_po

from gateway.desk import resources
from gateway.web.i18n import LOCALE_DIR

DESK = Path(resources.__file__).resolve().parent
CALLS = re.compile(r"""(?<!\w)_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""")


def desk_messages() -> set[str]:
    found = set()
    for path in (*DESK.glob("*.py"), *(DESK / "templates").glob("*.html")):  # the page and its panels
        found |= {a or b for a, b in CALLS.findall(path.read_text(encoding="utf-8"))}
    return found | set(resources.REASON_LABELS.values()) | set(resources.CASE_STATUS_LABELS.values()) \
        | set(resources.CASE_PRIORITY_LABELS.values())


def test_every_desk_string_is_in_the_turkish_catalogue():
    with (LOCALE_DIR / "tr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalogue = read_po(fh, locale="tr")
    messages = desk_messages()
    assert len(messages) > 80
    missing = sorted(m for m in messages if not (catalogue.get(m) and catalogue.get(m).string))
    assert missing == []


def test_the_page_strings_are_all_translated_for_a_turkish_agent():
    from gateway.web.i18n import translations

    strings = resources._strings(translations("tr").gettext, [("break", "Mola"), ("lunch", "Yemek")])
    assert strings["state"]["available"] == "Hazır" and strings["reason"]["lunch"] == "Yemek"
    assert strings["withdrawn"]["caller_hung_up"] == "Arayan siz cevaplamadan kapattı."
    assert strings["case_status"]["resolved"] == "Çözüldü"
    assert strings["customers"]["link"] == "Arayanın numarasını bağla"
