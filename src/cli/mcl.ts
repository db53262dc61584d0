// bin/mcl: a command-line memcached client on top of src/client.
//
//   mcl [--host H] [--port P] <command> [args]
//
// Exit codes: 0 done; 1 a miss or refusal (NOT_FOUND, NOT_STORED, EXISTS);
// 2 bad usage; 3 connection or server error. HOST and PORT come from the
// environment or .env when not given as flags.

import { config as loadDotenv } from 'dotenv';
import { readFileSync } from 'node:fs';
import { Client, MemcachedError } from '../client/client.js';

export const mclUsage = `Usage: mcl [--host H] [--port P] <command> [args]

Commands:
  get KEY...                     print values (exit 1 if any key is missing)
  set KEY [VALUE] [--flags F] [--exptime S]
                                 store VALUE, or standard input when VALUE is omitted or '-'
  delete KEY
  incr KEY DELTA | decr KEY DELTA
  touch KEY EXPTIME
  stats [ARGS]                   e.g. stats, stats items, stats settings
  version
`;

class UsageError extends Error {}

interface Parsed { host: string; port: number; command: string; args: string[]; flags: number; exptime: number }

function parseArgs(argv: string[], env: Record<string, string | undefined>): Parsed {
  const parsed: Parsed = { host: env.HOST || '127.0.0.1', port: Number(env.PORT || 11211), command: '', args: [], flags: 0, exptime: 0 };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--host': parsed.host = value(); break;
      case '--port': parsed.port = Number(value()); break;
      case '--flags': parsed.flags = Number(value()); break;
      case '--exptime': parsed.exptime = Number(value()); break;
      case '-h': case '--help': throw new UsageError('');
      default:
        if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
        positional.push(arg);
    }
  }
  if (!Number.isInteger(parsed.port) || parsed.port < 1 || parsed.port > 65535) throw new UsageError('--port must be 1..65535');
  if (!Number.isInteger(parsed.flags) || parsed.flags < 0 || parsed.flags > 0xffffffff) throw new UsageError('--flags must be a 32-bit unsigned integer');
  if (!Number.isInteger(parsed.exptime)) throw new UsageError('--exptime must be an integer');
  parsed.command = positional[0] ?? '';
  parsed.args = positional.slice(1);
  return parsed;
}

function need(args: string[], count: number, shape: string): void {
  if (args.length < count) throw new UsageError(`usage: mcl ${shape}`);
}

async function run(client: Client, p: Parsed, out: (s: string | Buffer) => void): Promise<number> {
  const a = p.args;
  switch (p.command) {
    case 'get': {
      need(a, 1, 'get KEY...');
      const values = await client.getMulti(a);
      for (const key of a) {
        const v = values.get(key);
        if (!v) continue;
        if (a.length > 1) out(`${key}: `);
        out(v.value);
        out('\n');
      }
      return values.size === new Set(a).size ? 0 : 1;
    }
    case 'set': {
      need(a, 1, 'set KEY [VALUE]');
      const value = a[1] === undefined || a[1] === '-' ? readFileSync(0) : Buffer.from(a[1]);
      const reply = await client.set(a[0]!, value, { flags: p.flags, exptime: p.exptime });
      out(`${reply}\n`);
      return reply === 'STORED' ? 0 : 1;
    }
    case 'delete': {
      need(a, 1, 'delete KEY');
      const reply = await client.delete(a[0]!);
      out(`${reply}\n`);
      return reply === 'DELETED' ? 0 : 1;
    }
    case 'incr':
    case 'decr': {
      need(a, 2, `${p.command} KEY DELTA`);
      if (!/^\d+$/.test(a[1]!)) throw new UsageError('DELTA must be a non-negative integer');
      const reply = p.command === 'incr' ? await client.incr(a[0]!, BigInt(a[1]!)) : await client.decr(a[0]!, BigInt(a[1]!));
      out(`${reply}\n`);
      return reply === 'NOT_FOUND' ? 1 : 0;
    }
    case 'touch': {
      need(a, 2, 'touch KEY EXPTIME');
      const reply = await client.touch(a[0]!, Number(a[1]));
      out(`${reply}\n`);
      return reply === 'TOUCHED' ? 0 : 1;
    }
    case 'stats': {
      const stats = await client.stats(a.join(' '));
      for (const [k, v] of stats) out(`${k} ${v}\n`);
      return 0;
    }
    case 'version':
      out(`${await client.version()}\n`);
      return 0;
    default:
      throw new UsageError(p.command ? `unknown command '${p.command}'` : '');
  }
}

export async function mclMain(argv: string[]): Promise<number> {
  loadDotenv({ quiet: true } as Parameters<typeof loadDotenv>[0]);
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv, process.env);
    if (!parsed.command) throw new UsageError('');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message) process.stderr.write(`mcl: ${err.message}\n`);
    process.stderr.write(mclUsage);
    return 2;
  }
  let client: Client;
  try {
    client = await Client.connect({ host: parsed.host, port: parsed.port });
  } catch (err) {
    process.stderr.write(`mcl: cannot connect to ${parsed.host}:${parsed.port}: ${(err as Error).message}\n`);
    return 3;
  }
  try {
    return await run(client, parsed, (s) => process.stdout.write(s));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`mcl: ${err.message}\n`);
      return 2;
    }
    const message = err instanceof MemcachedError ? `server said: ${err.line}` : (err as Error).message;
    process.stderr.write(`mcl: ${message}\n`);
    return 3;
  } finally {
    client.close();
  }
}
