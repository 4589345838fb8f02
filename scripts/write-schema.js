#!/usr/bin/env node
// Writes the JSON Schema of mproxy config files into dist/, from the option schema (so it
// ships in the package for editors: `# yaml-language-server: $schema=...`).
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { configJsonSchema } = require('../dist/schema/config.js')

const out = path.join(__dirname, '..', 'dist', 'mproxy.schema.json')
fs.writeFileSync(out, `${JSON.stringify(configJsonSchema(), null, 2)}\n`)
