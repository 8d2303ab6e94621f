"""The incremental parser: framing, tolerance, bounds, and chunking that changes nothing."""
import pytest
from ami_testkit import DATA, fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.ami.errors import AmiFrameTooLarge, AmiLineTooLong, AmiOversizeError
from gateway.ami.frames import AmiFrameParser

SESSION_FILES = sorted(p.name for p in DATA.glob("*.bin"))


def parse_all(data: bytes, **kw):
    parser = AmiFrameParser(**kw)
    return parser, parser.feed(data)


def test_banner_then_frames():
    parser, msgs = parse_all(b"Asterisk Call Manager/11.0.0\r\n"
                             b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
                             b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n")
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert [m.event for m in msgs] == [None, "FullyBooted"]
    assert msgs[0].response == "Success" and msgs[0]["Message"] == "Authentication accepted"
    assert msgs[1]["Status"] == "Fully Booted"
    assert parser.buffered == 0


def test_banner_split_across_chunks_and_nothing_before_it():
    parser = AmiFrameParser()
    assert parser.feed(b"Asterisk Call Man") == [] and parser.banner is None
    assert parser.feed(b"ager/11.0.0\r") == [] and parser.banner is None
    assert parser.feed(b"\nEvent: A\r\n\r\n")[0].event == "A"
    assert parser.banner == "Asterisk Call Manager/11.0.0"


def test_bare_newlines_and_mixed_line_ends():
    _, msgs = parse_all(b"Event: A\nX: 1\n\nEvent: B\r\nX: 2\n\r\nEvent: C\nX: 3\r\n\r\n", expect_banner=False)
    assert [(m.event, m["X"]) for m in msgs] == [("A", "1"), ("B", "2"), ("C", "3")]


def test_incomplete_frame_waits():
    parser = AmiFrameParser(expect_banner=False)
    assert parser.feed(b"Event: Hangup\r\nUniqueid: 1.2\r\n") == []
    assert parser.buffered > 0
    [msg] = parser.feed(b"\r\n")
    assert msg["Uniqueid"] == "1.2"


def test_stray_blank_lines_between_frames_are_ignored():
    _, msgs = parse_all(b"\r\n\r\nEvent: A\r\n\r\n\r\n\r\n\r\nEvent: B\r\n\r\n", expect_banner=False)
    assert [m.event for m in msgs] == ["A", "B"]


def test_malformed_lines_are_skipped_and_counted():
    parser, msgs = parse_all(b"Event: A\r\nno colon here\r\n: empty key\r\nGood: yes\r\n\r\n"
                             b"garbage line\r\nmore garbage\r\n\r\n"
                             b"junk first\r\nEvent: C\r\nK: v\r\n\r\n", expect_banner=False)
    assert [m.event for m in msgs] == ["A", "C"]
    assert msgs[0]["Good"] == "yes" and msgs[0].pairs() == (("Event", "A"), ("Good", "yes"))
    assert msgs[0].malformed_lines == 2  # found when the event is read in full
    assert msgs[1].pairs() == (("Event", "C"), ("K", "v"))
    assert parser.malformed_lines == 3 and parser.skipped_frames == 1


def test_colon_without_space_and_colons_in_values():
    _, [msg] = parse_all(b"Event: UserEvent\r\nData:a:b\r\nURI: sip:1001@10.0.0.1:5060\r\nEmpty:\r\nBlank: \r\n\r\n",
                         expect_banner=False)
    assert msg["Data"] == "a:b"
    assert msg["URI"] == "sip:1001@10.0.0.1:5060"
    assert msg["Empty"] == "" and msg["Blank"] == ""


def test_follows_command_output_with_blank_lines_split_anywhere():
    stream = (b"Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\n"
              b"Channel              Location             State   Application(Data)\n"
              b"\n"
              b"0 active channels\n"
              b"--END COMMAND--\r\n\r\n"
              b"Event: After\r\n\r\n")
    expected = parse_all(stream, expect_banner=False)[1]
    assert [m.response for m in expected] == ["Follows", None]
    follows = expected[0]
    assert follows["ActionID"] == "7" and follows["Privilege"] == "Command"
    assert follows.body == ("Channel              Location             State   Application(Data)\n\n"
                            "0 active channels")
    assert "Channel" not in follows  # output lines are not fields
    for cut in range(1, len(stream)):
        parser = AmiFrameParser(expect_banner=False)
        assert parser.feed(stream[:cut]) + parser.feed(stream[cut:]) == expected, cut


def test_repeated_keys_keep_order():
    _, [msg] = parse_all(b"Event: Newchannel\r\nChanVariable: A=1\r\nUniqueid: 9.1\r\nChanVariable: B=2\r\n\r\n",
                         expect_banner=False)
    assert msg["ChanVariable"] == "A=1"
    assert msg.getall("ChanVariable") == ["A=1", "B=2"]
    assert list(msg) == ["Event", "ChanVariable", "Uniqueid"]


def test_bad_utf8_is_replaced_not_fatal():
    _, [msg] = parse_all(b"Event: Newchannel\r\nCallerIDName: M\xfcller\r\n\r\n", expect_banner=False)
    assert msg["CallerIDName"] == "M\ufffdller"


# -- bounds -------------------------------------------------------------------------------

def test_huge_line_is_cut_off_early_with_bounded_memory():
    parser = AmiFrameParser(expect_banner=False)  # 64 KiB line cap by default
    chunk = b"x" * 65536
    parser.feed(b"Event: Flood\r\nData: ")
    with pytest.raises(AmiLineTooLong):
        for _ in range(100 * 1024 * 1024 // len(chunk)):  # a 100 MB line
            parser.feed(chunk)
            assert parser.buffered <= 2 * len(chunk) + 64
    assert parser.buffered == 0


def test_huge_frame_of_short_lines_is_cut_off():
    parser = AmiFrameParser(expect_banner=False, max_line=100, max_frame=10_000)
    with pytest.raises(AmiFrameTooLarge):
        for _ in range(1000):
            parser.feed(b"Key: value\r\n" * 50)
    assert parser.buffered == 0


def test_oversize_keeps_the_messages_before_it_and_kills_the_parser():
    parser = AmiFrameParser(expect_banner=False, max_line=50, max_frame=200)
    with pytest.raises(AmiOversizeError) as err:
        parser.feed(b"Event: A\r\n\r\nEvent: B\r\nData: " + b"y" * 60 + b"\r\n\r\nEvent: C\r\n\r\n")
    assert [m.event for m in err.value.messages] == ["A"]
    with pytest.raises(AmiOversizeError):
        parser.feed(b"Event: D\r\n\r\n")


def test_banner_is_bounded_too():
    parser = AmiFrameParser(max_line=100, max_frame=1000)
    with pytest.raises(AmiLineTooLong):
        parser.feed(b"A" * 101)


def test_long_but_legal_frames_pass():
    parser = AmiFrameParser(expect_banner=False, max_line=100, max_frame=10_000)
    body = b"".join(b"K%d: %s\r\n" % (i, b"v" * 90) for i in range(90))
    [msg] = parser.feed(b"Event: Big\r\n" + body + b"\r\n")
    assert msg["K89"] == "v" * 90


# -- the same stream, however it is chunked -----------------------------------------------

def feed_in_chunks(data: bytes, cuts, **kw):
    """Messages (as comparable tuples) and whether an oversize error ended the stream."""
    parser = AmiFrameParser(**kw)
    got = []
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    try:
        for start, end in zip(bounds, bounds[1:]):
            got += parser.feed(data[start:end])
    except AmiOversizeError as err:
        return [(m.event, m.pairs(), m.body) for m in got + err.messages], True
    return [(m.event, m.pairs(), m.body) for m in got], False


@pytest.mark.parametrize("name", SESSION_FILES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=30))
def test_fixture_streams_parse_the_same_however_chunked(name, cuts):
    data = fixture(name)
    assert feed_in_chunks(data, cuts) == feed_in_chunks(data, [])


EOL = st.sampled_from([b"\r\n", b"\n", b"\r\n", b"\n\r\n", b"\r"])
LINE = st.one_of(
    st.sampled_from([b"Event: Newchannel", b"Event: Hangup", b"Response: Success", b"Response: Error",
                     b"Response: Follows", b"ActionID: 1", b"EventList: Complete", b"--END COMMAND--",
                     b"0 active channels", b"Uniqueid: 1.2", b"Data:a:b", b": no key", b"", b"\xff\xfe",
                     b"CallerIDName: M\xc3\xbcller", b"Value: " + b"v" * 50]),
    st.binary(max_size=12),
)
FRAME = st.lists(st.tuples(LINE, EOL), min_size=1, max_size=8).map(lambda ls: b"".join(a + b for a, b in ls))
FOLLOWS = st.tuples(FRAME, st.sampled_from([b"", b"\n", b"\r\n\r\n", b"x"])).map(
    lambda f: b"Response: Follows\r\nActionID: 1\r\n" + f[0] + f[1] + b"--END COMMAND--\r\n")
STREAM = st.lists(st.tuples(st.one_of(FRAME, FOLLOWS), EOL), max_size=10).map(
    lambda fs: b"".join(a + b for a, b in fs))


@settings(max_examples=500, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), STREAM),
       cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=12),
       banner=st.booleans(), max_line=st.sampled_from([4, 16, 40, 80, 65536]))
def test_arbitrary_bytes_never_raise_and_chunking_changes_nothing(data, cuts, banner, max_line):
    kw = dict(expect_banner=banner, max_line=max_line, max_frame=max_line * 4)
    whole = feed_in_chunks(data, [], **kw)  # raises nothing but AmiOversizeError (caught inside)
    assert feed_in_chunks(data, cuts, **kw) == whole
    byte_by_byte = feed_in_chunks(data, range(len(data)), **kw)
    assert byte_by_byte == whole


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.tuples(st.text(alphabet="AbK:-_ é", min_size=0, max_size=6),
                                st.text(alphabet="xy :é", max_size=6)), max_size=8))
def test_lookups_agree_with_the_full_parse(lines):
    raw = "Event: T\r\n" + "".join(f"{k}:{v}\r\n" for k, v in lines) + "\r\n"
    [msg] = AmiFrameParser(expect_banner=False).feed(raw.encode())
    pairs = msg.pairs()
    for key in {k for k, _ in pairs} | {k for k, _ in lines}:
        values = [v for k, v in pairs if k == key]
        assert msg.get(key) == (values[0] if values else None)
        assert (key in msg) == bool(values)
        assert msg.getall(key) == values
