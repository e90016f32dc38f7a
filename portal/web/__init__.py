"""The Flask app: the child's pages, the triage desk and the admin pages, and what they share.

`app.create_app` builds it. Blueprints are packages named as their blueprint (`child`, `desk`,
`admin`), each with its views and its forms; their templates live in `templates/<blueprint>/`.
The modules beside them serve every page: `context` (the configuration and database session of
a request), `errors`, `security` (headers), `i18n` (languages, Kazakhstan time), `ratelimit`,
`kdf_bound`, `access` (the staff role table), `health` and `logs`.
"""
