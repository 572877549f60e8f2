/**
 * The real backend for the end-to-end journeys, started as `make run` starts it (create-db,
 * db upgrade, seed-demo, then serve) but on a free loopback port, a throwaway SQLite file and
 * its own Redis database, which it holds for the run (see lockRedis) and empties first. stop() kills the whole process group and
 * removes the SQLite file and the server log (MINIPROGRAM_E2E_KEEP=1 keeps them).
 *
 * No worker runs beside it: runJobs() runs the queued jobs once, as a worker would (the outbox's
 * messages, refunds); flask() runs one of its CLI commands; clinicNow() opens a clinic of today
 * whose period includes now (backend_tasks.py), all in the served app's environment.
 */
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const http = require('http');

const ROOT = path.resolve(__dirname, '../../..');
const VENV_BIN = path.join(ROOT, '.venv', 'bin');
const TASKS = path.join(__dirname, 'backend_tasks.py');
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

// Two runs of the journeys at once (two `make test` on one machine) would share the Redis
// database, each emptying it under the other. A run holds it by a key of its own there, renewed
// while it runs (so it expires a minute after a run that died), and keeps that key when it empties
// the database; another run waits for it.
const LOCK_KEY = 'miniprogram:e2e:lock';
const LOCK_SECONDS = 60;
const LOCK_WAIT_MS = 5 * 60 * 1000;
const EMPTY_BUT_LOCK = `for _, key in ipairs(redis.call('KEYS', '*')) do
  if key ~= ARGV[1] then redis.call('DEL', key) end
end
return 1`;
const IF_OURS = (command) =>
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call(${command}) end return 0`;

function redis(...args) {
  const url = new URL(REDIS_URL);
  const db = url.pathname.replace('/', '') || '0';
  const out = spawnSync(
    'redis-cli',
    ['-h', url.hostname, '-p', url.port || '6379', '-n', db, ...args],
    { encoding: 'utf8' },
  );
  if (out.status !== 0 || /^(\(error\) )?ERR/.test(out.stdout || '')) {
    throw new Error(`redis-cli ${args[0]} failed: ${out.stderr || out.stdout || out.error}`);
  }
  return (out.stdout || '').trim();
}

/** Hold the journeys' Redis database for this run, waiting for another run to let it go. */
async function lockRedis() {
  const token = `${os.hostname()}:${process.pid}:${Date.now()}`;
  const until = Date.now() + LOCK_WAIT_MS;
  while (redis('SET', LOCK_KEY, token, 'NX', 'EX', String(LOCK_SECONDS)) !== 'OK') {
    if (Date.now() > until) {
      throw new Error(`another run of the journeys holds ${REDIS_URL} (${redis('GET', LOCK_KEY)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const renew = setInterval(
    () => {
      try {
        redis(
          'EVAL',
          IF_OURS("'EXPIRE', KEYS[1], ARGV[2]"),
          '1',
          LOCK_KEY,
          token,
          String(LOCK_SECONDS),
        );
      } catch (err) {
        // Redis away: the run fails on its own.
      }
    },
    (LOCK_SECONDS * 1000) / 3,
  );
  redis('EVAL', EMPTY_BUT_LOCK, '0', LOCK_KEY);
  return { token, renew };
}

function unlockRedis(lock) {
  clearInterval(lock.renew);
  try {
    redis('EVAL', IF_OURS("'DEL', KEYS[1]"), '1', LOCK_KEY, lock.token);
  } catch (err) {
    // It expires by itself.
  }
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
  const lock = await lockRedis();
  try {
    return await serve({ port, dir, env, lock });
  } catch (err) {
    unlockRedis(lock);
    throw err;
  }
}

async function serve({ port, dir, env, lock }) {
  const flask = path.join(VENV_BIN, 'flask');
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
  const backend = { port, dir, child, env, lock, origin: `http://127.0.0.1:${port}` };
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
  unlockRedis(backend.lock);
  // The database and the log go with it, unless kept to look at.
  if (!process.env.MINIPROGRAM_E2E_KEEP) fs.rmSync(backend.dir, { recursive: true, force: true });
}

function run(backend, command, args, what) {
  const out = spawnSync(command, args, {
    cwd: ROOT,
    env: { ...backend.env, PYTHONPATH: ROOT },
    encoding: 'utf8',
    timeout: 60000,
  });
  // Kept beside the server's log (MINIPROGRAM_E2E_KEEP=1 keeps both).
  fs.appendFileSync(path.join(backend.dir, 'tasks.log'), `$ ${what}\n${out.stdout}${out.stderr}\n`);
  if (out.status !== 0) {
    throw new Error(`${what} failed (${out.status}):\n${out.stdout}\n${out.stderr || out.error}`);
  }
  return out.stdout;
}

/** `flask --app wsgi <args>` against the served app's database and Redis; its output. */
function flask(backend, args) {
  return run(backend, path.join(VENV_BIN, 'flask'), ['--app', 'wsgi', ...args], `flask ${args[0]}`);
}

/** Run every queued job once, as a worker would (burst), until none is left. */
function runJobs(backend) {
  run(backend, path.join(VENV_BIN, 'python'), [TASKS, 'run-jobs'], 'running the jobs');
}

/** What the jobs and commands run so far said (the end of it), to explain a failed check. */
function tasksLog(backend, chars = 4000) {
  const file = path.join(backend.dir, 'tasks.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').slice(-chars) : '';
}

/** A clinic of today in `departmentId` whose period includes now: {schedule_id, date, …}. */
function clinicNow(backend, departmentId, feeFen) {
  const out = run(
    backend,
    path.join(VENV_BIN, 'python'),
    [TASKS, 'clinic-now', String(departmentId), String(feeFen)],
    'opening a clinic of today',
  );
  return JSON.parse(out.trim().split('\n').pop());
}

module.exports = { start, stop, flask, runJobs, clinicNow, tasksLog, REDIS_URL, LOCK_WAIT_MS };
