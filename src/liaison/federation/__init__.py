"""Federation: the sync engine that pulls from and pushes to partner nodes.

`client` (HTTP, bounded and untrusting), `remote` (a partner's TAXII API root),
`pull`, `push`, `state` (checkpoints and the lease) and `scheduler` (what to sync,
once or in the background).  See docs/federation.md.
"""
