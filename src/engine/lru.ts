// Recency order as an intrusive doubly linked list: moving an item to the
// most-recent end is a few pointer writes (no hashing), and the order lives
// outside the key Map, so iterating the Map (snapshots, sweeps) never meets
// an item twice because it was read meanwhile.

export interface LruLinks<T> {
  lruPrev: T | null;
  lruNext: T | null;
}

export class LruList<T extends LruLinks<T>> {
  /** Least recently used. */
  head: T | null = null;
  /** Most recently used. */
  tail: T | null = null;

  /** Appends a node that is in no list. */
  pushMostRecent(node: T): void {
    node.lruPrev = this.tail;
    node.lruNext = null;
    if (this.tail) this.tail.lruNext = node;
    else this.head = node;
    this.tail = node;
  }

  remove(node: T): void {
    if (node.lruPrev) node.lruPrev.lruNext = node.lruNext;
    else this.head = node.lruNext;
    if (node.lruNext) node.lruNext.lruPrev = node.lruPrev;
    else this.tail = node.lruPrev;
    node.lruPrev = null;
    node.lruNext = null;
  }

  moveToMostRecent(node: T): void {
    if (this.tail === node) return;
    this.remove(node);
    this.pushMostRecent(node);
  }

  clear(): void {
    this.head = null;
    this.tail = null;
  }
}
