"""`liaison demo`: two nodes on 127.0.0.1 that share border-security intelligence."""
