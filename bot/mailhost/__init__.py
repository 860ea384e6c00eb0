"""The mail host: SSH executor, command templates, and pure parsers of what the tools print."""
