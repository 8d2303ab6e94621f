"""Search, the customer view, linking numbers, new customers and cases, on SQLite and PostgreSQL."""
import pytest

from gateway.crm.directory import (
    CaseNotFound,
    CustomerDirectory,
    CustomerNotFound,
    DirectoryError,
    NumberTaken,
)
from gateway.crm.demo_data import CAGRI_ACCOUNT, CAGRI_NUMBER
from gateway.crm.activities import ActivityLog, CallActivity
from gateway.crm.folding import fold_name

HOSTILE_NAMES = [
    "<img src=x onerror=alert(1)>",
    "Robert'); DROP TABLE customers; --",
    "%_\\ Yüzde",
]


@pytest.fixture
async def directory(demo_url):
    directory = await CustomerDirectory.open(demo_url, region="TR")
    yield directory
    await directory.close()


def names(hits):
    return [h.name for h in hits]


@pytest.mark.parametrize("typed", ["ISIK", "ışık", "Işık", "isik", "IŞIK", "işık"])
async def test_turkish_names_are_found_however_they_are_typed(directory, typed):
    customer_id = await directory.create_customer("Ayşe Işık", "tr", "+905551112233")
    hits = await directory.search_by_name(typed, limit=50)
    assert customer_id in [h.id for h in hits]
    assert all(any(word.startswith("isik") for word in fold_name(h.name).split()) for h in hits)


@pytest.mark.parametrize("typed", ["çağrı öztürk", "CAGRI OZTURK", "Çağrı", "ÖZTÜRK", "ozt", "öztürk çağ"])
async def test_dotted_capital_i_and_the_other_turkish_letters(directory, typed):
    hits = await directory.search(typed)
    assert "Çağrı Öztürk" in names(hits)


async def test_words_match_the_start_of_a_word_not_the_middle(directory):
    await directory.create_customer("Ayşe Işık", "tr")
    assert "Ayşe Işık" in names(await directory.search_by_name("ışı"))
    assert "Ayşe Işık" not in names(await directory.search_by_name("şık"))  # "sik" is inside "isik"


async def test_the_exact_name_comes_first(directory):
    await directory.create_customer("Ali Işık Yılmaz", "tr")
    await directory.create_customer("Ali Işık", "tr")
    hits = await directory.search_by_name("ali ışık")
    assert hits[0].name == "Ali Işık"
    assert "Ali Işık Yılmaz" in names(hits)


async def test_search_by_account_number_and_by_phone_in_any_format(directory):
    (by_account,) = await directory.search(CAGRI_ACCOUNT)
    assert (by_account.id, by_account.matched_by) == (1, "account_number")
    for typed in ("05321234567", "+90 532 123 45 67", "0090 (532) 123-45-67", "5321234567"):
        (hit,) = await directory.search(typed)
        assert (hit.id, hit.matched_by, hit.phones) == (1, "phone", [CAGRI_NUMBER])
    (emily,) = await directory.search_by_phone("+44 20 7123 4567")
    assert emily.name == "Emily Clarke"
    assert await directory.search("+90 555 000 00 00") == []


@pytest.mark.parametrize("typed", ["", "   ", "a", "%", "__", "x" * 10_000, None, 42])
async def test_search_refuses_what_it_cannot_search_for(directory, typed):
    with pytest.raises(DirectoryError):
        await directory.search(typed)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_names_are_stored_and_found_as_data(directory, name, sql, demo_url):
    customer_id = await directory.create_customer(name, "en")
    view = await directory.customer_view(customer_id)
    assert view.name == name
    assert customer_id in [h.id for h in await directory.search(name)]
    assert sql.counts(demo_url)["customers"] == 43  # 42 demo customers and this one; nothing dropped


async def test_like_wildcards_typed_by_an_agent_match_only_themselves(directory):
    await directory.create_customer("%_\\ Yüzde", "tr")
    hits = await directory.search_by_name("%_ yuz")
    assert names(hits) == ["%_\\ Yüzde"]


