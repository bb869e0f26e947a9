"""Which model folder a command uses when none is given: the one rule shared by `make`
(MODEL), `deploy`, `predict`, `evaluate` and `simulate`.

build/model when it holds a model.tflite (you trained one: `make model`), else the
committed models/default (of this folder, else the one beside the package, so the tools
work from anywhere)."""
import sys
from pathlib import Path

from host_tools.paths import COMMITTED_DEFAULT

TRAINED = Path("build") / "model"
# Where `evaluate --report` writes when asked to score the committed default: its own
# report stays as committed.
DEFAULT_REPORT_DIR = Path("build") / "report"


def default_model_dir(announce=False):
    """The model folder to use when none was named; with `announce`, say which on stderr
    (stdout may be JSON)."""
    if (TRAINED / "model.tflite").is_file():
        chosen, why = TRAINED, "the model you trained"
    elif (Path("models") / "default" / "model.tflite").is_file() or not COMMITTED_DEFAULT.is_dir():
        chosen, why = Path("models") / "default", "the committed default; no build/model yet"
    else:
        chosen, why = COMMITTED_DEFAULT, "the committed default; no build/model yet"
    if announce:
        print("model: %s (%s)" % (chosen, why), file=sys.stderr)
    return chosen


def is_committed_default(model_dir):
    """True when `model_dir` is the repository's models/default."""
    try:
        return Path(model_dir).resolve() == COMMITTED_DEFAULT.resolve()
    except OSError:
        return False
