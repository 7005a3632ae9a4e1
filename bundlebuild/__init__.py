"""Build-side tooling: ``make build`` (per-component artifacts with device wheels), their on-device installer, and the whole-source ``edgebundle.zip``."""
