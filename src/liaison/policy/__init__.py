"""The release decision: what a partner may receive, and why (DESIGN "The release decision")."""
