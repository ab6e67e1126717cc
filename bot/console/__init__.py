"""The console sink (SINK=console): what would be posted to Slack, printed in a terminal (sink.py, render.py)."""
