// Composition root: the only module that knows every part. It owns the clock
// and the file system, and wires engine + WAL + snapshots + network:
//
//   options -> lock DATA_DIR -> load the newest valid snapshot -> replay the
//   WAL after it -> open the WAL writer -> engine effects feed the writer ->
//   listen; a timer (and SIGUSR2, and clean shutdown) compacts the log into a
//   snapshot.
//
// It listens only after recovery. SIGTERM/SIGINT, and the `shutdown` command
// when -A allows it: stop accepting, release the replies still owed after a
// final write + fsync, close, exit 0. A failed write or fsync is fatal
// (exit 1): what was acknowledged is already durable. With -Y, SIGHUP
// reloads the auth file (as memcached); a bad file keeps the old entries.

import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { Engine } from './engine/engine.js';
import type { Effect } from './engine/types.js';
import { OptionError, parseServerOptions, usage, type ServerOptions } from './cli/options.js';
import { loadAuthEntries, loadSecurity, type Security } from './cli/security.js';
import { DataDirLockedError, lockDataDir } from './cli/lock.js';
import { isToolName } from './cli/tool-names.js';
import { loadEnvFile } from './cli/env-file.js';
import { nodeDisk } from './wal/disk.js';
import { recoverWal, replayInto, WalCorruptionError } from './wal/recovery.js';
import { listSegments } from './wal/segments.js';
import { ballast_default_bytes, WalWriter } from './wal/writer.js';
import { Compactor, loadNewestSnapshot, type SnapshotSource } from './snapshot/index.js';
import { removeCoveredSegments } from './wal/segments.js';
import { server_version, statText } from './net/stats.js';
import { startServer, type MemcachedServer } from './net/server.js';
import type { Credentials } from './net/auth.js';
import type { Backend, ServerSettings } from './net/backend.js';

const engine_tick_interval_ms = 1000;

function makeLogger(verbosity: () => number) {
  return (level: number, message: string) => {
    if (level <= verbosity()) process.stderr.write(`[memcached-lite ${new Date().toISOString()}] ${message}\n`);
  };
}

