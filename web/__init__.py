"""Web layer: the Flask app and the command line, the outermost ring around the domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

MAX_BODY_BYTES = 1024 * 1024
"""Far above any real request (a description holds 10,000 characters), far below harm."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app around one Leanplan application.

    Tests hand in a ready application as `LEANPLAN_APP`; otherwise one is opened on
    `DATABASE_URL` (from `config`, else the environment, else the default file), the one place
    adapters.bootstrap decides. Blueprints find it in `app.extensions["leanplan"]`, and the
    history read side, which pages a long history without replaying it, in
    `app.extensions["leanplan_history"]`.
    """
    from adapters.bootstrap import open_leanplan
    from adapters.history import history_read_model
    from web import api, calendar_links, errors, feeds, ops, ui

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config.from_mapping(config or {})
    leanplan = app.config.get("LEANPLAN_APP") or open_leanplan(app.config.get("DATABASE_URL"))
    app.extensions["leanplan"] = leanplan
    app.extensions["leanplan_history"] = history_read_model(leanplan)
    ops.init_app(app)
    api.init_app(app)
    feeds.init_app(app)
    calendar_links.init_app(app)
    errors.install(app)
    app.register_blueprint(ui.blueprint)
    return app
