"""Fake ESP32-CAM hardware for running the bin's firmware off the board (CPython and the
MicroPython VM alike). Never deployed to the board."""
