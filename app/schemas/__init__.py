"""marshmallow schemas: what the API takes and what it answers."""
