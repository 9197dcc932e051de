#!/usr/bin/env node
console.error('warden: not built yet')
process.exit(1)
