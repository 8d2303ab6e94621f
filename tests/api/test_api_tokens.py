"""Bearer tokens: issue, verify, tamper, wrong secret; the authorization rules."""
import pytest

from gateway.acd.queue_config import load_queue_config
from gateway.acd.roster import load_roster
from gateway.api.auth import (Principal, TokenError, TokenSecretError, issue_token, may_access_agent,
                              may_read_queue, read_token_unverified, verify_token)
from gateway.config import Settings

SECRET = "s3cret-s3cret-s3cret"


def test_a_token_names_its_principal():
    assert verify_token(SECRET, issue_token(SECRET, "agent", "1001")) == Principal("agent", "1001")
    assert verify_token(SECRET.encode(), issue_token(SECRET, "supervisor", "billing")) == Principal("supervisor", "billing")


def test_a_token_signed_with_another_secret_is_refused():
    with pytest.raises(TokenError):
        verify_token(SECRET, issue_token("another-secret-of-length", "agent", "1001"))


def test_tampered_tokens_are_refused():
    good = issue_token(SECRET, "agent", "1001")
    payload, signature = good.split(".")
    forged_payload = issue_token("whatever-secret-123", "supervisor", "billing").split(".")[0]
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (f"{forged_payload}.{signature}", f"{payload}.{flipped}", payload, f"{payload}.", f".{signature}",
                good + "x", good + ".x", "", "a.b", "not a token!", "é." + signature, good * 10):
        with pytest.raises(TokenError):
            verify_token(SECRET, bad)


def test_errors_never_contain_the_token_or_the_secret():
    token = issue_token(SECRET, "agent", "1001")
    with pytest.raises(TokenError) as caught:
        verify_token(SECRET + "x", token)
    assert token not in str(caught.value) and SECRET not in str(caught.value)


def test_secrets_must_be_long_enough_and_principals_well_formed():
    for secret in ("", "short", None):
        with pytest.raises(TokenSecretError):
            issue_token(secret, "agent", "1001")
        with pytest.raises(TokenSecretError):
            verify_token(secret, "x.y")
    for role, subject in (("admin", "x"), ("agent", ""), ("agent", "10 01"), ("supervisor", "a:b"), ("agent", "x" * 65)):
        with pytest.raises(ValueError):
            issue_token(SECRET, role, subject)


def test_who_may_reach_which_agent_and_queue():
    settings = Settings()
    roster = load_roster(settings.acd.roster)
    queues = load_queue_config(settings.acd.roster.replace("roster.yaml", "queues.yaml"), roster=roster)
    agent, billing = Principal("agent", "1001"), Principal("supervisor", "billing")
    assert may_access_agent(agent, "1001", roster) and not may_access_agent(agent, "1002", roster)
    assert roster.agent("1002").team == "billing" and roster.agent("1004").team == "support"
    assert may_access_agent(billing, "1002", roster) and not may_access_agent(billing, "1004", roster)
    assert not may_access_agent(billing, "9999", roster)
    assert not may_access_agent(Principal("root", "1001"), "1001", roster)
    assert may_read_queue(billing, "billing", queues) and not may_read_queue(billing, "support", queues)
    assert not may_read_queue(agent, "billing", queues) and not may_read_queue(billing, "nosuch", queues)


def test_a_token_expires_and_each_has_its_own_id():
    token = issue_token(SECRET, "agent", "1001", ttl=60, now=1_000_000)
    who = verify_token(SECRET, token, now=1_000_059)
    assert who == Principal("agent", "1001") and who.expires_at == 1_000_060
    with pytest.raises(TokenError, match="expired"):
        verify_token(SECRET, token, now=1_000_060)
    ids = {verify_token(SECRET, issue_token(SECRET, "agent", "1001")).token_id for _ in range(50)}
    assert len(ids) == 50
    for ttl in (0, -5):
        with pytest.raises(ValueError):
            issue_token(SECRET, "agent", "1001", ttl=ttl)


def test_a_token_can_be_read_without_the_secret_to_revoke_it():
    from gateway.api.auth import read_token_unverified

    token = issue_token(SECRET, "supervisor", "billing", ttl=3600)
    said = read_token_unverified(token)
    assert said == Principal("supervisor", "billing")
    assert said.token_id == verify_token(SECRET, token).token_id
    with pytest.raises(TokenError):
        read_token_unverified("garbage")


def test_a_token_id_can_always_be_typed_after_api_token_revoke():
    # An id starting with "-" would be read as an option by the revoke command.
    ids = [read_token_unverified(issue_token(SECRET, "agent", "1001")).token_id for _ in range(300)]
    assert len(set(ids)) == 300 and not [i for i in ids if i.startswith("-")]
