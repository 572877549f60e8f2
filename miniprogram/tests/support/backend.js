/**
 * The real backend for the end-to-end journeys, started as `make run` starts it (create-db,
 * db upgrade, seed-demo, then serve) but on a free loopback port, a throwaway SQLite file and
 * its own Redis database, which it empties first. stop() kills the whole process group and
 * removes the SQLite file and the server log (MINIPROGRAM_E2E_KEEP=1 keeps them).
 */
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const http = require('http');

const ROOT = path.resolve(__dirname, '../../..');
const VENV_BIN = path.join(ROOT, '.venv', 'bin');
const REDIS_URL = process.env.MINIPROGRAM_E2E_REDIS_URL || 'redis://127.0.0.1:6379/10';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function get(port, urlPath) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

function flushRedis() {
  const url = new URL(REDIS_URL);
  const db = url.pathname.replace('/', '') || '0';
  const out = spawnSync(
    'redis-cli',
    ['-h', url.hostname, '-p', url.port || '6379', '-n', db, 'flushdb'],
    {
      encoding: 'utf8',
    },
  );
  if (out.status !== 0) throw new Error(`redis-cli flushdb failed: ${out.stderr || out.error}`);
}

async function start() {
  const flask = path.join(VENV_BIN, 'flask');
  if (!fs.existsSync(flask)) {
    throw new Error(`${flask} is missing: run \`make install-dev\` at the repository root first`);
  }
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booking-mp-e2e-'));
  const env = {
    ...process.env,
    APP_ENV: 'development',
    TZ: 'Asia/Shanghai',
    DATABASE_URL: `sqlite:///${path.join(dir, 'mp.db')}`,
    REDIS_URL,
    PORT: String(port),
    FLASK_DEBUG: '0',
  };
  flushRedis();
  for (const args of [['create-db'], ['db', 'upgrade'], ['seed-demo']]) {
    const out = spawnSync(flask, ['--app', 'wsgi', ...args], { cwd: ROOT, env, encoding: 'utf8' });
    if (out.status !== 0) {
      throw new Error(`flask ${args.join(' ')} failed:\n${out.stdout}\n${out.stderr}`);
    }
  }
  const log = fs.openSync(path.join(dir, 'server.log'), 'a');
  const child = spawn(
    flask,
    ['--app', 'wsgi', 'run', '--host', '127.0.0.1', '--port', String(port)],
    {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', log, log],
    },
  );
  const backend = { port, dir, child, origin: `http://127.0.0.1:${port}` };
  const killOnExit = () => stop(backend);
  process.once('exit', killOnExit);
  backend.killOnExit = killOnExit;
  const until = Date.now() + 30000;
  while (Date.now() < until) {
    if (child.exitCode !== null) break;
    if ((await get(port, '/livez')) === 200) return backend;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const logText = fs.readFileSync(path.join(dir, 'server.log'), 'utf8').slice(-2000);
  stop(backend);
  throw new Error(`the backend did not answer on port ${port}:\n${logText}`);
}

function stop(backend) {
  if (!backend || backend.stopped) return;
  backend.stopped = true;
  process.removeListener('exit', backend.killOnExit);
  try {
    process.kill(-backend.child.pid, 'SIGTERM');
  } catch (err) {
    // Already gone.
  }
  // The database and the log go with it, unless kept to look at.
  if (!process.env.MINIPROGRAM_E2E_KEEP) fs.rmSync(backend.dir, { recursive: true, force: true });
}

module.exports = { start, stop, REDIS_URL };
