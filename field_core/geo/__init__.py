"""Geographic helpers both the field client and the server need."""
