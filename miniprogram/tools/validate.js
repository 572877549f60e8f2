#!/usr/bin/env node
/**
 * What WeChat DevTools would refuse, checked without it:
 *  - project.config.json's miniprogramRoot holds app.json, app.js, app.wxss and sitemap.json;
 *  - every page of app.json (main package and subpackages) has its .js, .json, .wxml, .wxss;
 *    subpackage roots exist and tabBar pages are in the main package;
 *  - every JSON parses; navigationBarTitleText is a string;
 *  - every usingComponents path resolves to a component (or a built npm package);
 *  - the main package and each subpackage stay under 2 MB (all files counted, maps included);
 *  - no wx.request outside services/request.js;
 *  - every WXML template compiles with WeChat's compiler (miniprogram-compiler).
 * Exits 1 with the list of problems.
 */
const fs = require('fs');
const path = require('path');

const PROJECT = path.resolve(__dirname, '..');
const LIMIT = 2 * 1024 * 1024;
const problems = [];

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push(`${path.relative(PROJECT, file)}: ${err.message}`);
    return null;
  }
}

function walk(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(full) : [full];
  });
}

const project = readJson(path.join(PROJECT, 'project.config.json')) || {};
const SRC = path.join(PROJECT, project.miniprogramRoot || '');
const rel = (file) => path.relative(SRC, file).split(path.sep).join('/');

for (const file of ['app.json', 'app.js', 'app.wxss', 'sitemap.json']) {
  if (!fs.existsSync(path.join(SRC, file))) problems.push(`${file} is missing from ${rel(SRC)}`);
}
const app = readJson(path.join(SRC, 'app.json')) || { pages: [] };
readJson(path.join(SRC, 'sitemap.json'));

// Pages and subpackages.
const subPackages = app.subPackages || app.subpackages || [];
const pages = [...app.pages];
const seen = new Set();
for (const pkg of subPackages) {
  if (!fs.existsSync(path.join(SRC, pkg.root)))
    problems.push(`subpackage root ${pkg.root} is missing`);
  for (const page of pkg.pages) pages.push(`${pkg.root}/${page}`);
}
for (const page of pages) {
  if (seen.has(page)) problems.push(`${page} is listed twice`);
  seen.add(page);
  for (const ext of ['js', 'json', 'wxml', 'wxss']) {
    if (!fs.existsSync(path.join(SRC, `${page}.${ext}`)))
      problems.push(`${page}.${ext} is missing`);
  }
}
for (const item of (app.tabBar && app.tabBar.list) || []) {
  if (!app.pages.includes(item.pagePath)) {
    problems.push(`tabBar page ${item.pagePath} is not in the main package`);
  }
}

// JSON files and their components.
const sources = walk(SRC).filter((file) => !rel(file).startsWith('miniprogram_npm/'));
function componentExists(from, target) {
  if (target.startsWith('plugin://')) return true;
  const base = target.startsWith('/')
    ? path.join(SRC, target)
    : target.startsWith('.')
      ? path.join(path.dirname(from), target)
      : path.join(SRC, 'miniprogram_npm', target);
  const candidates = [base, path.join(base, 'index')];
  return candidates.some((c) =>
    ['js', 'json', 'wxml'].every((ext) => fs.existsSync(`${c}.${ext}`)),
  );
}
for (const file of sources.filter((f) => f.endsWith('.json'))) {
  const json = readJson(file);
  if (!json) continue;
  if ('navigationBarTitleText' in json && typeof json.navigationBarTitleText !== 'string') {
    problems.push(`${rel(file)}: navigationBarTitleText must be a string`);
  }
  for (const [name, target] of Object.entries(json.usingComponents || {})) {
    if (!componentExists(file, target)) {
      problems.push(`${rel(file)}: component ${name} → ${target} does not exist`);
    }
  }
}

// Package sizes.
const roots = subPackages.map((pkg) => pkg.root.replace(/\/$/, ''));
const sizes = { main: 0 };
for (const root of roots) sizes[root] = 0;
for (const file of walk(SRC)) {
  const name = rel(file);
  const root = roots.find((r) => name.startsWith(`${r}/`)) || 'main';
  sizes[root] += fs.statSync(file).size;
}
for (const [root, bytes] of Object.entries(sizes)) {
  if (bytes > LIMIT) problems.push(`${root} is ${(bytes / 1024).toFixed(0)} KB, over 2 MB`);
}

// The one caller of wx.request.
for (const file of sources.filter((f) => f.endsWith('.js'))) {
  if (rel(file) === 'services/request.js') continue;
  const code = fs.readFileSync(file, 'utf8');
  if (/\bwx\s*(\.\s*request\b|\[\s*['"]request['"]\s*\])/.test(code)) {
    problems.push(`${rel(file)} calls wx.request: only services/request.js may`);
  }
}

// WXML, compiled as WeChat compiles it.
try {
  const compiler = require('miniprogram-compiler');
  compiler.wxmlToJs(SRC);
} catch (err) {
  problems.push(`WXML does not compile: ${String(err.message || err).trim()}`);
}

const summary = Object.entries(sizes)
  .map(([root, bytes]) => `${root} ${(bytes / 1024).toFixed(1)} KB`)
  .join(', ');
if (problems.length) {
  console.error(`mini-program validation: ${problems.length} problem(s)`);
  for (const problem of problems) console.error(`  - ${problem}`);
  process.exit(1);
}
console.log(`mini-program validation: ${pages.length} pages OK; ${summary}`);
