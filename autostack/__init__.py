"""autostack: the command-line client of AutoStack (from a folder to a live URL)."""

__version__ = "0.1.0"
