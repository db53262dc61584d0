#!/usr/bin/python3
"""Interop checks with pymemcache (Debian's python3-pymemcache), run by
test/interop/pymemcache.test.ts: one check per process.

Usage: pymemcache_check.py PORT CHECK
  CHECK is one of the names in CHECKS, or "verify".
  A check exits 0 and prints, as its last stdout line, a JSON object of the
  writes the server acknowledged: key -> value (text) or null (deleted or
  expired). "verify" reads such an object (all checks merged) from stdin and
  checks every entry, e.g. after the server was killed and restarted.
  Any failed expectation exits 1 with the reason on stderr.

Values are printable ASCII from a seeded PRNG (no CR/LF). "1 MB" is exactly
1 MiB: the test starts the server with -I 2m, because with the default -I 1m
memcached counts key and item header against the limit and refuses 1 MiB.
pymemcache stores with noreply by default (default_noreply=True): checks
that need the server's answer pass noreply=False, as its users must.
"""

import json
import random
import sys
import time

from pymemcache.client.base import Client

SIZE_500_KIB = 500 * 1024
SIZE_1_MIB = 1024 * 1024
SHORT_TTL_S = 2
SHORT_TTL_WAIT_S = 3.2  # memcached's clock ticks once a second


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def patterned(size, seed):
    alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    return ''.join(random.Random(seed).choices(alphabet, k=size))


def check_set_get(c, acked):
    expect(c.set('greeting', 'hello from pymemcache', noreply=False) is True, 'set answered STORED')
    acked['greeting'] = 'hello from pymemcache'
    expect(c.get('greeting') == b'hello from pymemcache', 'get returns the value')
    expect(c.get('never-set') is None, 'a miss is None')


def check_big_values(c, acked):
    for key, size in (('big:500k', SIZE_500_KIB), ('big:1m', SIZE_1_MIB)):
        value = patterned(size, key)
        expect(c.set(key, value, noreply=False) is True, f'{key}: set answered STORED')
        acked[key] = value
        got = c.get(key)
        expect(got == value.encode(), f'{key}: got {len(got or b"")} bytes back, sent {size}')


def check_multi_get(c, acked):
    for key, value in (('multi:a', 'A'), ('multi:b', 'B')):
        expect(c.set(key, value, noreply=False), f'{key}: set')
        acked[key] = value
    got = c.get_many(['multi:a', 'multi:missing', 'multi:b'])
    expect(got == {'multi:a': b'A', 'multi:b': b'B'}, f'get_many: {got!r}')


def check_incr_decr(c, acked):
    c.set('counter', '10', noreply=False)
    expect(c.incr('counter', 5) == 15, 'incr 5')
    expect(c.decr('counter', 20) == 0, 'decr floors at 0')
    expect(c.incr('counter', 7) == 7, 'incr 7')
    # memcached rewrites a shorter number in place, padded with spaces to the old length.
    expect(c.get('counter') == b'7 ', f"counter is {c.get('counter')!r}")
    acked['counter'] = '7 '
    expect(c.incr('counter:missing', 1) is None, 'incr on a missing key is None (NOT_FOUND)')
    c.set('counter:text', 'abc', noreply=False)
    acked['counter:text'] = 'abc'
    try:
        c.incr('counter:text', 1)
        raise CheckFailed('incr on a non-number must fail')
    except CheckFailed:
        raise
    except Exception as e:  # pymemcache raises MemcacheClientError with the server's reason
        expect('cannot increment or decrement non-numeric value' in str(e), f'incr on text: {e}')


def check_gets_cas(c, acked):
    c.set('cas:key', 'v1', noreply=False)
    value, cas = c.gets('cas:key')
    expect(value == b'v1' and cas.isdigit(), f'gets: {value!r} {cas!r}')
    expect(c.cas('cas:key', 'v2', cas) is True, 'cas with the current id stores')
    acked['cas:key'] = 'v2'
    expect(c.cas('cas:key', 'v3', cas) is False, 'cas with a stale id answers EXISTS (False)')
    expect(c.cas('cas:missing', 'v', cas) is None, 'cas on a missing key answers NOT_FOUND (None)')
    expect(c.get('cas:key') == b'v2', 'the stale cas changed nothing')


