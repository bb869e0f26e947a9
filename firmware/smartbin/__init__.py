"""The smart bin's MicroPython application: wake, capture, classify, actuate, log, sleep."""
__version__ = "0.1.0"
