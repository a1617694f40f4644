"""Liaison: share STIX 2.1 intelligence with partner organisations over TAXII 2.1."""

__version__ = "0.1.0"
