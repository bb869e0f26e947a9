"""Host toolchain of the smart bin: data, training, int8 export, evaluation and board tooling."""

__version__ = "0.1.0"
