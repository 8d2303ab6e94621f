"""The environment block and the request path, from the recorded streams and by hand."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agi_fake_asterisk import recorded
from gateway.agi.environment import AgiEnvironment, AgiRequest, EnvironmentReader, parse_env_line
from gateway.agi.errors import MalformedEnvironment


def read_block(data: bytes) -> AgiEnvironment:
    reader = EnvironmentReader()
    for line in data.decode("utf-8").split("\n"):
        env = reader.feed(line)
        if env is not None:
            return env
    raise AssertionError("the block has no terminating empty line")


@pytest.mark.parametrize("name,data,expected", recorded("env"), ids=lambda v: v if isinstance(v, str) else "")
def test_recorded_environment_blocks(name, data, expected):
    env = read_block(data)
    assert {key: env.get(key) for key in expected["env"]} == expected["env"]
    request = AgiRequest.from_environment(env)
    assert (request.path, request.query) == (expected["request"]["path"], expected["request"]["query"])
    assert env.args == expected["args"]
    assert env.channel and env.uniqueid  # every real call has these


def test_properties_and_missing_names():
    env = AgiEnvironment(channel="PJSIP/a-1", callerid="905321234567", extension="100")
    assert (env.channel, env.callerid, env.extension, env.dnid, env.calleridname) == (
        "PJSIP/a-1", "905321234567", "100", "", "")


@pytest.mark.parametrize("line,name,value", [
    ("agi_callerid: 905321234567", "callerid", "905321234567"),
    ("agi_accountcode: ", "accountcode", ""),
    ("agi_accountcode:", "accountcode", ""),
    ("agi_calleridname:  two spaces", "calleridname", " two spaces"),
    ("agi_request: agi://h:4573/x?a=b:c", "request", "agi://h:4573/x?a=b:c"),
])
def test_env_lines(line, name, value):
    assert parse_env_line(line) == (name, value)


@pytest.mark.parametrize("line", ["GET / HTTP/1.1", "agi_: x", "agi_callerid 123", "callerid: 1", "SSH-2.0-OpenSSH"])
def test_garbage_lines(line):
    with pytest.raises(MalformedEnvironment):
        parse_env_line(line)


def test_block_limits():
    with pytest.raises(MalformedEnvironment):
        EnvironmentReader().feed("")  # a block with no lines at all
    reader = EnvironmentReader(max_lines=3)
    for i in range(3):
        reader.feed(f"agi_arg_{i + 1}: x")
    with pytest.raises(MalformedEnvironment):
        reader.feed("agi_arg_4: x")


@pytest.mark.parametrize("script,path,query", [
    ("inbound", "inbound", {}),
    ("inbound?flow=main&dnis=100", "inbound", {"flow": "main", "dnis": "100"}),
    ("/inbound/", "inbound", {}),
    ("agi://127.0.0.1:4573/inbound?flow=main&dnis=100", "inbound", {"flow": "main", "dnis": "100"}),
    ("agi://127.0.0.1/ivr/sales%20line?n=Ay%C5%9Fe&x=a+b", "ivr/sales line", {"n": "Ayşe", "x": "a b"}),
    ("agi://[::1]:4573/inbound?a=1&a=2", "inbound", {"a": "2"}),
    ("agi://[::1/inbound?a=1", "inbound", {"a": "1"}),  # unparsable host: path still found
    ("", "", {}),
])
def test_request_parsing(script, path, query):
    assert AgiRequest.parse(script) == AgiRequest(path, query)


def test_request_falls_back_to_agi_request():
    env = AgiEnvironment(request="agi://10.0.0.5/outbound?campaign=7")
    assert AgiRequest.from_environment(env) == AgiRequest("outbound", {"campaign": "7"})


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_request_parser_never_raises(script):
    request = AgiRequest.parse(script)
    assert isinstance(request.path, str) and isinstance(request.query, dict)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=100), max_size=40))
def test_environment_reader_only_raises_malformed_environment(lines):
    reader = EnvironmentReader(max_lines=20)
    for line in lines:
        try:
            env = reader.feed(line)
        except MalformedEnvironment:
            return
        if env is not None:
            AgiRequest.from_environment(env)
            return
