"""Numbers on the command line: no smartbin option takes a negative, infinite or
not-a-number value, and counts and durations marked `above_zero` take no zero either.
Text that is no number of the kind wanted ("soon", "2.5" for a count) is the same mistake.

`check_numbers(parser)` makes every int and float option of a parser (and of its
subcommands) refuse such a value with one line naming the option, so a new option is
covered the day it is added; each command still checks its own upper limits.
"""
import argparse
import math

from host_tools.errors import SmartbinError


class _AboveZero:
    """An option type: `kind` (int or float), and more than 0."""

    def __init__(self, kind):
        self.kind = kind

    def __call__(self, text):
        return self.kind(text)


def above_zero(kind):
    """The option type for a count or duration: `type=above_zero(float)`."""
    return _AboveZero(kind)


def _option_name(action):
    if action.option_strings:
        return max(action.option_strings, key=len)
    return action.metavar or action.dest


def _checked(action):
    kind = getattr(action.type, "kind", action.type)
    positive = isinstance(action.type, _AboveZero)
    name = _option_name(action)
    wanted = "%s %s" % ("a whole number" if kind is int else "a number",
                        "above 0" if positive else "0 or more")

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            value = None  # "soon", or "nan" for a count
        if value is None or not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise SmartbinError("%s must be %s, not %s" % (name, wanted, text))
        return value

    return convert


def check_numbers(parser):
    """Give every int and float option of `parser` and its subcommands the check above."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                check_numbers(subparser)
        elif action.type in (int, float) or isinstance(action.type, _AboveZero):
            action.type = _checked(action)
