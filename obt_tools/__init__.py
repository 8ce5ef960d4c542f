"""obt_tools."""
