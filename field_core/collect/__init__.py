"""Phones with ODK Collect (DESIGN §9): the find form, the submissions it comes back as, and
the find a submission makes. Shared by the server and the field laptop, which both answer the
phones; nothing here knows about HTTP, a database or a store."""
