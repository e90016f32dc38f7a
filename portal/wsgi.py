"""The WSGI entry point of gunicorn (`portal.wsgi:app`): the app of this process's environment.

This is the one place a server reads the environment, once, as each worker starts.
"""

from __future__ import annotations

import os

from portal import create_app
from portal.config import load_config

app = create_app(load_config(os.environ))
