"""The one progress display of every command, on stderr.

Library functions report `(stage, done, total, info)` (or `(done, total)` through
`ProgressBars.stage`); this turns those calls into
- on a terminal: one tqdm bar per stage, epoch metrics in the postfix;
- on a pipe or a file, with TERM=dumb, or under CI (the CI variable set): plain lines, one
  when a stage starts, one each time it passes another tenth of its total and one when it
  ends, never a carriage return or a cursor escape, so logs stay readable. A stage over
  within PLAIN_DELAY_SECONDS (SMARTBIN_PROGRESS_DELAY in the environment) prints nothing,
  so a quick command's output (or its one-line error) stays alone;
- with `quiet=True` (a command printing --json): nothing.
"""
import os
import sys
import time

_BYTE_STAGES = ("download", "archive")
_EPOCH_STAGES = ("head", "finetune", "train")
_SHOWN_METRICS = ("loss", "accuracy", "val_accuracy")
PLAIN_DELAY_SECONDS = 2.0


def _plain_delay():
    try:
        return max(0.0, float(os.environ.get("SMARTBIN_PROGRESS_DELAY", PLAIN_DELAY_SECONDS)))
    except ValueError:
        return PLAIN_DELAY_SECONDS


def plain_lines_wanted(stream):
    """True when `stream` should get plain lines instead of redrawn bars."""
    isatty = getattr(stream, "isatty", None)
    return (not (isatty and isatty()) or os.environ.get("TERM") == "dumb"
            or bool(os.environ.get("CI")))


def _unit(stage):
    if stage in _BYTE_STAGES or stage.startswith(("download", "/")):
        return "B"
    return "epoch" if stage in _EPOCH_STAGES else "item"


class ProgressBars:
    """A progress callback `(stage, done, total, info=None)`; `close()` it at the end (or
    use it as a context manager). `labels` maps a stage to (description, unit)."""

    def __init__(self, labels=None, quiet=False, stream=None):
        self._labels = labels or {}
        self._quiet = quiet
        self._stream = stream or sys.stderr
        self._plain = plain_lines_wanted(self._stream)
        self._delay = _plain_delay()
        self._started = 0.0
        self._shown = False
        self._stage = None
        self._bar = None
        self._tenth = -1
        self._done = 0
        self._total = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def stage(self, name):
        """A `progress(done, total)` callback for one stage."""
        return lambda done, total: self(name, done, total)

    def __call__(self, stage, done, total, info=None):
        if self._quiet:
            return
        if stage != self._stage:
            self.close()
            self._stage = stage
            self._open(total)
        self._done, self._total = done, total or None
        if self._plain:
            self._plain_update(info)
        else:
            self._bar_update(total, info)

    def close(self):
        """End the current stage (its bar, or its last plain line)."""
        if self._stage is None:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._plain and self._shown:
            self._line("%s: done, %s" % (self._description(), self._count()))
        self._stage = None

    # ---- the two displays ---------------------------------------------------------------
    def _open(self, total):
        self._tenth = -1
        if self._plain:
            self._started = time.monotonic()
            self._shown = False
            return
        from tqdm import tqdm

        unit = self._unit()
        self._bar = tqdm(total=total or None, desc=self._description(), unit=unit,
                         leave=True, unit_scale=unit == "B", dynamic_ncols=True,
                         file=self._stream)

    def _bar_update(self, total, info):
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.update(self._done - self._bar.n)
        if info:
            self._bar.set_postfix(_metrics(info))

    def _plain_update(self, info):
        if not self._shown:
            if time.monotonic() - self._started < self._delay:
                return
            self._shown = True
            self._line("%s: started%s" % (self._description(), ", %s to do"
                                          % self._amount(self._total) if self._total else ""))
        if not self._total:
            return
        tenth = min(10, int(10 * self._done / self._total))
        if tenth > self._tenth and tenth > 0:
            self._tenth = tenth
            metrics = ", ".join("%s %s" % item for item in _metrics(info).items())
            self._line("%s: %s (%d%%)%s" % (self._description(), self._count(), 10 * tenth,
                                            ", " + metrics if metrics else ""))

    # ---- text ---------------------------------------------------------------------------
    def _description(self):
        return self._labels.get(self._stage, (self._stage,))[0]

    def _unit(self):
        label = self._labels.get(self._stage)
        return label[1] if label and len(label) > 1 else _unit(self._stage)

    def _amount(self, count):
        if self._unit() == "B":
            return "%.1f MB" % (count / 1e6)
        return "%d %s%s" % (count, self._unit(), "" if count == 1 else "s")

    def _count(self):
        if self._total:
            if self._unit() == "B":
                return "%.1f/%.1f MB" % (self._done / 1e6, self._total / 1e6)
            return "%d/%d %ss" % (self._done, self._total, self._unit())
        return self._amount(self._done)

    def _line(self, text):
        self._stream.write(text + "\n")
        self._stream.flush()


def _metrics(info):
    return {key: round(value, 3) for key, value in (info or {}).items()
            if key in _SHOWN_METRICS}
