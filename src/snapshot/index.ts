// Snapshots: JSON Lines images of the engine (format.ts), written while the
// server keeps serving and loaded at start-up before the WAL tail is replayed
// (snapshot.ts), and compaction that drops what a snapshot made redundant
// (compactor.ts). See DESIGN.md section 4.

export { Compactor, snapshots_kept, type CompactionResult, type LogControl } from './compactor.js';
export { listSnapshots, loadNewestSnapshot, validateSnapshot, writeSnapshot, type LoadedSnapshot, type SnapshotSource } from './snapshot.js';
