"""Build-side tooling: the project's source artifact (``edgebundle.zip``), its on-device installer, and ``make build``."""
