"""The node's own HTTP API beside TAXII (explain, and later audit, lookup, search)."""
