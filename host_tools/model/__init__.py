"""The model stages: train, export (int8 + C array), evaluate, predict and bench."""
