"""Frozen test vectors of the blob formats (v1.json) and their generator."""
