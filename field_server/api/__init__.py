"""The JSON API under /api/v1: thin translation between HTTP and the services."""