def check_touch(c, acked):
    c.set('ttl:touched', 'stays', expire=SHORT_TTL_S, noreply=False)
    c.set('ttl:untouched', 'goes', expire=SHORT_TTL_S, noreply=False)
    expect(c.touch('ttl:touched', 3600, noreply=False) is True, 'touch answers TOUCHED')
    expect(c.touch('ttl:missing', 3600, noreply=False) is False, 'touch on a missing key answers NOT_FOUND')
    time.sleep(SHORT_TTL_WAIT_S)
    expect(c.get('ttl:touched') == b'stays', 'the touched item is still there')
    expect(c.get('ttl:untouched') is None, 'the untouched twin expired')
    acked['ttl:touched'] = 'stays'
    acked['ttl:untouched'] = None


def check_delete(c, acked):
    c.set('doomed', 'x', noreply=False)
    expect(c.delete('doomed', noreply=False) is True, 'delete answers DELETED')
    acked['doomed'] = None
    expect(c.get('doomed') is None, 'deleted key is gone')
    expect(c.delete('doomed', noreply=False) is False, 'deleting a missing key answers NOT_FOUND')


def check_noreply(c, acked):
    c.set('nr:gone', 'soon deleted', noreply=False)
    c.set('nr:set', 'quiet')  # pymemcache's default: noreply
    c.set('nr:count', '41')
    expect(c.incr('nr:count', 1, noreply=True) is None, 'incr noreply returns None at once')
    expect(c.delete('nr:gone') is True, 'delete noreply returns True at once')
    expect(c.add('nr:set', 'not stored') is True, 'add noreply returns True at once, even when not stored')
    got = c.get_many(['nr:set', 'nr:count', 'nr:gone'])
    expect(got == {'nr:set': b'quiet', 'nr:count': b'42'}, f'after noreply writes: {got!r}')
    # A reply after them on the same connection: from here on they count as acknowledged.
    acked.update({'nr:set': 'quiet', 'nr:count': '42', 'nr:gone': None})


def check_stats(c, acked):
    before = c.stats()
    expect(isinstance(before[b'pid'], int) and before[b'pid'] > 0, f"pid {before.get(b'pid')!r}")
    expect(isinstance(before[b'rusage_user'], float), f"rusage_user {before.get(b'rusage_user')!r} parses as float")
    c.get('greeting')
    c.get('never-set')
    after = c.stats()
    for name, delta in ((b'cmd_get', 2), (b'get_hits', 1), (b'get_misses', 1)):
        expect(after[name] - before[name] == delta, f'{name}: {before[name]} -> {after[name]}')
    settings = c.stats('settings')
    expect(settings[b'item_size_max'] == 2 * 1024 * 1024, f"item_size_max {settings.get(b'item_size_max')!r}")
    expect(isinstance(settings[b'growth_factor'], float), 'growth_factor parses as float')


def verify(c, acked):
    expect(len(acked) > 0, 'nothing to verify')
    for key, value in acked.items():
        got = c.get(key)
        shown = 'a miss' if got is None else f'{len(got)} bytes'
        if value is None:
            expect(got is None, f'{key} was deleted, got {shown}')
        else:
            expect(got == value.encode(), f'{key}: expected {len(value)} bytes, got {shown}')


CHECKS = {
    'set_get': check_set_get,
    'big_values': check_big_values,
    'multi_get': check_multi_get,
    'incr_decr': check_incr_decr,
    'gets_cas': check_gets_cas,
    'touch': check_touch,
    'delete': check_delete,
    'noreply': check_noreply,
    'stats': check_stats,
}


def main(argv):
    port, name = int(argv[1]), argv[2]
    client = Client(('127.0.0.1', port), connect_timeout=5, timeout=5)
    try:
        if name == 'verify':
            verify(client, json.load(sys.stdin))
            acked = {}
        else:
            acked = {}
            CHECKS[name](client, acked)
    except CheckFailed as e:
        print(f'{name}: {e}', file=sys.stderr)
        return 1
    finally:
        client.close()
    print(json.dumps(acked))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
