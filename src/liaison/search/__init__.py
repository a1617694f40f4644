"""Observable lookup, full-text search and correlation (DESIGN "search").

Pure rules: `observables` (normal forms, SCO extraction), `patterns` (indicator
patterns to observables), `text` (tokens for full text), `index` (what ingest
stores), `probes` (what an analyst typed, as index keys) and `query` (the search
language).  The SQL lives in `storage.search_sql`; the policy-checked operations in
`liaison.lookup`.
"""
