"""Lesson Markdown to safe HTML.

Two locks on one door: markdown-it renders with raw HTML off (a tag shows as text), and nh3
(the Rust ammonia sanitiser) then keeps only the tags and attributes a lesson needs. A pack is
checked for HTML when it is imported, but rows also arrive by sync or may be edited by hand, so
whatever a lesson holds, no script survives. Pure: Markdown in, HTML out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from .packs import MEDIA_REF, split_pages

TAGS = {"p", "h1", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "blockquote", "img", "a",
        "br", "hr", "code", "pre", "figure", "figcaption"}
ATTRIBUTES = {"img": {"src", "alt", "width", "height", "loading"}, "a": {"href"},
              "ol": {"start"}}

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def _image(self, tokens, idx, options, env):
    """Pictures of the media store get their URL; anything else is dropped."""
    token = tokens[idx]
    source = token.attrGet("src") or ""
    if not source.startswith(MEDIA_REF):
        return ""
    alt = self.renderInlineAsText(token.children or [], options, env)
    url = env["media_url"](source[len(MEDIA_REF):])
    return (f'<img src="{Markup.escape(url)}" alt="{Markup.escape(alt)}" loading="lazy">')


_markdown.add_render_rule("image", _image)


def to_html(markdown: str, media_url: Callable[[str], str]) -> Markup:
    html = _markdown.render(markdown, {"media_url": media_url})
    return Markup(nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES,
                            url_schemes={"http", "https"}, link_rel="noopener noreferrer"))


@functools.lru_cache(maxsize=256)
def pages(body: str) -> tuple[str, ...]:
    """A lesson's pages (Markdown), cut at lines of ``---``."""
    return tuple(page for page in split_pages(body) if page.strip()) or ("",)
