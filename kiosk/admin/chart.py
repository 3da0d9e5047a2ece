"""Bar charts drawn on the server as the numbers of an inline SVG: no script, no library, nothing
fetched. The template (``admin/_chart.html``) writes the shapes; the table beside the chart holds
the same figures for those who cannot see it. Imports nothing from kiosk.
"""

from __future__ import annotations

import math

WIDTH, HEIGHT = 480, 200  # the drawing's own units (the viewBox); the page scales it
TOP, BOTTOM, SIDE = 22, 40, 8  # room for the values above the bars and the months below
# Months are labelled on two staggered rows: twelve full names (Arabic has no short ones) do not
# fit side by side on a small screen.
LABEL_ROWS = (HEIGHT - 22, HEIGHT - 6)


def bars(values: list[int], labels: list[str], *, title: str) -> dict:
    """The geometry of a bar chart of ``values`` (one bar per label, in order): each bar's
    ``x``, ``y``, ``width``, ``height``, its value and label, and where the labels go."""
    count = max(len(values), 1)
    slot = (WIDTH - 2 * SIDE) / count
    width = slot * 0.7
    top = max(values, default=0)
    scale = nice(top)
    room = HEIGHT - TOP - BOTTOM
    found = []
    for i, (value, label) in enumerate(zip(values, labels)):
        height = room * value / scale if scale else 0
        if value and height < 2:
            height = 2  # a month with any is never drawn as none
        x = SIDE + i * slot + (slot - width) / 2
        found.append({"x": round(x, 1), "y": round(TOP + room - height, 1),
                      "width": round(width, 1), "height": round(height, 1), "value": value,
                      "label": label, "middle": round(x + width / 2, 1),
                      "label_y": LABEL_ROWS[i % 2]})
    return {"title": title, "bars": found, "width": WIDTH, "height": HEIGHT,
            "base": TOP + room, "empty": top == 0}


def nice(top: int) -> int:
    """A round number at least ``top`` for the top of the scale (1, 2, 5, 10, 20, 50...)."""
    if top <= 0:
        return 0
    power = 10 ** int(math.floor(math.log10(top)))
    for step in (1, 2, 5, 10):
        if step * power >= top:
            return step * power
    return 10 * power
