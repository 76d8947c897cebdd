// TopK: the `limit` smallest items of a stream under a comparator, in
// O(log limit) per item and O(limit) memory, whatever the stream's length.
//
// A binary max-heap holds the best items seen so far with the worst of them
// at the root. Once it is full, an item that does not beat the root is
// refused after one comparison (most of a long stream); one that does
// replaces the root and sinks to its place. Example, limit 3 over
// 5 1 4 2 3: [5] [5 1] [5 1 4] → 2 beats 5: [4 1 2] → 3 beats 4: [3 1 2];
// sorted() answers 1 2 3.
//
// Owner: whoever made it; it keeps no reference to anything but its items.

export class TopK<T> {
  readonly #limit: number;
  readonly #compare: (a: T, b: T) => number;
  readonly #heap: T[] = [];

  /** `compare` < 0: a comes first (is better). */
  constructor(limit: number, compare: (a: T, b: T) => number) {
    this.#limit = Math.max(0, limit);
    this.#compare = compare;
  }

  /** Keeps `item` if it is among the `limit` best so far. */
  offer(item: T): void {
    const heap = this.#heap;
    if (heap.length < this.#limit) {
      heap.push(item);
      this.#siftUp(heap.length - 1);
    } else if (heap.length > 0 && this.#compare(item, heap[0]!) < 0) {
      heap[0] = item;
      this.#siftDown(0);
    }
  }

  /** The kept items, best first. */
  sorted(): T[] {
    return [...this.#heap].sort(this.#compare);
  }

  #siftUp(at: number): void {
    const heap = this.#heap;
    const item = heap[at]!;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (this.#compare(heap[parent]!, item) >= 0) break;
      heap[at] = heap[parent]!;
      at = parent;
    }
    heap[at] = item;
  }

  #siftDown(at: number): void {
    const heap = this.#heap;
    const item = heap[at]!;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && this.#compare(heap[child + 1]!, heap[child]!) > 0) child++;
      if (this.#compare(heap[child]!, item) <= 0) break;
      heap[at] = heap[child]!;
      at = child;
    }
    heap[at] = item;
  }
}
