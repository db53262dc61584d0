import { describe, expect, it } from 'vitest';
import { defaultOptions, OptionError, parseServerOptions, parseSize } from '../../src/cli/options.js';

describe('server options', () => {
  it('has memcached-like defaults', () => {
    expect(parseServerOptions([], {})).toEqual(defaultOptions);
    expect(defaultOptions).toMatchObject({
      host: '127.0.0.1', port: 11211, connectionLimit: 1024, memoryLimitMb: 64, itemSizeMaxBytes: 1024 * 1024,
      dataDir: './data', fsync: 'always', snapshotIntervalS: 60, evictionsDisabled: false, repairWal: false,
    });
  });

  it('parses every flag in short, long and --name=value forms', () => {
    const o = parseServerOptions(
      ['-p', '1234', '--listen', '0.0.0.0', '-c', '10', '--memory-limit=128', '-M', '-I', '2m', '-U', '0', '-vv',
        '--data-dir', '/tmp/x', '--fsync', 'everysec', '--snapshot-interval', '5', '--repair-wal'], {});
    expect(o).toMatchObject({
      port: 1234, host: '0.0.0.0', connectionLimit: 10, memoryLimitMb: 128, evictionsDisabled: true, itemSizeMaxBytes: 2 << 20,
      verbosity: 2, dataDir: '/tmp/x', fsync: 'everysec', snapshotIntervalS: 5, repairWal: true,
    });
    expect(parseServerOptions(['-p1235', '-v'], {})).toMatchObject({ port: 1235, verbosity: 1 });
    expect(parseServerOptions(['-h'], {}).help).toBe(true);
  });

  it('takes HOST, PORT, DATA_DIR, FSYNC, SNAPSHOT_INTERVAL_S from the environment; flags win', () => {
    const env = { HOST: '127.0.0.2', PORT: '2000', DATA_DIR: '/d', FSYNC: 'no', SNAPSHOT_INTERVAL_S: '9' };
    expect(parseServerOptions([], env)).toMatchObject({ host: '127.0.0.2', port: 2000, dataDir: '/d', fsync: 'no', snapshotIntervalS: 9 });
    expect(parseServerOptions(['--port', '3000', '--fsync', 'always'], env)).toMatchObject({ port: 3000, fsync: 'always', dataDir: '/d' });
  });

  it('names the option in every error', () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['-p', 'x'], {}, /-p\/--port: 'x' is not a whole number/],
      [['-p', '70000'], {}, /-p\/--port: 70000 is out of range/],
      [['--fsync', 'maybe'], {}, /--fsync: 'maybe' must be always, everysec or no/],
      [['-U', '11211'], {}, /-U\/--udp-port: UDP is not supported/],
      [['-I', '1g'], {}, /-I\/--max-item-size/],
      [['-I', '512'], {}, /at least 1k/],
      [['--bogus'], {}, /unknown option '--bogus'/],
      [['-p'], {}, /-p\/--port needs a value/],
      [['-M=1'], {}, /unknown option|takes no value/],
      [[], { PORT: 'abc' }, /PORT \(environment\)/],
      [[], { FSYNC: 'x' }, /FSYNC \(environment\)/],
      [['-c', '0'], {}, /-c\/--conn-limit: 0 is out of range/],
    ];
    for (const [argv, env, message] of cases) {
      expect(() => parseServerOptions(argv, env), argv.join(' ')).toThrow(OptionError);
      expect(() => parseServerOptions(argv, env), argv.join(' ')).toThrow(message);
    }
  });

  it('parses the security and admin options; they are off by default', () => {
    expect(defaultOptions).toMatchObject({
      authFile: undefined, tlsCert: undefined, tlsKey: undefined, tlsCa: undefined, tlsVerifyClient: false, idleTimeoutS: 0, shutdownEnabled: false,
    });
    expect(parseServerOptions(['-Y', 'a.txt', '--tls-cert', 'c.pem', '--tls-key=k.pem', '--tls-ca', 'ca.pem', '--tls-verify-client', '--idle-timeout', '30', '-A'], {}))
      .toMatchObject({ authFile: 'a.txt', tlsCert: 'c.pem', tlsKey: 'k.pem', tlsCa: 'ca.pem', tlsVerifyClient: true, idleTimeoutS: 30, shutdownEnabled: true });
    expect(parseServerOptions(['--auth-file=b.txt', '--enable-shutdown', '--tls-cert', 'c', '--tls-key', 'k'], {}))
      .toMatchObject({ authFile: 'b.txt', shutdownEnabled: true, tlsCa: undefined, tlsVerifyClient: false });
  });

  it('takes AUTH_FILE, TLS_CERT, TLS_KEY, TLS_CA, IDLE_TIMEOUT_S from the environment; flags win', () => {
    const env = { AUTH_FILE: '/e/auth', TLS_CERT: '/e/c', TLS_KEY: '/e/k', TLS_CA: '/e/ca', IDLE_TIMEOUT_S: '7' };
    expect(parseServerOptions([], env)).toMatchObject({ authFile: '/e/auth', tlsCert: '/e/c', tlsKey: '/e/k', tlsCa: '/e/ca', idleTimeoutS: 7 });
    expect(parseServerOptions(['-Y', 'flag', '--idle-timeout', '0'], env)).toMatchObject({ authFile: 'flag', idleTimeoutS: 0 });
  });

  it('refuses TLS options that cannot work together, and bad values, naming the option', () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--tls-key', 'k'], {}, /--tls-key needs --tls-cert/],
      [['--tls-cert', 'c'], {}, /--tls-cert needs --tls-key/],
      [['--tls-ca', 'ca'], {}, /--tls-ca needs --tls-cert and --tls-key/],
      [['--tls-verify-client'], {}, /--tls-verify-client needs --tls-cert and --tls-key/],
      [['--tls-cert', 'c', '--tls-key', 'k', '--tls-verify-client'], {}, /--tls-verify-client needs --tls-ca/],
      [[], { TLS_KEY: 'k' }, /--tls-key needs --tls-cert/],
      [['--idle-timeout', '-1'], {}, /--idle-timeout: '-1' is not a whole number/],
      [['--idle-timeout', '1.5'], {}, /--idle-timeout: '1.5' is not a whole number/],
      [[], { IDLE_TIMEOUT_S: 'soon' }, /IDLE_TIMEOUT_S \(environment\)/],
      [['-Y', ''], {}, /-Y\/--auth-file: empty path/],
      [['--tls-verify-client=yes'], {}, /--tls-verify-client takes no value/],
      [['-A=1'], {}, /unknown option|takes no value/],
    ];
    for (const [argv, env, message] of cases) {
      expect(() => parseServerOptions(argv, env), argv.join(' ')).toThrow(OptionError);
      expect(() => parseServerOptions(argv, env), argv.join(' ')).toThrow(message);
    }
  });

  it('parses -I sizes as memcached does', () => {
    expect(parseSize('1m', 'I')).toBe(1048576);
    expect(parseSize('1024k', 'I')).toBe(1048576);
    expect(parseSize('2048', 'I')).toBe(2048);
    expect(parseSize('1024m', 'I')).toBe(1 << 30);
    expect(() => parseSize('1025m', 'I')).toThrow(OptionError);
    expect(() => parseSize('-1', 'I')).toThrow(OptionError);
  });
});
