"""Pure rules of the museum's server: merging, permissions, numbering. No Flask, no SQLAlchemy."""
