"""obt/reconcile."""
