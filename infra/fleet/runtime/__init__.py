"""The certificate custom resource Lambda (deployed from this folder alone)."""