export interface RunningServer {
  server: MemcachedServer;
  /** Takes a snapshot now and compacts the log (SIGUSR2). */
  compact(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface StartExtras {
  /** Loaded auth file and TLS material (security.ts). */
  security?: Security;
  /** What the `shutdown` command does (with -A); main() makes it a clean shutdown, as SIGTERM. */
  onShutdownCommand?: () => void;
}

export async function startFromOptions(options: ServerOptions, extras: StartExtras = {}): Promise<RunningServer> {
  const dataDir = resolve(options.dataDir);
  const settings: ServerSettings = {
    host: options.host, port: options.port, connectionLimit: options.connectionLimit, itemSizeMaxBytes: options.itemSizeMaxBytes,
    verbosity: options.verbosity, dataDir, fsyncMode: options.fsync, evictionsDisabled: options.evictionsDisabled,
    strictKeys: options.strictKeys,
    auth: extras.security?.auth, tls: extras.security?.tls, idleTimeoutS: options.idleTimeoutS,
    shutdownEnabled: options.shutdownEnabled && extras.onShutdownCommand !== undefined,
    extraSettings: ourSettings(options),
  };
  const log = makeLogger(() => settings.verbosity);
  const walDir = join(dataDir, 'wal');
  await mkdir(walDir, { recursive: true });
  const unlock = await lockDataDir(dataDir, (err) => {
    log(0, `fatal: lost the data directory lock (${err.message})`);
    process.exit(1);
  });

  let sink: (effect: Effect) => void = () => { throw new Error('the engine emitted an effect during recovery'); };
  const engine = new Engine(
    {
      memoryLimitBytes: options.memoryLimitMb * 1024 * 1024, itemSizeMaxBytes: options.itemSizeMaxBytes, evictionsDisabled: options.evictionsDisabled,
      startedAtMs: Date.now(),
    },
    (effect) => sink(effect),
  );

  const started = Date.now();
  const snapshotDir = join(dataDir, 'snapshots');
  await removeStaleTempFiles(snapshotDir);
  const snapshot = await restoreNewestSnapshot(engine, snapshotDir, (m) => log(0, m));
  const snapshotMs = Date.now() - started;
  const report = await recoverWal({
    disk: nodeDisk, walDir, afterSeq: snapshot?.startSeq ?? 0, repair: options.repairWal,
    ...replayInto(engine),
    log: (m) => log(0, m),
  });
  const fromSnapshot = snapshot ? `snapshot ${snapshot.name} (${snapshot.items} items) and ` : '';
  log(0, `recovered ${engine.itemCount} items from ${fromSnapshot}${report.recordsApplied} WAL records in ${report.segments} segments (${Date.now() - started} ms: snapshot ${snapshotMs} ms, WAL ${Date.now() - started - snapshotMs} ms)`);

  let olderBytes = 0;
  for (const s of await listSegments(nodeDisk, walDir)) if (s.path !== report.tail?.segment.path) olderBytes += await nodeDisk.size(s.path);
  const wal = await WalWriter.open({
    disk: nodeDisk, walDir, mode: options.fsync, tail: report.tail, lastSeq: Math.max(report.lastSeq, engine.lastSeq),
    olderSegmentsBytes: olderBytes, ballastBytes: ballast_default_bytes,
    onFatal: (err) => {
      log(0, `fatal: WAL write or fsync failed (${err.message}); exiting so that nothing unsafe is acknowledged`);
      process.exit(1);
    },
    log: (m) => log(0, m),
  });
  sink = (effect) => wal.append(effect);
  engine.enforceMemoryLimit(Date.now());

  const backend: Backend = {
    engine,
    now: () => Date.now(),
    ackedSeq: () => wal.ackedSeq,
    onAck: (listener) => wal.onAck(listener),
    writeAdmission: () => wal.admission(),
    whenAdmissible: () => wal.whenAdmissible(),
    storageStats: () => {
      const s = wal.stats();
      return [['wal_bytes', s.walBytes], ['wal_records', s.walRecords], ['wal_fsyncs', s.walFsyncs], ['wal_fsync_avg_us', s.walFsyncAvgUs], ['durable_seq', s.durableSeq]];
    },
    requestShutdown: extras.onShutdownCommand,
  };
  const source: SnapshotSource = {
    lastSeq: () => engine.lastSeq,
    nextCas: () => engine.casNext,
    pendingFlushAtMs: () => engine.flushPendingAtMs,
    scan: () => engine.scan(Date.now),
  };
  const compactor = new Compactor({
    disk: nodeDisk, snapshotDir, source, serverVersion: server_version, now: () => Date.now(), report: (m) => log(0, m),
    log: {
      requestRoll: () => wal.requestRoll(),
      syncThrough: (seq) => wal.syncThrough(seq),
      removeThrough: async (seq) => {
        const bytes = await removeCoveredSegments(nodeDisk, walDir, seq, options.walArchiveDir);
        wal.segmentsRemoved(bytes);
        return bytes;
      },
    },
  });
  let walBytesAtSnapshot = 0;
  const compact = async (why: string) => {
    if (compactor.busy) return;
    // In disk-full mode the space the WAL's reserve gave back belongs to the
    // batch in flight; a snapshot written now could take it and make the next
    // WAL write fail (fatal). Writes resume, and snapshots with them, once
    // the reserve is rewritten.
    if (!wal.acceptingWrites) {
      log(0, `snapshot skipped (${why}): the disk is full`);
      return;
    }
    log(1, `snapshot: ${why}`);
    const walBytes = wal.bytesWrittenSinceOpen;
    if (await compactor.run()) walBytesAtSnapshot = walBytes;
  };
  const walGrowth = () => wal.bytesWrittenSinceOpen - walBytesAtSnapshot;

  const server = await startServer(settings, backend, log);
  const ticker = setInterval(() => engine.tick(Date.now()), engine_tick_interval_ms);
  const snapshotTimer = setInterval(() => {
    const grown = walGrowth();
    if (grown > 0 && grown >= options.snapshotMinWalBytes) void compact(`the WAL grew by ${grown} bytes`);
  }, options.snapshotIntervalS * 1000);
  const features = [settings.tls && 'TLS', settings.auth && 'auth file'].filter(Boolean).join(', ');
  log(0, `listening on ${server.address.host}:${server.address.port} (${features ? `${features}, ` : ''}data ${dataDir}, fsync ${options.fsync})`);

  let stopping: Promise<void> | null = null;
  return {
    server,
    compact: () => compact('requested'),
    shutdown() {
      stopping ??= (async () => {
        server.stopAccepting();
        clearInterval(ticker);
        clearInterval(snapshotTimer);
        // A snapshot already running is waited for, then a final one taken if the log grew meanwhile.
        if (compactor.busy) await compactor.run();
        if (walGrowth() > 0) await compact('clean shutdown');
        await wal.close();
        await server.closeConnections();
        await unlock();
      })();
      return stopping;
    },
  };
}

/** memcached reloads its auth file on SIGHUP; a file that no longer loads leaves the old entries in force. */
function reloadOnSighup(auth: Credentials, log: (level: number, message: string) => void): void {
  process.on('SIGHUP', () => {
    loadAuthEntries(auth.file).then(
      (entries) => { auth.replace(entries); log(0, `SIGHUP: reloaded ${entries.length} entries from the auth file`); },
      (err) => log(0, `SIGHUP: auth file not reloaded, keeping the old entries: ${(err as Error).message}`),
    );
  });
}

/** `stats settings` lines for our options that memcached has no field for. */
function ourSettings(o: ServerOptions): Array<[string, string | number]> {
  return [
    ['snapshot_interval', o.snapshotIntervalS],
    ['snapshot_min_wal', o.snapshotMinWalBytes],
    ['wal_archive', o.walArchiveDir === undefined ? 'NULL' : statText(o.walArchiveDir)],
    ['strict_keys', o.strictKeys ? 'yes' : 'no'],
  ];
}

/**
 * Restores the newest valid snapshot into the engine. Only a summary is
 * returned: the file's Buffer (as large as the snapshot) must not stay
 * reachable from the server's long-lived closures.
 */
async function restoreNewestSnapshot(engine: Engine, snapshotDir: string, log: (m: string) => void): Promise<{ name: string; items: number; startSeq: number } | null> {
  const snapshot = await loadNewestSnapshot(nodeDisk, snapshotDir, log, { restore: (image) => engine.restore(image) });
  if (!snapshot) return null;
  return { name: snapshot.ref.name, items: snapshot.items, startSeq: snapshot.header.startSeq };
}

/** A snapshot .tmp left by a crash mid-write is garbage: only a committed (renamed) file counts. */
async function removeStaleTempFiles(snapshotDir: string): Promise<void> {
  if (!(await nodeDisk.exists(snapshotDir))) return;
  for (const name of await nodeDisk.readdir(snapshotDir)) {
    if (name.endsWith('.tmp')) await nodeDisk.unlink(join(snapshotDir, name));
  }
}

export async function main(argv: string[]): Promise<void> {
  if (isToolName(argv[0])) { // offline tools: inspect, compact, replay, dump, load (loaded only for a tool run)
    const { toolMain } = await import('./cli/tools.js');
    process.exit(await toolMain(argv));
  }
  await loadEnvFile();
  let options: ServerOptions;
  let security: Security;
  try {
    options = parseServerOptions(argv, process.env);
    security = options.help ? {} : await loadSecurity(options);
  } catch (err) {
    if (err instanceof OptionError) {
      process.stderr.write(`memcached-lite: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (options.help) {
    process.stdout.write(usage);
    return;
  }
  const log = makeLogger(() => options.verbosity);
  let running: RunningServer;
  // Deferred so the command's connection is done with its read before shutdown begins.
  const onShutdownCommand = () => setImmediate(() => stop('shutdown command'));
  try {
    running = await startFromOptions(options, { security, onShutdownCommand });
  } catch (err) {
    if (err instanceof DataDirLockedError || err instanceof WalCorruptionError) {
      log(0, `cannot start: ${err.message}`);
      process.exit(1);
    }
    log(0, `cannot start: ${(err as Error).stack ?? err}`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    log(0, `${signal}: shutting down`);
    running.shutdown().then(
      () => { log(0, 'clean shutdown complete'); process.exit(0); },
      (err) => { log(0, `shutdown failed: ${(err as Error).message}`); process.exit(1); },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (security.auth) reloadOnSighup(security.auth, log);
  process.on('SIGUSR2', () => { void running.compact(); });
  process.on('SIGINT', () => stop('SIGINT'));
}
