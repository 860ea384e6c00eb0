"""Benchmarks of mailbot (see README.md here): the trace on generated Postfix logs, the queue summary."""
