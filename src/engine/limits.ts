// The one limits module: every fixed bound of the server, memcached's where
// memcached has one. Names put the qualifier last and carry their units.

/** memcached's KEY_MAX_LENGTH. */
export const key_length_max = 250;

/** A command line without '\n' after this many bytes closes the connection (memcached). */
export const line_length_max = 2048;

/** A get/gets/gat/gats line may be long (many keys), but not without bound. */
export const get_line_length_max = 2 * 1024 * 1024;

/** Default -I: largest item, key and overhead included (memcached's item_size_max). */
export const item_size_max_default_bytes = 1024 * 1024;

/**
 * memcached's per-item overhead counted against -I: 48-byte header, the key's
 * NUL, the value's "\r\n" and the 8-byte CAS (items.c item_make_header). A
 * non-zero flags field adds 4 more. So with -I 1m and a 1-byte key the largest
 * value is 1,048,516 bytes, as stock memcached answers.
 */
export const item_overhead_bytes = 48 + 1 + 2 + 8;
export const item_flags_overhead_bytes = 4;

/** memcached's REALTIME_MAXDELTA: exptimes above it are absolute Unix times. */
export const exptime_relative_max_s = 60 * 60 * 24 * 30;

/** Default -m. */
export const memory_limit_default_bytes = 64 * 1024 * 1024;

/** Default -c. */
export const connection_limit_default = 1024;

/** Expired items reclaimed from the LRU tail before each allocation (memcached lru_pull_tail). */
export const reclaim_search_max = 5;

/** Items examined per background expiry sweep tick. */
export const sweep_items_per_tick_max = 2000;
