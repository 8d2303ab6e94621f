"""Command lines: arguments quoted the way res_agi parses them; no second command smuggled in."""
import pytest

from gateway.agi.quoting import MAX_COMMAND_BYTES, check_digits, check_line, command_line, quote


def asterisk_parse_args(line: str) -> list[str]:
    """res_agi's parse_args, transcribed: spaces split, quotes group, backslash escapes."""
    args, current, quoted, escaped, in_word = [], [], False, False, False
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and not in_word:
                in_word = True
            continue
        if char in " \t" and not quoted and not escaped:
            if in_word:
                args.append("".join(current))
            current, in_word = [], False
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        in_word, escaped = True, False
        current.append(char)
    if in_word:
        args.append("".join(current))
    return args


@pytest.mark.parametrize("value", ["plain", "two words", 'say "hi"', "back\\slash", "", "tab\there",
                                   '\\"', "Çağrı", "${CHANNEL(linkedid)}", "a,b|c"])
def test_arguments_survive_asterisks_parser(value):
    line = command_line("SET VARIABLE", "NAME", value)
    assert asterisk_parse_args(line) == ["SET", "VARIABLE", "NAME", value]


@pytest.mark.parametrize("bad", ["a\nHANGUP", "a\rHANGUP", "a\r\nEXEC Dial PJSIP/evil", "nul\x00"])
def test_line_breaks_are_refused(bad):
    with pytest.raises(ValueError):
        quote(bad)
    with pytest.raises(ValueError):
        check_line("VERBOSE " + bad)


def test_types_and_lengths():
    assert quote(5000) == '"5000"'
    with pytest.raises(TypeError):
        quote(None)
    with pytest.raises(TypeError):
        quote(True)
    with pytest.raises(ValueError):
        command_line("VERBOSE", "x" * MAX_COMMAND_BYTES)
    assert check_line("x" * MAX_COMMAND_BYTES)


def test_digit_sets():
    assert check_digits("0123456789*#ABCD") == "0123456789*#ABCD"
    for bad in ['1" "2', "1 2", "x", "\n"]:
        with pytest.raises(ValueError):
            check_digits(bad)
