"""Tests of the poster generator (qr/); they never import the portal."""
