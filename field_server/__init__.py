"""Qazba's server: takes field records, removes duplicates, serves review and the register."""

__version__ = "0.1.0"
