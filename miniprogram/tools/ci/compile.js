/**
 * `make miniprogram-ci`: WeChat's own tooling, offline. Builds the npm packages into
 * src/miniprogram_npm (what DevTools' 「构建 npm」 does) and compiles the whole project as an
 * upload would (getCompiledResult), with a dummy key and no AppID: nothing leaves the machine.
 * Prints the compiled size of the main package and of each subpackage; exits 1 on any error.
 */
const path = require('path');
const ci = require('miniprogram-ci');

const PROJECT = path.resolve(__dirname, '../..');
const LIMIT = 2 * 1024 * 1024;

async function main() {
  const packed = await ci.packNpmManually({
    packageJsonPath: path.join(PROJECT, 'package.json'),
    miniprogramNpmDistDir: path.join(PROJECT, 'src/'),
  });
  console.log('npm build:', JSON.stringify(packed));

  const project = new ci.Project({
    appid: 'wx0000000000000001',
    type: 'miniProgram',
    projectPath: PROJECT,
    privateKey: 'dummy-key-for-offline-compilation',
    ignores: ['node_modules/**/*', 'tests/**/*', 'tools/**/*', 'docs/**/*'],
    attr: async () => ci.DefaultProjectAttr,
  });
  const result = await ci.getCompiledResult({
    project,
    desc: 'offline compile check',
    setting: { useProjectConfig: true },
    onProgressUpdate: (info) =>
      process.env.CI_VERBOSE &&
      console.log(String(info && (info.message || info._msg || JSON.stringify(info)))),
  });
  const files = Object.keys(result);
  const sizes = {};
  for (const file of files) {
    const root = (file.match(/^\/?packages\/[^/]+/) || ['main'])[0].replace(/^\//, '');
    const content = result[file];
    sizes[root] =
      (sizes[root] || 0) +
      (typeof content === 'string' ? Buffer.byteLength(content) : content.length);
  }
  console.log(`compiled ${files.length} files`);
  let tooBig = false;
  for (const [root, bytes] of Object.entries(sizes).sort()) {
    console.log(`  ${root.padEnd(20)} ${(bytes / 1024).toFixed(1)} KB`);
    if (bytes > LIMIT) tooBig = true;
  }
  if (tooBig) {
    console.error('a package is over 2 MB');
    process.exit(1);
  }
}

// miniprogram-ci leaves its compiler process running: end explicitly once the result is in.
main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error('miniprogram-ci failed:', err && (err.stack || err.message || err));
    process.exit(1);
  });
