#!/usr/bin/env node
/** PNGs of the rendered pages: headless Debian chromium, one per HTML file, 750 px wide. */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const [htmlDir, pngDir] = process.argv.slice(2);
const chromium = ['chromium', 'chromium-browser'].find(
  (name) => spawnSync('which', [name]).status === 0,
);
if (!chromium) {
  console.error('chromium is missing: apt-get install -y chromium fonts-wqy-microhei');
  process.exit(1);
}
fs.mkdirSync(pngDir, { recursive: true });
for (const file of fs
  .readdirSync(htmlDir)
  .filter((name) => name.endsWith('.html'))
  .sort()) {
  const png = path.join(pngDir, file.replace(/\.html$/, '.png'));
  const out = spawnSync(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--hide-scrollbars',
      '--window-size=750,1334',
      `--screenshot=${png}`,
      `file://${path.resolve(htmlDir, file)}`,
    ],
    { encoding: 'utf8', timeout: 60000 },
  );
  if (out.status !== 0 || !fs.existsSync(png)) {
    console.error(`chromium failed on ${file}: ${out.stderr}`);
    process.exit(1);
  }
  console.log(`${png}`);
}
