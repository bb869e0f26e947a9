"""The lids: one hobby servo each, driven by 50 Hz PWM through a `ServoOutput`
(`pulse_us(us)`, `stop()`). A lid eases open, holds, eases shut, then its PWM stops so the
servo neither jitters nor draws holding current. Only one servo moves at a time, which
keeps the peak current (and brownouts on a weak supply) down."""
try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_EASE_ONE = const(256)  # ease curve in 1/256ths: small ints, no floats while moving
# Pulse widths a hobby servo takes without straining at its end stops: the range of
# config.json's closed_us / open_us and of `smartbin servo`.
PULSE_MIN_US = const(500)
PULSE_MAX_US = const(2500)


def ease(k, steps):
    """Smoothstep position 0..256 at step k of `steps` (slow start, slow stop)."""
    t = k * _EASE_ONE // steps
    return (t * t * (3 * _EASE_ONE - 2 * t)) // (_EASE_ONE * _EASE_ONE)


class Lids:
    def __init__(self, outputs, config, clock, feed=None):
        self.outputs = outputs  # same order as config.lids; None where a lid has no pin
        self.lids = config.lids
        self.config = config
        self.clock = clock
        self.feed = feed or _no_feed
        self.gentle = False  # set after a brownout: slower moves, smaller current peaks

    def _move(self, output, start_us, end_us):
        config = self.config
        ramp_ms = config.gentle_ramp_ms if self.gentle else config.ramp_ms
        steps = ramp_ms // config.step_ms
        if steps < 1:
            output.pulse_us(end_us)
            self.clock.sleep_ms(config.step_ms)
            return
        span = end_us - start_us
        for k in range(1, steps + 1):
            output.pulse_us(start_us + span * ease(k, steps) // _EASE_ONE)
            self.clock.sleep_ms(config.step_ms)

    def serve(self, index):
        """Open lid `index`, hold it open, close it, stop its PWM."""
        output = self.outputs[index]
        if output is None:
            return
        lid = self.lids[index]
        try:
            self._move(output, lid["closed_us"], lid["open_us"])
            self.feed()
            self.clock.sleep_ms(self.config.hold_open_ms)
            self.feed()
            self._move(output, lid["open_us"], lid["closed_us"])
            self.clock.sleep_ms(self.config.settle_ms)
        finally:
            output.stop()

    def close_all(self):
        """At boot: drive every lid to closed, one after another (its position is unknown)."""
        config = self.config
        for index in range(len(self.outputs)):
            output = self.outputs[index]
            if output is None:
                continue
            try:
                output.pulse_us(self.lids[index]["closed_us"])
                self.clock.sleep_ms(config.settle_ms + (config.gentle_ramp_ms if self.gentle
                                                        else config.ramp_ms))
            finally:
                output.stop()
            self.clock.sleep_ms(config.pause_between_ms)
            self.feed()

    def stop_all(self):
        for output in self.outputs:
            if output is not None:
                output.stop()


def _no_feed():
    pass