async def test_the_customer_view(directory):
    view = await directory.customer_view(1)
    assert (view.name, view.account_number, view.tier, view.language) == ("Çağrı Öztürk", CAGRI_ACCOUNT, "gold", "tr")
    assert [p.e164 for p in view.phones] == [CAGRI_NUMBER]
    assert [c.subject for c in view.cases][0] == "Fatura itirazı"  # the open case first
    assert {c.subject for c in view.cases} == {"Fatura itirazı", "Modem değişimi"}
    assert [o.order_number for o in view.orders] == ["SP-000000002", "SP-000000001"]  # newest first
    times = [a.occurred_at for a in view.activities.items]
    assert times == sorted(times, reverse=True) and len(times) == 6
    data = view.to_dict()
    assert data["orders"][0]["total"] == "3499.00" and data["activities"]["next_before"] is None


async def test_the_activity_history_pages_back_to_the_first_contact(directory):
    seen, before = [], None
    while True:
        page = await directory.activities(1, before=before, limit=4)
        seen += [a.id for a in page.items]
        if page.next_before is None:
            break
        before = page.next_before
    full = await directory.customer_view(1, activity_limit=100)
    assert seen == [a.id for a in full.activities.items] and len(seen) == 6
    assert (await directory.activities(2, before=seen[0])).items == []  # another customer's cursor shows nothing


async def test_an_unknown_customer(directory):
    with pytest.raises(CustomerNotFound):
        await directory.customer_view(999_999)
    with pytest.raises(DirectoryError):
        await directory.customer_view("1; DROP TABLE customers")


async def test_linking_a_number_and_the_next_call_finds_the_customer(directory, store):
    assert not (await store.lookup("+905559876543")).known
    assert await directory.link_number(2, "0555 987 65 43", label="mobile") == "+905559876543"
    view = await store.lookup("05559876543")
    assert (view.known, view.customer_id, view.name) == (True, 2, "Emily Clarke")
    assert [p.is_primary for p in (await directory.customer_view(2)).phones] == [True, False]


async def test_a_number_of_another_customer_is_not_taken_away(directory):
    with pytest.raises(NumberTaken) as caught:
        await directory.link_number(2, CAGRI_NUMBER)
    assert caught.value.owner_id == 1


async def test_a_leads_number_and_calls_move_to_the_customer(demo_url, directory, tmp_path, sql):
    from gateway.crm.store import CrmStore

    leads = await CrmStore.open(demo_url, region="TR", create_leads=True)
    try:
        lead = await leads.lookup("+905559876543")
        assert lead.lead_created
        log = ActivityLog(leads, tmp_path / "spool.sqlite3")
        await log.record_call(CallActivity(linkedid="1764000000.1", raw_ani="+905559876543", outcome="answered"))
        await log.close()
        await directory.link_number(2, "+905559876543", linkedid="1764000000.1")
        assert (await leads.lookup("+905559876543")).customer_id == 2
    finally:
        await leads.close()
    assert sql.rows(demo_url, "SELECT customer_id FROM activities WHERE linkedid = '1764000000.1'") == [(2,)]


async def test_creating_a_customer_from_an_unknown_call(directory, store, tmp_path, sql, demo_url):
    log = ActivityLog(store, tmp_path / "spool.sqlite3")
    await log.record_call(CallActivity(linkedid="1764000000.2", raw_ani="05559876543", outcome="answered"))
    await log.close()
    customer_id = await directory.create_customer("  Şükrü   Işık ", "TR", "05559876543", linkedid="1764000000.2")
    view = await store.lookup("+905559876543")
    assert (view.customer_id, view.name, view.language, view.is_lead) == (customer_id, "Şükrü Işık", "tr", False)
    assert [a.summary for a in view.recent_activities] == ["Inbound call: answered"]
    with pytest.raises(NumberTaken):
        await directory.create_customer("Someone Else", "en", "05559876543")


@pytest.mark.parametrize("name, language", [("", "tr"), ("x" * 201, "tr"), ("Ali\x00Veli", "tr"), ("Ali", "turkish")])
async def test_a_new_customer_needs_a_clean_name_and_language(directory, name, language):
    with pytest.raises(DirectoryError):
        await directory.create_customer(name, language, "05559876543")


