"""Reports built from the run report dict: terminal, JSON, Markdown, HTML dashboard."""
