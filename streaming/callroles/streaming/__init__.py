"""Faust workers: call-finished events in, per-call role and duration events out."""
