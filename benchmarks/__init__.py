"""``make bench``: throughput of the real HTTP app, against a bare endpoint on the same server."""
