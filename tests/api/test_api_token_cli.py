"""`ctigw api-token`: prints a token signed with the configured secret, refuses without one."""
import argparse
import os
from types import SimpleNamespace

import pytest

from gateway.api.auth import Principal, verify_token
from gateway.cli import api_token
from gateway.config import Settings

SECRET = "cli-secret-cli-secret"


def invoke(argv, settings, capsys):
    parser = argparse.ArgumentParser(prog="ctigw")
    api_token.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    args.settings = settings
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def with_secret(secret):
    settings = Settings()
    settings.http = SimpleNamespace(bind="127.0.0.1", port=8088, token_secret=secret)
    return settings


def test_agent_and_supervisor_tokens_from_the_config(capsys, monkeypatch):
    monkeypatch.delenv(api_token.SECRET_ENV, raising=False)
    code, out, err = invoke(["api-token", "--agent", "1001"], with_secret(SECRET), capsys)
    assert code == 0 and err == ""
    assert verify_token(SECRET, out.strip()) == Principal("agent", "1001")
    code, out, _ = invoke(["api-token", "--supervisor", "billing"], with_secret(SECRET), capsys)
    assert code == 0 and verify_token(SECRET, out.strip()) == Principal("supervisor", "billing")


def test_the_environment_supplies_the_secret_when_the_config_has_none(capsys, monkeypatch):
    monkeypatch.setenv(api_token.SECRET_ENV, SECRET)
    code, out, _ = invoke(["api-token", "--agent", "1002"], Settings(), capsys)
    assert code == 0 and verify_token(SECRET, out.strip()) == Principal("agent", "1002")


def test_refuses_without_a_secret_or_with_unknown_ids(capsys, monkeypatch):
    monkeypatch.delenv(api_token.SECRET_ENV, raising=False)
    code, out, err = invoke(["api-token", "--agent", "1001"], Settings(), capsys)
    assert code == 2 and out == "" and "no token secret configured" in err
    code, out, err = invoke(["api-token", "--agent", "1001"], with_secret("short"), capsys)
    assert code == 2 and out == "" and "at least" in err and "short" not in err
    code, out, err = invoke(["api-token", "--agent", "9999"], with_secret(SECRET), capsys)
    assert code == 2 and out == "" and "no agent '9999'" in err
    code, out, err = invoke(["api-token", "--supervisor", "nosuch"], with_secret(SECRET), capsys)
    assert code == 2 and out == "" and "no team 'nosuch'" in err


def test_exactly_one_of_agent_or_supervisor(capsys):
    for argv in (["api-token"], ["api-token", "--agent", "1001", "--supervisor", "billing"]):
        with pytest.raises(SystemExit):
            invoke(argv, with_secret(SECRET), capsys)


def test_ttl_sets_the_expiry(capsys, monkeypatch):
    import time
    monkeypatch.delenv(api_token.SECRET_ENV, raising=False)
    code, out, _ = invoke(["api-token", "--agent", "1001", "--ttl", "8h"], with_secret(SECRET), capsys)
    assert code == 0 and abs(verify_token(SECRET, out.strip()).expires_at - (time.time() + 8 * 3600)) < 5
    code, out, err = invoke(["api-token", "--agent", "1001", "--ttl", "soon"], with_secret(SECRET), capsys)
    assert code == 2 and out == "" and "not a duration" in err


async def test_revoke_by_token_or_by_id_reaches_the_gateways_redis(capsys, monkeypatch, redis_client, key_prefix):
    import asyncio

    from gateway.api.revocations import TokenRevocations

    settings = with_secret(SECRET)
    settings.redis.url = os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings.redis.key_prefix = key_prefix
    revocations = TokenRevocations(redis_client, key_prefix)
    first, second = (verify_token(SECRET, invoke(["api-token", "--agent", "1001"], settings, capsys)[1].strip())
                     for _ in range(2))
    token = invoke(["api-token", "--supervisor", "billing"], settings, capsys)[1].strip()
    code, out, _ = await asyncio.to_thread(invoke, ["api-token", "revoke", token], settings, capsys)
    said = verify_token(SECRET, token)
    assert code == 0 and said.token_id in out and await revocations.is_revoked(said.token_id)
    assert 0 < await redis_client.ttl(f"{key_prefix}:api:revoked:{said.token_id}") <= 30 * 86400 + 1
    code, out, _ = await asyncio.to_thread(invoke, ["api-token", "revoke", first.token_id], settings, capsys)
    assert code == 0 and await revocations.is_revoked(first.token_id)
    assert not await revocations.is_revoked(second.token_id)
    code, out, err = await asyncio.to_thread(invoke, ["api-token", "revoke", "no!"], settings, capsys)
    assert code == 2 and "token id" in err
    for argv in (["api-token", "revoke"], ["api-token", "revoke", "a", "b"], ["api-token", "burn", "x"]):
        with pytest.raises(SystemExit):
            invoke(argv, settings, capsys)
