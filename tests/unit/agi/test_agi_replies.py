"""Reply parsing: every shape res_agi sends, from the recorded streams and by hand."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agi_fake_asterisk import recorded
from gateway.agi.errors import AgiProtocolError, MalformedReply
from gateway.agi.replies import HANGUP, AgiReply, ReplyAssembler, parse_replies, parse_reply_line


def as_expected(event):
    if event is HANGUP:
        return "HANGUP"
    return {"code": event.code, "result": event.result, "data": event.data, "endpos": event.endpos}


@pytest.mark.parametrize("name,data,expected", recorded("replies"), ids=lambda v: v if isinstance(v, str) else "")
def test_recorded_reply_streams(name, data, expected):
    events = parse_replies(data.decode("utf-8"))
    assert [as_expected(e) for e in events] == expected["events"]


@pytest.mark.parametrize("line,code,result,data,endpos", [
    ("200 result=0", 200, "0", None, None),
    ("200 result=-1", 200, "-1", None, None),
    ("200 result=1 (value with spaces)", 200, "1", "value with spaces", None),
    ("200 result=1 (f(x) = (a) b)", 200, "1", "f(x) = (a) b", None),
    ("200 result=1 (x) endpos=5)", 200, "1", "x) endpos=5", None),  # a value that mimics endpos
    ("200 result=1 ()", 200, "1", "", None),
    ("200 result=0 endpos=10880", 200, "0", None, 10880),
    ("200 result=0 (timeout) endpos=8000", 200, "0", "timeout", 8000),
    ("200 result= (timeout)", 200, "", "timeout", None),
    ("200 result=", 200, "", None, None),
    ("100 result=0 Trying...", 100, "0", None, None),
    ("100 Trying...", 100, "", "Trying...", None),
    ("510 Invalid or unknown command", 510, "", "Invalid or unknown command", None),
    ("200 result=1 (unclosed", 200, "1", "unclosed", None),
])
def test_reply_line_shapes(line, code, result, data, endpos):
    assert parse_reply_line(line) == AgiReply(code, result, data, endpos, line)


@pytest.mark.parametrize("line", ["", "HANGUP", "OK", "20 result=0", "2000 result=0", "abc", "२०० result=0"])
def test_lines_that_are_not_replies(line):
    with pytest.raises(MalformedReply):
        parse_reply_line(line)


def test_result_int():
    assert parse_reply_line("200 result=52").result_int == 52
    assert parse_reply_line("200 result=-1").result_int == -1
    assert parse_reply_line("200 result=").result_int is None
    assert parse_reply_line("200 result=12a").result_int is None
    assert parse_reply_line("200 result=-").result_int is None


def test_assembler_skips_trying_and_reports_hangup_before_the_reply():
    assembler = ReplyAssembler()
    assert assembler.feed("100 result=0 Trying...") is None
    assert assembler.feed("HANGUP") is HANGUP
    reply = assembler.feed("511 Command Not Permitted on a dead channel or intercept routine")
    assert reply.code == 511


def test_usage_block_is_one_reply_and_bounded():
    assembler = ReplyAssembler(max_usage_lines=3)
    assert assembler.feed("520-Invalid command syntax.  Proper usage follows:") is None
    assert assembler.in_progress
    assert assembler.feed(" Usage: ANSWER") is None
    reply = assembler.feed("520 End of proper usage.")
    assert (reply.code, reply.data, assembler.in_progress) == (520, " Usage: ANSWER", False)
    assembler.feed("520-Invalid command syntax.  Proper usage follows:")
    with pytest.raises(MalformedReply):
        for _ in range(5):
            assembler.feed("more usage")


def test_stream_ending_inside_usage_is_malformed():
    with pytest.raises(MalformedReply):
        parse_replies("520-Invalid command syntax.  Proper usage follows:\n Usage: x\n")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_reply_line_parser_only_raises_malformed_reply(line):
    try:
        reply = parse_reply_line(line)
    except MalformedReply:
        return
    assert 0 <= reply.code <= 999
    reply.result_int  # never raises


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=80), st.sampled_from([
    "HANGUP", "520-x", "520 End of proper usage.", "100 result=0 Trying...", "200 result=1 (a) endpos=3"])),
    max_size=30))
def test_assembler_only_raises_protocol_errors(lines):
    assembler = ReplyAssembler(max_usage_lines=10)
    for line in lines:
        try:
            event = assembler.feed(line)
        except AgiProtocolError:
            continue
        assert event is None or event is HANGUP or isinstance(event, AgiReply)
