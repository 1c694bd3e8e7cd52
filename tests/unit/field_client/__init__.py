"""Unit tests of the field client."""
