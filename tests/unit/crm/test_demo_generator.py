"""The demo data generator: valid, unique numbers; the fixed customers; Turkish letters."""
import random

from gateway.crm.demo_data import (
    ACTIVITY_COLUMNS,
    CAGRI_ACCOUNT,
    CAGRI_NUMBER,
    CUSTOMER_COLUMNS,
    EMILY_NUMBER,
    DemoGenerator,
    account_number,
    tr_landline,
    tr_mobile,
    uk_landline,
    uk_mobile,
)
from gateway.crm.numbers import classify_ani


def test_generated_numbers_are_valid_and_normalise_to_themselves():
    rng = random.Random(5)
    for make in (tr_mobile, tr_landline, uk_mobile, uk_landline):
        for index in [0, 1, 2, 999_999, 5_000_000] + [rng.randrange(20_000_000) for _ in range(300)]:
            number = make(index)
            assert classify_ani(number, "TR").e164 == number, (make.__name__, index, number)


def test_generated_numbers_and_accounts_never_repeat_or_hit_the_fixed_ones():
    count = 200_000
    for make in (tr_mobile, tr_landline, uk_mobile, uk_landline):
        numbers = {make(i) for i in range(count)}
        assert len(numbers) == count
        assert CAGRI_NUMBER not in numbers and EMILY_NUMBER not in numbers
    accounts = {account_number(i) for i in range(count)}
    assert len(accounts) == count and CAGRI_ACCOUNT not in accounts


def test_fixed_customers_and_a_batch():
    gen = DemoGenerator(activities_per_customer=4, seed=2)
    fixed = gen.fixed()
    names = {row[2] for row in fixed["customers"]}
    assert names == {"Çağrı Öztürk", "Emily Clarke"}
    batch = gen.batch(0, 500)
    assert len(batch["customers"]) == 500 and len(batch["activities"]) == 2000
    assert all(len(r) == len(CUSTOMER_COLUMNS) for r in batch["customers"])
    assert all(len(r) == len(ACTIVITY_COLUMNS) for r in batch["activities"])
    text = " ".join(r[2] for r in batch["customers"])
    assert set("çğıöşü") & set(text.lower()) == set("çğıöşü")
    assert {r[5] for r in batch["customers"]} == {"platinum", "gold", "silver", "bronze", "standard"}
    assert {r[3] for r in batch["customers"]} == {"tr", "en"}


def test_the_same_seed_gives_the_same_data():
    a = DemoGenerator(seed=9, now=None)
    b = DemoGenerator(seed=9, now=a.now)
    assert a.batch(0, 50) == b.batch(0, 50)
