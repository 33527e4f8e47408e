import { accessSync, closeSync, constants, existsSync, openSync, readSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { InputError, TasselError } from '../errors.js';

/**
 * Checks `tassel up` makes before it writes anything (generated data, the tracking store, a run, a model
 * version): every port it will listen on, the data it will read, the store it will write to. Each failure is
 * one line naming what is wrong and the flag that changes it.
 */

/** A port held open until its real server starts, so nothing can take it while the pipeline runs. */
export interface PortReservation {
  port: number;
  /** Lets go of the port (call right before the real server listens on it). */
  release(): Promise<void>;
}

/** What answers on a port that is in use, as far as one short HTTP probe can tell. */
export async function describePortUser(host: string, port: number, timeoutMs = 1000): Promise<string> {
  const get = async (path: string) => {
    const res = await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, text: (await res.text()).slice(0, 200) };
  };
  try {
    const live = await get('/health/live');
    if (live.status === 200 && /status/.test(live.text)) return 'a Tassel prediction service';
    const version = await get('/version');
    if (version.status === 200 && /^[\w.+-]{1,40}$/.test(version.text.trim()))
      return `an MLflow-compatible tracking server (version ${version.text.trim()}; another tassel up or tassel server?)`;
    return 'another HTTP server';
  } catch {
    return 'another program';
  }
}

/**
 * Binds `port` on `host` and keeps it, or throws an InputError naming the port, what uses it and `flag`.
 * Port 0 needs no reservation (the real server picks a free port).
 */
export async function reservePort(
  host: string,
  port: number,
  what: string,
  flag: string,
): Promise<PortReservation> {
  if (port === 0) return { port, release: async () => {} };
  const server: Server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => resolve());
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      const user = await describePortUser(host, port);
      throw new InputError(
        `port ${port} (${what}) is already in use by ${user}: stop it, or pass ${flag} <port> (0 = any free port); nothing was written`,
      );
    }
    if (code === 'EACCES')
      throw new InputError(`port ${port} (${what}) needs privileges here: pass ${flag} <port> above 1023`);
    throw new InputError(`cannot listen on ${host}:${port} (${what}): ${code ?? String(e)}; pass ${flag} <port>`);
  }
  return {
    port,
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A data file must exist, be a readable file and hold at least a header line. */
export function checkDataFile(path: string, flag: string): void {
  let fd: number;
  try {
    if (!statSync(path).isFile()) throw new InputError(`${path}: not a file (${flag})`);
    fd = openSync(path, 'r');
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT' ? `${path}: file not found (${flag})` : `${path}: cannot read it (${code}) (${flag})`,
    );
  }
  try {
    const buf = Buffer.alloc(1);
    if (readSync(fd, buf, 0, 1, 0) === 0) throw new InputError(`${path}: the file is empty (${flag})`);
  } finally {
    closeSync(fd);
  }
}

/** The folder must exist or be creatable, and be writable (the embedded store and generated data go there). */
export function checkWritableDir(dir: string, what: string): void {
  try {
    if (!existsSync(dir)) {
      let parent = dirname(dir);
      while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
      accessSync(parent, constants.W_OK);
    } else accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new InputError(
      `${dir}: cannot write ${what} there (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
}

/** An existing embedded store must be a SQLite database this Tassel can open (it is not modified here). */
export async function checkSqliteStore(dataDir: string): Promise<void> {
  const file = join(dataDir, 'mlflow.db');
  if (!existsSync(file)) return;
  const { default: Database } = await import('better-sqlite3');
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      db.pragma('schema_version');
    } finally {
      db.close();
    }
  } catch (e) {
    throw new InputError(
      `${file}: not a usable tracking store (${(e as Error).message}); move it away or set tracking.data_dir in the pipeline config`,
    );
  }
}

/** A remote tracking server must answer (and accept the token) before the pipeline logs anything to it. */
export async function checkTrackingServer(uri: string, token: string | undefined, timeoutMs = 10_000): Promise<void> {
  const url = `${uri.replace(/\/$/, '')}/api/2.0/mlflow/experiments/search?max_results=1`;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new TasselError(
      'TEMPORARILY_UNAVAILABLE',
      `tracking server ${uri} is not reachable (${(e as Error).cause ? String((e as Error).cause) : (e as Error).message}); nothing was written`,
    );
  }
  if (res.status === 401 || res.status === 403)
    throw new InputError(
      `tracking server ${uri} refused the credentials (HTTP ${res.status}): set TASSEL_AUTH_TOKEN; nothing was written`,
    );
  if (!res.ok)
    throw new TasselError(
      'TEMPORARILY_UNAVAILABLE',
      `tracking server ${uri} answered HTTP ${res.status} to experiments/search; nothing was written`,
    );
}
