"""Primitives grouped by family; importing a family registers all of its rules."""
