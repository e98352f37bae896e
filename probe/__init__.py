"""probe: active delivery-path probing for email."""

__version__ = "0.1.0"
