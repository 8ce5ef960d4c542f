"""obt/trigger."""
