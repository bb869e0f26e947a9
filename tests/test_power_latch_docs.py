"""docs/power-latch.md and its schematic script stay true to the code: the figures it
(and docs/building-the-bin.md) quotes are `smartbin power`'s, its part list names the drawing's parts, the defaults are
the firmware's, and the drawing script explains itself when schemdraw is missing."""
import importlib.util
import re
import sys
from pathlib import Path

from host_tools import power

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
DOC = (DOCS / "power-latch.md").read_text()
BUILDING = (DOCS / "building-the-bin.md").read_text()


def schematic_script():
    spec = importlib.util.spec_from_file_location(
        "power_latch_schematic", DOCS / "power_latch_schematic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quoted_battery_days_and_standby_current_are_smartbin_powers():
    result = power.estimate()
    deep = "%.0f days" % result["modes"]["deep_sleep"]["battery_days"]
    latch = "%.0f days" % result["modes"]["latch"]["battery_days"]
    standby = "%.0f uA" % result["latch_off_ua"]
    for text in (DOC, BUILDING):
        assert deep in text and latch in text and standby in text
    boot = result["boot_to_result"]
    span = "%.1f-%.1f s" % (boot["fast_ms"] / 1000, boot["slow_ms"] / 1000)
    assert span in DOC and span in BUILDING
    assert "%.0f days" % boot["latch_days_with_slow_model_read"] in DOC


def test_the_part_list_names_every_part_of_the_drawing():
    part_list = DOC[DOC.index("### Part list"):DOC.index("## What the firmware does")]
    refs = set()
    for row in part_list.splitlines()[4:]:
        if not row.startswith("| "):
            break
        for ref in row.split("|")[1].replace("(alt.)", "").split(","):
            match = re.fullmatch(r"([A-Z]+)(\d+)(?:-[A-Z]+(\d+))?", ref.strip())  # "D1-D3"
            if match:
                letters, first, last = match.groups()
                refs.update(letters + str(n) for n in range(int(first), int(last or first) + 1))
    for ref, description in schematic_script().PARTS.items():
        part_number = description.split(" ")[0].rstrip(",")
        assert part_number in part_list, (ref, part_number)
        assert ref in refs, (ref, sorted(refs))


def test_the_documented_defaults_are_the_firmwares(tmp_path):
    sys.path.insert(0, str(REPO_ROOT / "firmware"))
    from smartbin import config as config_module

    config = config_module.validate({"power": {"mode": "latch"}})
    assert (config.pins["keep_alive"], config.keep_alive_level) == (12, 1)
    assert (config.release_wait_ms, config.off_fallback_ms) == (8000, 2000)
    assert '"keep_alive_pin": 12, "keep_alive_level": 1' in DOC
    assert '"release_wait_ms": 8000, "off_fallback_ms": 2000' in DOC
    assert config_module.validate({}).power_mode == "deep_sleep"


def test_the_committed_drawing_is_a_png_the_doc_shows():
    assert (DOCS / "power-latch.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](power-latch.png)" in DOC


def test_without_schemdraw_the_script_says_how_to_install_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "schemdraw", None)  # import fails as if not installed
    assert schematic_script().main([str(tmp_path / "out.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install schemdraw==0.23" in err
    assert not (tmp_path / "out.png").exists()
