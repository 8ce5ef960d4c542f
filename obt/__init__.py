"""Core package shared by the Cloud Functions, the Spark job's launcher, the CLI and the local cloud."""

__version__ = "0.1.0"
