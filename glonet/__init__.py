"""The thin launcher: the ``glonet`` command that wires the processes together."""

__version__ = "0.1.0"
