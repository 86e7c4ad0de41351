"""Event contracts: JSON Schemas, topic names and their Python types."""
