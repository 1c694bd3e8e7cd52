"""The field-client commands, one module per family; field_client.cli assembles them."""
