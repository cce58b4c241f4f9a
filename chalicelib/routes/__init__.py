"""HTTP routes: one chalice Blueprint per area, written with ``endpoint.endpoint``."""
