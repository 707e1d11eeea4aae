"""The operator commands too large for `dibx.cli`: `import`, `sample-files` and `export`.

Like `cli.py` they sit above the layers: they build what the API's start-up builds
(`dibx.app.startup`) and drive the exchange engine (`dibx.exchange`) without the API.
"""
