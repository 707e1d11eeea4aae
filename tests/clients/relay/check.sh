#!/bin/sh
# relay-compiler against the schema dibx serves, with documents that use @connection and
# @refetchable on root and nested connections (src/Directory.js). Exits non-zero if Relay
# rejects the schema or a document.
#
#   tests/clients/relay/check.sh [schema.graphql]
#
# Without an argument the SDL is exported with `dibx schema` (PYTHON picks the interpreter,
# default .venv/bin/python). relay-compiler is installed from package-lock.json with
# `npm ci` on first use; nothing else is fetched.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
cd "$here"
if [ ! -x node_modules/.bin/relay-compiler ]; then
  npm ci --ignore-scripts --no-audit --no-fund >/dev/null
fi
if [ "$#" -gt 0 ]; then
  cp "$1" schema.graphql
else
  "$python" -m dibx.cli schema > schema.graphql
fi
rm -rf src/__generated__
exec node_modules/.bin/relay-compiler
