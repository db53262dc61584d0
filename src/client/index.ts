// Public entry of the package: the client library.
export { Client, MemcachedError, type ClientOptions, type StoreOptions, type StoreReply, type Value } from './client.js';
