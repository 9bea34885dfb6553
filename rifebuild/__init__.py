"""rife-build: turn the RIFE v4.6 checkpoint into verified mobile artifacts."""
