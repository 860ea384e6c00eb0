"""Tests of the lab itself (its stand-ins)."""
