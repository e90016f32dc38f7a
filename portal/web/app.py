"""The Flask application factory: the web parts and the command line put together."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from portal import cli
from portal.config import Config, load_config
from portal.services import risk
from portal.services.inputs import MAX_ROW_ID
from portal.web import context, errors, health, i18n, kdf_bound, logs, ratelimit, security
from portal.web.admin import bp as admin_bp
from portal.web.child import bp as child_bp
from portal.web.desk import bp as desk_bp

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
# The largest request body accepted: a full form of Cyrillic text is ~60 KB percent-encoded,
# so a child never meets the 413 page; anything larger is refused before it is read.
MAX_CONTENT_LENGTH = 256 * 1024
# The answer to a Host that is not ours: no template (it could not link its style sheet), but
# the numbers to call, as on every error page, for whoever reached us by a wrong name.
UNKNOWN_HOST_PAGE = "400 Bad Request: this address is not the portal's.\n112 · 102 · 103 · 111\n"


def create_app(config: Config | None = None) -> Flask:
    """Build the app from its configuration (read from the environment when not given)."""
    if config is None:
        config = load_config()
    app = Flask(
        __name__,
        instance_path=str(config.instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(
        SECRET_KEY=config.secret_key,
        TESTING=config.testing,
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=config.is_production,
        SESSION_COOKIE_SAMESITE="Lax",
        # Flask's session holds the staff forms' CSRF token and flashes: the child's pages
        # never use it, and a staff browser need not send it to them either.
        SESSION_COOKIE_PATH="/staff",
        PREFERRED_URL_SCHEME="https" if config.is_production else "http",
        # Any other Host is a 400 before routing (Flask >= 3.1): never reflected in a redirect.
        TRUSTED_HOSTS=config.trusted_hosts,
    )
    app.extensions["portal.config"] = config
    # First of the hooks, so that none of the others (rate limits, sessions) sees such a request.
    app.before_request(refuse_unknown_host)
    # Every <int:...> of a route is a row id: past the largest one it is a 404, not a 500.
    app.url_map.converters["int"] = RowIdConverter
    # Templates never see the configuration (secrets live there).
    app.jinja_env.globals.pop("config", None)
    app.jinja_env.globals["exit_url"] = config.exit_url
    logs.init_logging()
    # Before any connection is opened: production stops here without compiled catalogs.
    i18n.init_app(app, production=config.is_production)
    context.init_app(app, config)
    security.init_app(app, https=config.is_production)
    errors.init_app(app)
    if config.redis_url:
        errors.init_session_store(app)
    ratelimit.init_app(app, config)
    kdf_bound.init_app(app, config.max_kdf_concurrency)
    if config.trusted_proxies:
        # Only that many hops of X-Forwarded-For are believed: with none, it is anyone's to
        # forge (and the rate limits' client would be whatever a client claims to be). The
        # scheme is the one our nearest proxy (nginx) says it was reached with.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.trusted_proxies, x_proto=1
        )
    # A broken edit of the risk lexicon fails the start, not a child's report later.
    risk.load_lexicon()

    app.register_blueprint(child_bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(desk_bp)
    app.register_blueprint(admin_bp)
    cli.init_app(app)
    return app


def refuse_unknown_host() -> Response | None:
    """A plain 400 for a Host outside TRUSTED_HOSTS, before anything else is done for it.

    Flask refuses it only once the other hooks have run, and its error page cannot be drawn:
    no URL (not even the style sheet's) can be built for a host that is not ours.
    """
    if isinstance(request.routing_exception, SecurityError):
        return Response(UNKNOWN_HOST_PAGE, 400, mimetype="text/plain")
    return None


class RowIdConverter(IntegerConverter):
    """<int:...> in a route: a whole number from 1 to the largest row id."""

    def __init__(self, map: Map, *args: object, **kwargs: object) -> None:
        super().__init__(map, min=1, max=MAX_ROW_ID)
