"""Browsing the region's products: by category, cooperative and centre, and searching."""

from flask import render_template, request

from ...data import get_db
from ...i18n import text_languages
from .. import models
from . import bp


@bp.get("")
def index():
    products, total = models.catalogue(get_db(), langs=text_languages(),
                                       query=request.args.get("q") or None)
    return render_template("market/catalogue.html", products=products, total=total)
