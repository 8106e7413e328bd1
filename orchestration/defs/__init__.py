"""Dagster definitions, one module per concern: resources, ingest, transform, jobs."""
