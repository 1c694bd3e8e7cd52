"""Use cases of the server, one function each, taking a unit-of-work factory."""
