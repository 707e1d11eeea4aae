"""dibx: allied defense industrial-base data exchange backend."""
