"""battrace — traceability and recycling supervision for EV power batteries."""

__version__ = "0.1.0"
