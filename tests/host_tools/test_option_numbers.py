"""Every numeric option of every subcommand refuses a negative, infinite or not-a-number
value (and counts and durations refuse 0) with one line naming the option."""
import argparse
import importlib

import pytest

from host_tools import cli, option_numbers
from host_tools.cli import main


def _numeric_options(parser, words):
    """(command words, option, refuses zero) for each int or float option under parser."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                found += _numeric_options(subparser, words + [name])
        elif action.option_strings and (action.type in (int, float) or
                                        isinstance(action.type, option_numbers._AboveZero)):
            found.append((words, max(action.option_strings, key=len),
                          isinstance(action.type, option_numbers._AboveZero)))
    return found


def _every_numeric_option():
    found = []
    for command, (module_name, _) in cli._COMMANDS.items():
        parser = argparse.ArgumentParser(prog="smartbin " + command)
        importlib.import_module(module_name).configure(parser)
        found += _numeric_options(parser, [command])
    return found


NUMERIC_OPTIONS = _every_numeric_option()


def test_the_commands_have_the_numeric_options_this_test_is_about():
    by_name = {(" ".join(words), option): zero for words, option, zero in NUMERIC_OPTIONS}
    assert by_name[("monitor", "--seconds")] is True
    assert by_name[("capture", "-n")] is True
    assert by_name[("data split", "--seed")] is False
    assert len(by_name) >= 35


@pytest.mark.parametrize("words, option, refuses_zero", NUMERIC_OPTIONS,
                         ids=["%s %s" % (" ".join(w), o) for w, o, _ in NUMERIC_OPTIONS])
def test_a_negative_infinite_or_nan_number_is_one_line_naming_the_option(
        capsys, words, option, refuses_zero):
    for value in ["-1", "nan", "inf", "-inf", "1e999", "many"] + (["0"] if refuses_zero else []):
        assert main(words + ["%s=%s" % (option, value)]) == 1, (option, value)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith("error: %s must be " % option) and err.endswith(
            "not %s\n" % value), err


def test_monitor_refuses_a_duration_that_is_not_above_zero(capsys):
    for value in ("-1", "0", "nan"):
        assert main(["monitor", "--port", "/dev/ttyUSB0", "--seconds", value]) == 1
        assert capsys.readouterr().err == \
            "error: --seconds must be a number above 0, not %s\n" % value


def _parser_with(option_type):
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=option_type)
    option_numbers.check_numbers(parser)
    return parser


def test_good_numbers_pass_unchanged_and_zero_only_where_allowed():
    assert _parser_with(float).parse_args(["--size", "2.5"]).size == 2.5
    assert _parser_with(int).parse_args(["--size", "0"]).size == 0
    assert _parser_with(option_numbers.above_zero(int)).parse_args(["--size", "7"]).size == 7
    with pytest.raises(Exception, match="--size must be a whole number above 0, not 0"):
        _parser_with(option_numbers.above_zero(int)).parse_args(["--size", "0"])


def test_text_that_is_no_number_of_the_kind_wanted_is_the_same_one_line(capsys):
    assert main(["monitor", "--seconds", "soon"]) == 1
    assert main(["capture", "-n", "2.5"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: --seconds must be a number above 0, not soon",
        "error: -n must be a whole number above 0, not 2.5"]
