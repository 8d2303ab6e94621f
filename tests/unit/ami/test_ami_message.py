"""AmiMessage: a read-only, order-keeping view of one frame."""
import pytest

from gateway.ami.frames import AmiFrameParser
from gateway.ami.message import AmiMessage


def parse_one(raw: bytes) -> AmiMessage:
    [msg] = AmiFrameParser(expect_banner=False).feed(raw)
    return msg


def test_mapping_api_on_a_parsed_event():
    msg = parse_one(b"Event: Hangup\r\nPrivilege: call,all\r\nUniqueid: 1763893323.84\r\n"
                    b"Linkedid: 1763893323.84\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n")
    assert msg.event == "Hangup" and msg["Event"] == "Hangup" and msg.response is None
    assert msg["Cause-txt"] == "Normal Clearing"
    assert msg.get("Linkedid") == "1763893323.84"
    assert msg.get("Missing") is None and msg.get("Missing", "-") == "-"
    assert "Cause" in msg and "Missing" not in msg and "Event" in msg
    with pytest.raises(KeyError):
        msg["Missing"]
    assert list(msg) == ["Event", "Privilege", "Uniqueid", "Linkedid", "Cause", "Cause-txt"]
    assert len(msg) == 6
    assert dict(msg.items())["Cause"] == "16"
    assert msg.as_dict()["Privilege"] == "call,all"


def test_keys_are_case_preserving_and_matched_exactly():
    msg = parse_one(b"Event: UserEvent\r\nUniqueID: A\r\nUniqueid: B\r\n\r\n")
    assert msg["UniqueID"] == "A" and msg["Uniqueid"] == "B"
    assert msg.get("uniqueid") is None


def test_impossible_keys_are_simply_absent():
    msg = parse_one(b"Event: A\r\nB: c\r\n\r\n")
    for key in ("", "B: c", "A\nB", "Event: A"):
        assert key not in msg and msg.get(key) is None


def test_from_pairs_round_trip_and_validation():
    msg = AmiMessage.from_pairs([("Event", "VarSet"), ("Variable", "X"), ("Value", " padded"), ("Variable", "Y")])
    assert msg.event == "VarSet" and msg["Value"] == " padded" and msg.getall("Variable") == ["X", "Y"]
    assert AmiMessage.from_pairs({"Response": "Success", "ActionID": "5"}).response == "Success"
    with pytest.raises(ValueError):
        AmiMessage.from_pairs([("Bad:Key", "v")])
    with pytest.raises(ValueError):
        AmiMessage.from_pairs([("Key", "two\r\nlines")])


def test_equality_and_repr_redacts_credentials():
    a = AmiMessage.from_pairs([("Action", "Login"), ("Username", "ctigw"), ("Secret", "hunter2"), ("Key", "abc123")])
    b = parse_one(b"Action: Login\r\nUsername: ctigw\r\nSecret: hunter2\r\nKey: abc123\r\n\r\n")
    assert a == b
    assert "hunter2" not in repr(a) and "abc123" not in repr(b) and "ctigw" in repr(a)


def test_first_value_wins_even_for_event():
    msg = parse_one(b"Event: First\r\nEvent: Second\r\n\r\n")
    assert msg["Event"] == "First" and msg.getall("Event") == ["First", "Second"]
