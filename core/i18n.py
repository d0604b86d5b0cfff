"""Languages: Chinese (zh_Hans_CN) by default, English on request.

The choice comes from `?lang=`, then the signed-in user's preference, then a cookie, then the
browser's Accept-Language, then the default.
"""

from flask import Flask, Response, g, request
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l

from core.auth import current_user

LOCALES = ("zh_Hans_CN", "en")
LANG_COOKIE = "lang"
ALIASES = {"zh": "zh_Hans_CN", "zh_CN": "zh_Hans_CN", "zh-CN": "zh_Hans_CN", "zh_Hans_CN": "zh_Hans_CN", "en": "en"}

babel = Babel()

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "manager": _l("Manager"),
    "agent": _l("Call agent"),
    "handler": _l("Department handler"),
}


def role_label(role: object) -> str:
    key = str(getattr(role, "value", role))
    return str(ROLE_LABELS.get(key, key))


def _from_param() -> str | None:
    raw = request.args.get("lang", "")
    return ALIASES.get(raw)


def select_locale() -> str:
    chosen = _from_param()
    if chosen:
        g.set_lang_cookie = chosen
        return chosen
    user = current_user
    if getattr(user, "is_authenticated", False) and getattr(user, "locale", "") in LOCALES:
        return str(user.locale)
    cookie = ALIASES.get(request.cookies.get(LANG_COOKIE, ""))
    if cookie:
        return cookie
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best:
        return ALIASES.get(best, "zh_Hans_CN")
    return "zh_Hans_CN"


def _remember_choice(response: Response) -> Response:
    chosen = g.get("set_lang_cookie")
    if chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def init_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["role_label"] = role_label
    app.jinja_env.globals["get_locale"] = get_locale
    app.after_request(_remember_choice)
