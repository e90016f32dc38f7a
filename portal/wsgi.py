"""The WSGI entry point of gunicorn (`portal.wsgi:app`): the app of this process's environment.

This is the one place a server reads the environment, once, as each worker starts.
"""

from __future__ import annotations

import gc
import os

from portal import create_app
from portal.config import load_config

app = create_app(load_config(os.environ))
# What the app built stays for the worker's life (the risk lexicon alone is ~100,000 objects):
# out of the collector's sight, a full collection no longer walks it every few hundred requests
# (~0.15 ms a request, bench/child.py).
gc.freeze()
