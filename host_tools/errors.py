"""The one exception type a user sees: printed as one line by the CLI, exit code 1."""


class SmartbinError(Exception):
    """A failure the user can act on (bad input, missing port, corrupt file...).

    Library code raises it with a message that says what went wrong and, where it
    helps, what to do; `host_tools.cli.main` prints it as one line.
    """
