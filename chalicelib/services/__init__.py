"""Use cases: one module per area (users, projects, health, ...)."""
