"""Synthetic call-center corpus with ground truth (`callroles simulate`)."""