async def test_cases_open_update_and_close(directory):
    case = await directory.open_case(2, "Faturada çift ücret", priority="high", owner="1003")
    assert (case.status, case.priority, case.owner) == ("open", "high", "1003")
    assert case.id in [c.id for c in await directory.open_cases(2)]
    pending = await directory.update_case(2, case.id, status="pending", priority="urgent")
    assert (pending.status, pending.priority) == ("pending", "urgent")
    await directory.update_case(2, case.id, status="resolved")
    assert case.id not in [c.id for c in await directory.open_cases(2)]
    with pytest.raises(CaseNotFound):  # closed now: no more updates through the wrap-up
        await directory.update_case(2, case.id, status="open")


async def test_a_case_of_another_customer_cannot_be_updated(directory):
    (dispute,) = await directory.open_cases(1)
    with pytest.raises(CaseNotFound):
        await directory.update_case(2, dispute.id, status="closed")
    with pytest.raises(DirectoryError):
        await directory.update_case(1, dispute.id, status="deleted")
    with pytest.raises(DirectoryError):
        await directory.open_case(1, "x" * 10_000)


async def test_a_crm_that_is_away_says_so_and_is_used_again_when_back(outage_crm):
    from gateway.crm.backend import CrmUnavailable

    outage, url = outage_crm
    directory = await CustomerDirectory.open(url, region="TR")
    try:
        assert names(await directory.search("05321234567")) == ["Çağrı Öztürk"]
        outage.stop()
        with pytest.raises(CrmUnavailable):
            await directory.search("05321234567")
        outage.start()
        assert names(await directory.search("05321234567")) == ["Çağrı Öztürk"]
    finally:
        await directory.close()


async def test_imported_customers_are_found_by_name_and_a_renamed_one_by_the_new_name(directory, demo_url, tmp_path):
    from gateway.crm.importer import import_customers

    csv_file = tmp_path / "customers.csv"
    csv_file.write_text("account_number,name,phone\nA-77,IŞIL GÜNDÜZ,05551230000\n", encoding="utf-8")
    import_customers(demo_url, csv_file, region="TR")
    [hit] = [h for h in await directory.search("ışıl gündüz") if h.account_number == "A-77"]
    csv_file.write_text("account_number,name,phone\nA-77,Işıl Çakır,05551230000\n", encoding="utf-8")
    import_customers(demo_url, csv_file, region="TR")
    assert hit.id in [h.id for h in await directory.search("isil cakir")]
    assert hit.id not in [h.id for h in await directory.search("ışıl gündüz")]


def test_the_migration_folds_the_names_already_in_the_crm(crm_url, sql):
    from alembic import command
    from sqlalchemy import text

    from gateway.crm.migrate import alembic_config, sync_engine, upgrade_database

    engine = sync_engine(crm_url)
    try:
        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), "0001")
            conn.commit()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO customers (name, created_at, updated_at) "
                              "VALUES ('İSMAİL IŞIK', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    finally:
        engine.dispose()
    upgrade_database(crm_url)
    assert sql.rows(crm_url, "SELECT name_folded FROM customers") == [("ismail isik",)]


# -- a call linked while it is live ----------------------------------------------------------
# The gateway that holds the call looked the caller up when the call came in (a lead for an
# unknown number) and writes the call's one activity when it ends, with that customer id. The
# agent's link goes through the directory, maybe on another gateway: only the database joins
# the two. `gateway_store` and `directory` here are separate connections, as they would be.
UNKNOWN = "+905559876543"


@pytest.fixture
async def gateway_store(demo_url):
    from gateway.crm.store import CrmStore

    store = await CrmStore.open(demo_url, region="TR", create_leads=True)
    yield store
    await store.close()


async def _call_ends(store, tmp_path, linkedid, caller, raw_ani=UNKNOWN):
    """The gateway's end-of-call write (app.Gateway._write_activity): the customer it looked up."""
    log = ActivityLog(store, tmp_path / "spool.sqlite3")
    try:
        await log.record_call(CallActivity(linkedid=linkedid, raw_ani=raw_ani, customer_id=caller.customer_id,
                                           outcome="answered", agent_id="1001", queue="general"))
    finally:
        await log.close()


def _call_owner(sql, url, linkedid):
    return sql.rows(url, "SELECT customer_id FROM activities WHERE linkedid = :linkedid", linkedid=linkedid)


