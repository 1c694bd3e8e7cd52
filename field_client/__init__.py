"""Qazba's field client: the offline program on the field laptop, and its sync with the server."""

__version__ = "0.1.0"
