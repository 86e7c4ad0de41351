"""Synthetic call-center corpus with ground truth (`callroles simulate`)."""

from callroles.lab.simulate.corpus import GENERATOR_VERSION, generate_corpus, generator_fingerprint
from callroles.lab.simulate.summary import CorpusSummary

__all__ = [
    "GENERATOR_VERSION",
    "CorpusSummary",
    "generate_corpus",
    "generator_fingerprint",
]