@pytest.mark.parametrize("before_link", ["nothing", "wrapup"])
async def test_a_number_linked_during_the_call_takes_the_call_with_it(
        demo_url, directory, gateway_store, tmp_path, sql, before_link):
    caller = await gateway_store.lookup(UNKNOWN)
    assert caller.is_lead and caller.lead_created
    if before_link == "wrapup":  # the agent saved the wrap-up form before the call's own write
        log = ActivityLog(gateway_store, tmp_path / "wrapup-spool.sqlite3")
        await log.add_wrapup("1764000100.1", "1001", "resolved", "linked the caller")
        await log.close()
    await directory.link_number(2, "0555 987 65 43", linkedid="1764000100.1")
    await _call_ends(gateway_store, tmp_path, "1764000100.1", caller)
    assert _call_owner(sql, demo_url, "1764000100.1") == [(2,)]
    assert sql.rows(demo_url, "SELECT count(*) FROM activities WHERE customer_id = :lead",
                    lead=caller.customer_id) == [(0,)]
    again = await gateway_store.lookup(UNKNOWN)  # the next call from the number pops the customer
    assert (again.customer_id, again.name, again.is_lead) == (2, "Emily Clarke", False)


async def test_a_number_linked_without_naming_the_call_still_takes_it(demo_url, directory, gateway_store,
                                                                      tmp_path, sql):
    caller = await gateway_store.lookup(UNKNOWN)
    await directory.link_number(2, UNKNOWN)
    await _call_ends(gateway_store, tmp_path, "1764000100.2", caller)
    assert _call_owner(sql, demo_url, "1764000100.2") == [(2,)]


async def test_a_call_linked_to_a_customer_under_another_number_is_theirs(demo_url, directory, gateway_store,
                                                                          tmp_path, sql):
    """The caller rang from a number nobody knows and gave the agent their usual one."""
    caller = await gateway_store.lookup(UNKNOWN)
    await directory.link_number(2, "+905551110099", linkedid="1764000100.3")
    await _call_ends(gateway_store, tmp_path, "1764000100.3", caller)
    assert _call_owner(sql, demo_url, "1764000100.3") == [(2,)]
    assert (await gateway_store.lookup(UNKNOWN)).customer_id == caller.customer_id  # that number stays the lead's


async def test_a_customer_created_during_the_call_gets_the_call(demo_url, directory, gateway_store, tmp_path, sql):
    caller = await gateway_store.lookup(UNKNOWN)
    customer_id = await directory.create_customer("Şükrü Işık", "tr", UNKNOWN, linkedid="1764000100.4")
    await _call_ends(gateway_store, tmp_path, "1764000100.4", caller)
    assert _call_owner(sql, demo_url, "1764000100.4") == [(customer_id,)]
    again = await gateway_store.lookup(UNKNOWN)
    assert (again.customer_id, again.name, again.is_lead) == (customer_id, "Şükrü Işık", False)
    assert [a.summary for a in again.recent_activities] == ["Inbound call: answered, agent 1001, queue general"]


async def test_a_customer_created_under_another_number_during_the_call_gets_the_call(
        demo_url, directory, gateway_store, tmp_path, sql):
    caller = await gateway_store.lookup(UNKNOWN)
    customer_id = await directory.create_customer("Şükrü Işık", "tr", "+905551110099", linkedid="1764000100.5")
    await _call_ends(gateway_store, tmp_path, "1764000100.5", caller)
    assert _call_owner(sql, demo_url, "1764000100.5") == [(customer_id,)]


async def test_a_known_customers_call_stays_theirs_whatever_is_linked_during_it(
        demo_url, directory, gateway_store, tmp_path, sql):
    caller = await gateway_store.lookup(CAGRI_NUMBER)
    assert caller.customer_id == 1 and not caller.is_lead
    await directory.link_number(2, "+905551110099", linkedid="1764000100.6")
    await _call_ends(gateway_store, tmp_path, "1764000100.6", caller, raw_ani=CAGRI_NUMBER)
    assert _call_owner(sql, demo_url, "1764000100.6") == [(1,)]
