"""obt/load."""
