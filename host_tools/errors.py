"""The one exception type a user sees: printed as one line by the CLI, exit code 1."""


class SmartbinError(Exception):
    """A failure the user can act on (bad input, missing port, corrupt file...).

    Library code raises it with a message that says what went wrong and, where it
    helps, what to do; `host_tools.cli.main` prints it as one line.
    """


def why_missing(path):
    """Why a path the user gave cannot be opened: "does not exist", or, for a symbolic
    link that leads nowhere (a loop, or a target that is gone), says so."""
    import os

    if os.path.islink(path):
        return "is a symbolic link that leads nowhere (a loop, or its target is gone)"
    return "does not exist"
