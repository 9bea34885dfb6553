"""The release bundle: one deterministic tarball per runtime, MANIFEST.json, SHA256SUMS, release notes."""
