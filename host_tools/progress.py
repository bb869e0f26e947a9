"""Progress bars for the CLI layer: library functions report `(stage, done, total, info)`
through a callback; this turns those calls into one tqdm bar per stage on stderr."""


class ProgressBars:
    """The CLI's progress display: one tqdm bar per stage, epoch metrics in the postfix."""

    def __init__(self):
        self._stage = None
        self._bar = None

    def __call__(self, stage, done, total, info=None):
        from tqdm import tqdm

        if stage != self._stage:
            self.close()
            unit = "B" if stage == "download" else "epoch" if stage in (
                "head", "finetune", "train") else "img"
            self._bar = tqdm(total=total or None, desc=stage, unit=unit, leave=True,
                             unit_scale=unit == "B", dynamic_ncols=True)
            self._stage = stage
        self._bar.update(done - self._bar.n)
        if info:
            self._bar.set_postfix({k: round(v, 3) for k, v in info.items()
                                   if k in ("loss", "accuracy", "val_accuracy")})

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._stage = None
