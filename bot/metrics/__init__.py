"""/metrics and /healthz: the process's own instruments (instruments.py), what the store knows read at scrape time
(collector.py), and the server that answers both (http.py)."""
