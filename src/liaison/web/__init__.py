"""The web UI: server-rendered pages under /ui/, each with a JSON twin (see `app`)."""
