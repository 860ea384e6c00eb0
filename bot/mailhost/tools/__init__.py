"""The tools on a mail host, one module each: its command templates, its guard shapes, and the
class that runs a template and parses the answer (the pure parsers stay in bot/mailhost)."""
