#!/usr/bin/env bash
# The second Node.js line CI tests on (the first is the machine's own, Node 20, which runs the whole
# suite). A representative subset runs on the current LTS: the policy and core packages whole, one
# driver against its real server (pg), and the docs (the README quick start runs in a child node).
# When the machine's node is not that line, it comes from the npm registry's `node` package (npm
# exec puts it first on PATH, so test children run on it too); nothing is installed system-wide.
#   scripts/test-lts.sh [major] [test paths...]    defaults: 22, the subset below
set -euo pipefail
cd "$(dirname "$0")/.."

major=${1:-22}
shift || true
paths=("$@")
[ ${#paths[@]} -gt 0 ] || paths=(packages/policy packages/core packages/drivers/test/pg test/docs)

run=(node node_modules/vitest/vitest.mjs run "${paths[@]}")
if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  echo "test-lts: Node $(node --version) is already Node $major; running ${paths[*]}"
  "${run[@]}"
else
  echo "test-lts: running ${paths[*]} on Node $major from the npm registry's node package (this machine has $(node --version))"
  npm exec --yes --package="node@$major" -- node -e 'console.log(`test-lts: using Node ${process.version}`)'
  npm exec --yes --package="node@$major" -- "${run[@]}"
fi
