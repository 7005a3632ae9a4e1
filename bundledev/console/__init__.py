"""The bundle's web console: a local page showing the running bundle, its data and its decisions.

Started with the core by the ``bundle`` view (``make run``), bound to 127.0.0.1 on a free port and
protected by a random token in the printed URL; ``BUNDLE_CONSOLE=off`` (``make run CONSOLE=off``)
turns it off. :mod:`~bundledev.console.data` keeps what the bundle publishes on its local topics,
:mod:`~bundledev.console.app` serves it (Starlette, server-sent events), and
:mod:`~bundledev.console.server` runs it beside the core (uvicorn in a thread). See docs/console.md.
"""
