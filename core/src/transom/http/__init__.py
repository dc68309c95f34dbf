"""The HTTP interface layer: the only code that knows about Flask requests and statuses."""
