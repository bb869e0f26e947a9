"""The virtual bin: a virtual ESP32-CAM (the real MicroPython VM behind a pty, board.py),
TFLM for its microlite on this computer (inference.py), and `smartbin try`, which runs
the bin on it with photos dropped in a folder (trial.py)."""
