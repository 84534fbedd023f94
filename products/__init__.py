"""One library function per product, called unchanged by every door.

The CLI (``commands/``), the dashboard (``app_pages/``) and the briefing (``report/``) parse
their inputs into a :class:`products.query.Query` and a :class:`geo.privacy.PrivacyPolicy`,
call the product function here and render what it returns. Every product returns tables that
have passed :func:`geo.privacy.publish` for the policy's tier; public derived values are
computed from public figures only.
"""
