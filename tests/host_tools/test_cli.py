"""The `smartbin` command line: usage errors and one-line failures."""
import pytest

from host_tools import cli
from host_tools.errors import SmartbinError


def test_no_subcommand_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_unknown_subcommand_is_a_usage_error(capsys):
    assert cli.main(["no-such-command"]) == 2


def test_verbose_after_the_subcommand_shows_the_traceback(tmp_path):
    missing = str(tmp_path / "missing.json")
    with pytest.raises(SmartbinError, match="no config file"):
        cli.main(["power", "--config", missing, "--verbose"])
    with pytest.raises(SmartbinError, match="does not exist"):
        cli.main(["data", "check", str(tmp_path / "nope"), "--verbose"])


def test_an_unexpected_disk_error_is_one_line_not_a_traceback(monkeypatch, capsys):
    from host_tools import power

    def disk_full(*paths):
        raise OSError(28, "No space left on device", "/media/stick/report.md")

    monkeypatch.setattr(power, "estimate", disk_full)
    assert cli.main(["power"]) == 1
    assert capsys.readouterr().err == (
        "error: No space left on device (/media/stick/report.md)\n")


def test_output_cut_short_by_the_reader_ends_quietly():
    import os
    import subprocess
    import sys

    # `smartbin power | head -0`: nobody reads the pipe any more
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        writer = subprocess.run(
            [sys.executable, "-c", "import sys; from host_tools import cli; "
             "sys.exit(cli.main(['power', '--json']))"],
            stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert writer.returncode == 1
    assert writer.stderr.decode() == ""


def test_only_the_chosen_subcommand_module_is_configured(monkeypatch):
    configured = []
    real_import = cli.importlib.import_module

    def recording_import(name):
        configured.append(name)
        return real_import(name)

    monkeypatch.setattr(cli.importlib, "import_module", recording_import)
    # "data" as an option value must not pull in the data stage's module
    assert cli.main(["--verbose", "power", "--config", "data", "--help"]) == 0
    assert configured == ["host_tools.power"]


def test_a_recursion_error_from_hostile_input_is_one_line(monkeypatch, capsys):
    from host_tools.data import cli as data_cli

    def run(args):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(data_cli, "run", run)
    assert cli.main(["data", "check", "x"]) == 1
    assert capsys.readouterr().err == "error: input nested too deeply to read\n"
