/** "Did you mean" hints: the closest allowed word to a mistyped one by edit distance. */

/**
 * Edit distance between `a` and `b` counting insertions, deletions, substitutions and swaps of
 * two neighbouring characters as one edit each (optimal string alignment).
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
  for (let i = 0; i < rows; i++) d[i]![0] = i;
  for (let j = 0; j < cols; j++) d[0]![j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

function normalise(word: string): string {
  return word.toLowerCase().replaceAll("-", "_");
}

/**
 * The candidate closest to `word`, or undefined when none is close enough to be a likely typo
 * (at most a third of the word's length in edits, and at least one allowed). Case and `-` versus
 * `_` do not count as differences.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const target = normalise(word);
  const limit = Math.max(1, Math.floor(target.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(target, normalise(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
