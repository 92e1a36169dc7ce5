"""Rendering mail: Jinja2 templates -> (subject, text, inlined HTML).

Templates are named ``{name}.{language}.txt`` and ``{name}.{language}.html``; the text
template sets ``subject``. One render serves every subscriber of a variant (language x
format x article selection): per-subscriber links are rendered as slot markers and put in
later by substitution (``message.prepare_body``). Dates are formatted with Babel in
``site.timezone``; no ``upper()``/``lower()`` touches Turkish text.

An article's link is its own URL, or (``[tracking] clicks``) the edition's click redirect
for it, made by the ``link`` the caller gives: the same for every reader of the variant.
Its categories are labelled in the reader's language by ``[feeds] category_names``, else
by the name the site gives them.

Every mail's footer (``layout.html``, ``sender.txt``) names the sender and shows
``[newsletter] postal_address``, as CAN-SPAM and the bulk-sender rules of Gmail and
Yahoo ask; the templates get it as ``postal_address``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
from babel.dates import format_date
from jinja2 import Environment, TemplateError, TemplateNotFound

from m5syndicate.collect import urls
from m5syndicate.config import SiteSettings
from m5syndicate.digest.editions import Selection
from m5syndicate.errors import RenderError
from m5syndicate.feeds.catalog import CategoryNames
from m5syndicate.models import Article, Category, Edition

# Slot markers: plain ASCII that autoescape, css-inline and quoted-printable leave alone.
UNSUBSCRIBE_SLOT = "m5slot-unsubscribe-url"
PREFERENCES_SLOT = "m5slot-preferences-url"
SLOTS = (UNSUBSCRIBE_SLOT, PREFERENCES_SLOT)
MAX_HTML_BYTES = 90_000  # Gmail clips messages at about 102 KB

NO_NAMES: CategoryNames = {}
# (article id, its checked URL) -> the link a mail gives it; '' stays ''.
ArticleLink = Callable[[int | None, str], str]

INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str | None  # None for text-only subscribers


def render_mail(
    env: Environment,
    template_name: str,
    language: str,
    context: Mapping[str, Any],
    *,
    html: bool = True,
) -> RenderedMail:
    """Render ``{template_name}.{language}.txt`` (and ``.html``); CSS inlined once."""
    context = {"language": language, **context}
    try:
        module = env.get_template(f"{template_name}.{language}.txt").make_module(dict(context))
        subject = " ".join(str(getattr(module, "subject", "")).split())
        text = str(module)
        page = (
            env.get_template(f"{template_name}.{language}.html").render(context, subject=subject)
            if html
            else None
        )
    except TemplateNotFound as exc:
        raise RenderError(
            f"render: template {exc.name} not found; add it to [newsletter] templates_dir "
            "or restore the bundled templates"
        ) from exc
    except TemplateError as exc:
        raise RenderError(f"render: {template_name}.{language}: {exc}; fix the template") from exc
    if not subject:
        raise RenderError(
            f"render: {template_name}.{language}.txt sets no subject; add "
            "{% set subject = ... %} to it"
        )
    return RenderedMail(subject, text, inline_css(page) if page is not None else None)


def inline_css(page: str) -> str:
    try:
        return str(INLINER.inline(page))
    except ValueError as exc:
        raise RenderError(f"render: cannot inline the CSS: {exc}; fix the stylesheet") from exc


@dataclass(frozen=True)
class ArticleView:
    """An article as a template shows it: dates already localized."""

    title: str
    url: str
    summary: str
    image_url: str
    image_alt: str
    date_text: str
    categories: list[str]
    author: str
    updated: bool = False


@dataclass(frozen=True)
class DigestPage:
    """The context of one digest variant (or of the web archive page)."""

    site_title: str
    site_url: str
    public_url: str
    edition: dict[str, str]
    articles: list[ArticleView]
    more: int
    more_url: str
    archive_url: str
    unsubscribe_url: str = UNSUBSCRIBE_SLOT
    preferences_url: str = PREFERENCES_SLOT
    postal_address: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        return {
            "site_title": self.site_title,
            "site_url": self.site_url,
            "public_url": self.public_url,
            "edition": self.edition,
            "articles": self.articles,
            "more": self.more,
            "more_url": self.more_url,
            "archive_url": self.archive_url,
            "unsubscribe_url": self.unsubscribe_url,
            "preferences_url": self.preferences_url,
            "postal_address": self.postal_address,
            **self.extra,
        }


def local_date(moment: datetime, language: str, tz: str, form: str = "long") -> str:
    return str(format_date(moment.astimezone(ZoneInfo(tz)), form, locale=language))


def article_view(
    article: Article,
    language: str,
    tz: str,
    updated: bool,
    category_names: CategoryNames = NO_NAMES,
    link: ArticleLink | None = None,
) -> ArticleView:
    """What a template may show of an article; its URLs checked against the URL policy
    again (collect applied it; a mail must stay safe even if a stored row did not)."""
    image_url = web_url(article.image_url)
    url = web_url(article.url)
    return ArticleView(
        title=article.title,
        url=link(article.id, url) if link is not None else url,
        summary=article.summary,
        image_url=image_url,
        image_alt=(article.image_alt or article.title) if image_url else "",
        date_text=local_date(article.published_at, language, tz),
        categories=[category_label(c, language, category_names) for c in article.categories],
        author=article.author,
        updated=updated,
    )


def category_label(category: Category, language: str, names: CategoryNames) -> str:
    """One display name per category: the configured one in the reader's language, else
    the one the site gives it."""
    return names.get(category.slug, {}).get(language) or category.name


def web_url(url: str) -> str:
    """An absolute http(s) URL, or '' (templates then show no link or image)."""
    safe = urls.safe_absolute_url(url)
    return safe if urls.scheme_of(safe) in urls.WEB_SCHEMES else ""


def archive_url(public_url: str, edition: Edition, language: str) -> str:
    return f"{public_url.rstrip('/')}/archive/{edition.slug}?lang={language}"


def digest_page(
    edition: Edition,
    selection: Selection,
    language: str,
    site: SiteSettings,
    postal_address: str = "",
    *,
    category_names: CategoryNames = NO_NAMES,
    link: ArticleLink | None = None,
) -> DigestPage:
    """Everything the digest templates need for one variant."""
    browser = archive_url(site.public_url, edition, language)
    return DigestPage(
        site_title=site.title,
        site_url=site.url,
        public_url=site.public_url.rstrip("/"),
        edition={
            "cadence": edition.cadence,
            "slug": edition.slug,
            "date_text": local_date(edition.until, language, site.timezone, "full"),
        },
        articles=[
            article_view(
                a, language, site.timezone, a.id in selection.updated, category_names, link
            )
            for a in selection.articles
        ],
        more=selection.more,
        more_url=browser,
        archive_url=browser,
        postal_address=postal_address,
    )


def render_digest(env: Environment, page: DigestPage, language: str, fmt: str) -> RenderedMail:
    """One variant's mail ("html" or "text") from its ``digest_page``."""
    mail = render_mail(env, "digest", language, page.context(), html=fmt == "html")
    if mail.html is not None and len(mail.html.encode("utf-8")) > MAX_HTML_BYTES:
        raise RenderError(
            f"render: the {language} digest of {page.edition['slug']} is over "
            f"{MAX_HTML_BYTES} bytes of HTML (Gmail clips it); lower [newsletter] max_articles"
        )
    return mail
