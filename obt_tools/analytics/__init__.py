"""obt_tools/analytics."""
