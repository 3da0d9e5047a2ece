"""(being written)"""

from . import bp  # noqa: F401


@bp.route("/")
def index():
    return "stories"
