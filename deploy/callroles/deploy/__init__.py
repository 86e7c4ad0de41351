"""Local stack (real Kafka and Redis) and production artefacts."""
