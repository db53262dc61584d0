// Public entry of the package: the client library (see client.ts).
export { Client, parseServer, type ClientOptions, type NoreplyOptions, type RequestOptions, type ServerAddress, type ServerOptions, type StoreOptions } from './client.js';
export { ArgumentError, AuthError, ConnectionError, MemcachedError, ProtocolError, TimeoutError } from './errors.js';
export { Continuum, hashKey, ketamaName, type HashName, type KetamaNode } from './ketama.js';
export type { MetaArithmeticOptions, MetaCode, MetaCommand, MetaDeleteOptions, MetaGetOptions, MetaReply, MetaSetMode, MetaSetOptions } from './meta.js';
export type { StoreReply, Value } from './protocol.js';
