"""Learner and employer pages of the credential service (server-rendered HTML, PDF and SVG).

* ``views.py`` / ``progress.py``: what the pages show, from the stored signed credential and the
  awarding engine's explanation (pure);
* ``i18n.py``: en / nl / de / fr, negotiated from ``?lang=`` and ``Accept-Language``;
* ``render.py`` + ``templates/`` + ``pages.css``: Jinja2 templates, autoescaped, no JavaScript;
* ``verify.py``: the live verification on the public page (the verification report, cached briefly);
* ``session.py``: the backpack's learner token (header or short-lived cookie);
* ``pdf.py`` / ``badge.py``: the printable certificate with its QR code, and the SVG badge;
* ``reads.py``: SQL.

The routes are in ``entrypoints/pages.py`` (``wire_pages``); see docs/credential-pages.md.
"""
