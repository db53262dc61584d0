// Snapshots: the seam recovery uses. A snapshot is a point-in-time image of
// the engine taken while the WAL keeps growing; recovery loads the newest
// valid one and replays WAL records after its start sequence. Step 1 ships
// no snapshots yet (the loader finds none); the JSON Lines writer, loader
// and compaction timer come with step 2 (see DESIGN.md section 4).

import type { EngineImage } from '../engine/types.js';

export interface LoadedSnapshot {
  /** The WAL sequence the snapshot was started at: replay records after it. */
  startSeq: number;
  image: EngineImage;
  path: string;
}

export interface SnapshotLoader {
  loadNewest(dataDir: string): Promise<LoadedSnapshot | null>;
}

export const noSnapshots: SnapshotLoader = {
  async loadNewest() { return null; },
};
