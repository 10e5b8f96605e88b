/**
 * Llama 3 token counts from llama3-tokenizer-js's data held in typed arrays: the library builds a
 * Map of 280k merge strings and 128k vocabulary strings (~46 MB of heap, twice that in RSS, and
 * ~90 MB of garbage while it loads); these tables hold the same data in ~9 MB off the JS heap.
 *
 * The counting follows the library's `encode` step for step (its pre-tokenizer, its special
 * tokens, its merge order of `rank + position / text length`), so a count equals the length of
 * the library's `encode(text, { bos: false, eos: false })`. The library's data is read from its
 * bundle file without evaluating it (evaluating it would build the library's own tokenizer).
 */

/** The library's pre-tokenizer pattern, with `(?i:...)` spelled out as JavaScript needs it. */
const PRETOKEN =
  /(?:'([sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** The special tokens the library encodes as one token wherever they appear in a text. */
const SPECIAL =
  /<\|(?:begin_of_text|end_of_text|start_header_id|end_header_id|eot_id|eom_id|python_tag|finetune_right_pad_id|reserved_special_token_(?:[0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-3][0-9]|24[0-7]))\|>/g;

/** Any character past ASCII: a text without one is pre-tokenized without {@linkcode PRETOKEN}. */
const NOT_ASCII = /[\u0080-\uffff]/;

/** {@linkcode PRETOKEN}'s classes of the ASCII characters. */
const LETTER = 1;
const DIGIT = 2;
/** `\r` and `\n`. */
const NEWLINE = 3;
/** The rest of `\s`: space, tab, vertical tab, form feed. */
const SPACE = 4;
/** Neither `\s` nor a letter nor a digit. */
const OTHER = 5;
const ASCII_CLASS = (() => {
  const classes = new Uint8Array(128).fill(OTHER);
  for (let c = 0x41; c <= 0x5a; c++) classes[c] = classes[c + 0x20] = LETTER;
  for (let c = 0x30; c <= 0x39; c++) classes[c] = DIGIT;
  classes[0x0a] = classes[0x0d] = NEWLINE;
  for (const c of [0x09, 0x0b, 0x0c, 0x20]) classes[c] = SPACE;
  return classes;
})();

/** The end of the run of class `kind` in ASCII `text` from `from`. */
function runEnd(text: string, from: number, kind: number): number {
  let end = from;
  while (end < text.length && ASCII_CLASS[text.charCodeAt(end)] === kind) end++;
  return end;
}

/** Where the contraction (`'s`, `'ll`, ... in any case) at `text[i]` ends, or 0 when none starts there. */
function contractionEnd(text: string, i: number): number {
  const a = text.charCodeAt(i + 1) | 0x20;
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return i + 2; // s t m d
  const b = text.charCodeAt(i + 2) | 0x20;
  if ((a === 0x72 || a === 0x76) && b === 0x65) return i + 3; // re ve
  if (a === 0x6c && b === 0x6c) return i + 3; // ll
  return 0;
}

/** Whether `key` is `text[start, end)`. */
function sameChars(key: string, text: string, start: number, end: number): boolean {
  if (key.length !== end - start) return false;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) !== text.charCodeAt(start + i)) return false;
  }
  return true;
}

/** Bits per token id in the library's packed merges. */
const MERGE_ID_BITS = 17;

/** Slots of the vocabulary's hash table (a power of two, about twice the 128k tokens). */
const VOCAB_SLOTS = 1 << 18;

/** Slots of the merges' hash table (a power of two, about twice the 280k merges). */
const MERGE_SLOTS = 1 << 19;

/**
 * The library's byte-to-character map (GPT-2's): printable Latin-1 bytes stand for themselves,
 * the rest for 256 upwards. Its inverse turns the vocabulary's characters back into raw bytes.
 */
function unicodeToByte(): Int16Array {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = bytes.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  }
  const inverse = new Int16Array(256 + n).fill(-1);
  bytes.forEach((b, i) => inverse[chars[i]!] = b);
  return inverse;
}

/** FNV-1a over `bytes[start, end)`. */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** A slot for the pair `(left, right)` of token ids. */
function hashPair(left: number, right: number): number {
  let h = Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x7f4a7c15, 0x85ebca6b);
  h ^= h >>> 15;
  return Math.imul(h, 0xc2b2ae35) >>> 0;
}

/** Decodes the base64 text `bytes[start, end)` (no padding inside) into bytes. */
function decodeBase64(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const value = new Int8Array(128).fill(-1);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < 64; i++) value[alphabet.charCodeAt(i)] = i;
  while (end > start && bytes[end - 1] === 0x3d) end--; // "="
  const out = new Uint8Array(Math.floor(((end - start) * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = start; i < end; i++) {
    const v = value[bytes[i]!]!;
    if (v < 0) throw new Error(`llama3-tokenizer-js's data holds a non-base64 byte at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}

/** The bytes between the quotes of `const <name> = "..."` in the library's bundle. */
function literalOf(source: Uint8Array, name: string): Uint8Array {
  const marker = new TextEncoder().encode(`const ${name} = "`);
  let at = -1;
  search: for (let i = source.indexOf(marker[0]!); i >= 0; i = source.indexOf(marker[0]!, i + 1)) {
    for (let j = 1; j < marker.length; j++) if (source[i + j] !== marker[j]) continue search;
    at = i + marker.length;
    break;
  }
  if (at < 0) throw new Error(`llama3-tokenizer-js's bundle has no ${name}; pin a version with it`);
  const end = source.indexOf(0x22, at); // the closing quote
  return decodeBase64(source, at, end);
}

/**
 * Bytes of the longest pre-token whose scratch arrays the counter keeps (~360 KB); a longer one
 * (a run without spaces, up to a 16k-character piece) gets arrays freed after it.
 */
const KEPT_SCRATCH_BYTES = 4096;

/**
 * Pre-tokens whose counts the counter remembers: words recur (a session's new message shares most
 * of its words with the ones before), and a remembered one costs a lookup instead of its encoding
 * and BPE run. Past this many the table starts over; the whole cache is a few hundred KB.
 */
const KEPT_PRETOKENS = 8192;

/** Slots of the remembered pre-tokens' hash table (a power of two, twice {@linkcode KEPT_PRETOKENS}). */
const KNOWN_SLOTS = 2 * KEPT_PRETOKENS;

/** Pre-tokens longer than this are not remembered: long ones rarely recur. */
const KEPT_PRETOKEN_CHARS = 32;

/** Scratch space of one BPE run. */
interface Scratch {
  token: Int32Array;
  next: Int32Array;
  prev: Int32Array;
  alive: Uint8Array;
  /** The candidate merges, a binary min-heap by priority: entry `e` is `(prio[e], left[e], ...)`. */
  prio: Float64Array;
  left: Int32Array;
  right: Int32Array;
  leftToken: Int32Array;
  rightToken: Int32Array;
}

/** Scratch arrays for a pre-token of up to `bytes` bytes. */
function scratchFor(bytes: number): Scratch {
  const entries = 3 * bytes;
  return {
    token: new Int32Array(bytes),
    next: new Int32Array(bytes),
    prev: new Int32Array(bytes),
    alive: new Uint8Array(bytes),
    prio: new Float64Array(entries),
    left: new Int32Array(entries),
    right: new Int32Array(entries),
    leftToken: new Int32Array(entries),
    rightToken: new Int32Array(entries),
  };
}

/** Counts Llama 3 tokens with the compact tables; build one with {@linkcode loadLlama3}. */
export class Llama3Counter {
  /** Raw bytes of every token, token `i` at `[offsets[i], offsets[i + 1])`. */
  readonly #bytes: Uint8Array;
  readonly #offsets: Int32Array;
  /** Token id + 1 by the hash of its bytes; 0 is an empty slot. */
  readonly #vocabSlots: Int32Array;
  /** The token of each single byte. */
  readonly #byteToken: Int32Array;
  /** Merge `m` joins `#mergeLeft[m]` and `#mergeRight[m]` into `#mergeResult[m]`, rank `2m + 1`. */
  readonly #mergeLeft: Int32Array;
  readonly #mergeRight: Int32Array;
  readonly #mergeResult: Int32Array;
  /** Merge index + 1 by the hash of its pair; 0 is an empty slot. */
  readonly #mergeSlots: Int32Array;
  /** Kept for pre-tokens of up to {@linkcode KEPT_SCRATCH_BYTES}; a longer one gets its own. */
  readonly #utf8 = new Uint8Array(3 * KEPT_SCRATCH_BYTES);
  readonly #scratch = scratchFor(KEPT_SCRATCH_BYTES);
  readonly #encoder = new TextEncoder();
  /**
   * Counts of recent pre-tokens (see {@linkcode KEPT_PRETOKENS}), by a hash of their characters
   * (odd; 0 is an empty slot), so that a pre-token of a longer text is looked up without a copy.
   */
  readonly #knownHash = new Int32Array(KNOWN_SLOTS);
  readonly #knownCount = new Int32Array(KNOWN_SLOTS);
  readonly #knownKey: (string | undefined)[] = new Array(KNOWN_SLOTS).fill(undefined);
  #knownSize = 0;

  /**
   * Builds the tables from the library's data: `vocab`, the tokens' characters in UTF-8 one per
   * line (line `i` is token `i`), and `merges`, pairs of 17-bit token ids in priority order.
   */
  constructor(vocab: Uint8Array, merges: Uint8Array) {
    const toByte = unicodeToByte();
    let tokens = 1;
    for (let i = 0; i < vocab.length; i++) if (vocab[i] === 0x0a) tokens++;
    this.#offsets = new Int32Array(tokens + 1);
    const raw = new Uint8Array(vocab.length);
    let n = 0;
    let id = 0;
    for (let i = 0; i < vocab.length; i++) {
      const b0 = vocab[i]!;
      if (b0 === 0x0a) {
        this.#offsets[++id] = n;
        continue;
      }
      // The characters are U+0021..U+0143: one or two bytes of UTF-8.
      const char = b0 < 0x80 ? b0 : ((b0 & 0x1f) << 6) | (vocab[++i]! & 0x3f);
      const byte = toByte[char] ?? -1;
      if (byte < 0) {
        throw new Error(`llama3-tokenizer-js's vocabulary holds U+${char.toString(16)}`);
      }
      raw[n++] = byte;
    }
    this.#offsets[++id] = n;
    this.#bytes = raw.slice(0, n);
    this.#vocabSlots = new Int32Array(VOCAB_SLOTS);
    // Later lines win, as in the library's Map built in id order.
    for (let t = 0; t < tokens; t++) {
      const start = this.#offsets[t]!;
      const end = this.#offsets[t + 1]!;
      let slot = hashBytes(this.#bytes, start, end) & (VOCAB_SLOTS - 1);
      for (;;) {
        const held = this.#vocabSlots[slot]!;
        if (held === 0 || this.#sameBytes(held - 1, this.#bytes, start, end)) break;
        slot = (slot + 1) & (VOCAB_SLOTS - 1);
      }
      this.#vocabSlots[slot] = t + 1;
    }
    this.#byteToken = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const t = this.#lookup(Uint8Array.of(b), 0, 1);
      if (t < 0) throw new Error(`llama3-tokenizer-js's vocabulary has no token for byte ${b}`);
      this.#byteToken[b] = t;
    }
    const ids = Math.floor((merges.length * 8) / MERGE_ID_BITS);
    const count = ids >> 1;
    this.#mergeLeft = new Int32Array(count);
    this.#mergeRight = new Int32Array(count);
    this.#mergeResult = new Int32Array(count);
    this.#mergeSlots = new Int32Array(MERGE_SLOTS);
    const joined = new Uint8Array(256);
    for (let m = 0; m < count; m++) {
      const left = this.#packedId(merges, 2 * m);
      const right = this.#packedId(merges, 2 * m + 1);
      this.#mergeLeft[m] = left;
      this.#mergeRight[m] = right;
      const leftLength = this.#copyToken(left, joined, 0);
      const length = leftLength + this.#copyToken(right, joined, leftLength);
      this.#mergeResult[m] = this.#lookup(joined, 0, length);
      let slot = hashPair(left, right) & (MERGE_SLOTS - 1);
      for (;;) {
        const held = this.#mergeSlots[slot]!;
        // A pair listed twice keeps its later rank, as the library's Map does.
        if (
          held === 0 || (this.#mergeLeft[held - 1] === left && this.#mergeRight[held - 1] === right)
        ) break;
        slot = (slot + 1) & (MERGE_SLOTS - 1);
      }
      this.#mergeSlots[slot] = m + 1;
    }
  }

  /** Tokens of `text` without any special token around it, as the library counts them. */
  count(text: string): number {
    let tokens = 0;
    let last = 0;
    for (const match of text.matchAll(SPECIAL)) {
      if (last < match.index) {
        tokens += this.#countPlain(text.slice(last, match.index), text.length);
      }
      tokens++;
      last = match.index + match[0].length;
    }
    if (last < text.length) {
      tokens += this.#countPlain(last === 0 ? text : text.slice(last), text.length);
    }
    return tokens;
  }

  /** Bytes the tables hold, for the record. */
  get byteLength(): number {
    return this.#bytes.byteLength + this.#offsets.byteLength + this.#vocabSlots.byteLength +
      this.#byteToken.byteLength + 3 * this.#mergeLeft.byteLength + this.#mergeSlots.byteLength;
  }

  /** Tokens of a text without special tokens; `promptLength` weighs positions in merge order. */
  #countPlain(text: string, promptLength: number): number {
    if (!NOT_ASCII.test(text)) return this.#countAscii(text, promptLength);
    let tokens = 0;
    let last = 0;
    for (const match of text.matchAll(PRETOKEN)) {
      if (last < match.index) {
        tokens += this.#countPretoken(text.slice(last, match.index), promptLength);
      }
      if (match[0].length > 0) tokens += this.#countPretoken(match[0], promptLength);
      last = match.index + match[0].length;
    }
    if (last < text.length) tokens += this.#countPretoken(text.slice(last), promptLength);
    return tokens;
  }

  /**
   * {@linkcode PRETOKEN}'s pre-tokens of an ASCII text without the regular expression engine:
   * at each position the pattern's first alternative that matches, as it would match it.
   */
  #countAscii(text: string, promptLength: number): number {
    const n = text.length;
    let tokens = 0;
    let i = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      const kind = ASCII_CLASS[c]!;
      let end = i + 1;
      if (c === 0x27 && contractionEnd(text, i) > 0) {
        end = contractionEnd(text, i); // 's 't 're 've 'm 'll 'd, any case
      } else if (kind === LETTER) {
        end = runEnd(text, i + 1, LETTER);
      } else if (
        kind !== NEWLINE && kind !== DIGIT && i + 1 < n &&
        ASCII_CLASS[text.charCodeAt(i + 1)] === LETTER
      ) {
        end = runEnd(text, i + 2, LETTER); // one leading character, then letters
      } else if (kind === DIGIT) {
        end = i + 1;
        while (end < n && end < i + 3 && ASCII_CLASS[text.charCodeAt(end)] === DIGIT) end++;
      } else if (
        kind === OTHER || (c === 0x20 && i + 1 < n && ASCII_CLASS[text.charCodeAt(i + 1)] === OTHER)
      ) {
        end = runEnd(text, kind === OTHER ? i + 1 : i + 2, OTHER);
        while (end < n && ASCII_CLASS[text.charCodeAt(end)] === NEWLINE) end++;
      } else {
        // Whitespace: up to its last line break, else all of it when the text ends there, else
        // all but its last character (which goes with what follows), else its one character.
        let j = i;
        let lastBreak = -1;
        while (j < n) {
          const k = ASCII_CLASS[text.charCodeAt(j)];
          if (k === NEWLINE) lastBreak = j;
          else if (k !== SPACE) break;
          j++;
        }
        end = lastBreak >= 0 ? lastBreak + 1 : j === n || j - i === 1 ? j : j - 1;
      }
      tokens += this.#countRange(text, i, end, promptLength);
      i = end;
    }
    return tokens;
  }

  /**
   * Tokens of one pre-token, remembered for short ones. While its UTF-8 bytes (at most 3 per
   * UTF-16 unit) are no more than `promptLength`, the position term of a merge's priority stays
   * under 1 and only orders merges of equal rank, by position: the count is the pre-token's own.
   */
  #countPretoken(pretoken: string, promptLength: number): number {
    return this.#countRange(pretoken, 0, pretoken.length, promptLength);
  }

  /** {@linkcode #countPretoken} of the pre-token `text[start, end)`. */
  #countRange(text: string, start: number, end: number, promptLength: number): number {
    const whole = start === 0 && end === text.length;
    const length = end - start;
    if (length > KEPT_PRETOKEN_CHARS || 3 * length > promptLength) {
      return this.#encodePretoken(whole ? text : text.slice(start, end), promptLength);
    }
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    hash |= 1;
    let slot = hash & (KNOWN_SLOTS - 1);
    for (;;) {
      const held = this.#knownHash[slot]!;
      if (held === 0) break;
      if (held === hash && sameChars(this.#knownKey[slot]!, text, start, end)) {
        return this.#knownCount[slot]!;
      }
      slot = (slot + 1) & (KNOWN_SLOTS - 1);
    }
    const pretoken = whole ? text : text.slice(start, end);
    const tokens = this.#encodePretoken(pretoken, promptLength);
    if (this.#knownSize >= KEPT_PRETOKENS) {
      this.#knownHash.fill(0);
      this.#knownKey.fill(undefined);
      this.#knownSize = 0;
      slot = hash & (KNOWN_SLOTS - 1);
    }
    this.#knownHash[slot] = hash;
    this.#knownCount[slot] = tokens;
    this.#knownKey[slot] = pretoken;
    this.#knownSize++;
    return tokens;
  }

  /** Tokens of one pre-token: one when the vocabulary holds it whole, else what BPE leaves. */
  #encodePretoken(pretoken: string, promptLength: number): number {
    const bytes = 3 * pretoken.length <= this.#utf8.length
      ? this.#utf8
      : new Uint8Array(3 * pretoken.length);
    const length = this.#utf8Of(pretoken, bytes);
    if (this.#lookup(bytes, 0, length) >= 0) return 1;
    const s = length <= KEPT_SCRATCH_BYTES ? this.#scratch : scratchFor(length);
    for (let i = 0; i < length; i++) {
      s.token[i] = this.#byteToken[bytes[i]!]!;
      s.prev[i] = i - 1;
      s.next[i] = i + 1 < length ? i + 1 : -1;
      s.alive[i] = 1;
    }
    let heap = 0;
    const push = (left: number): void => {
      const right = s.next[left]!;
      const m = this.#merge(s.token[left]!, s.token[right]!);
      if (m < 0) return;
      // The library's priority: the merge's rank, then the left token's first position.
      const prio = 2 * m + 1 + left / promptLength;
      let e = heap++;
      while (e > 0) {
        const parent = (e - 1) >> 1;
        if (s.prio[parent]! <= prio) break;
        this.#moveEntry(s, parent, e);
        e = parent;
      }
      s.prio[e] = prio;
      s.left[e] = left;
      s.right[e] = right;
      s.leftToken[e] = s.token[left]!;
      s.rightToken[e] = s.token[right]!;
    };
    for (let i = 0; i + 1 < length; i++) push(i);
    let tokens = length;
    while (heap > 0) {
      const left = s.left[0]!;
      const right = s.right[0]!;
      const valid = s.alive[left] === 1 && s.alive[right] === 1 && s.next[left] === right &&
        s.token[left] === s.leftToken[0] && s.token[right] === s.rightToken[0];
      const m = valid ? this.#merge(s.token[left]!, s.token[right]!) : -1;
      this.#popEntry(s, --heap);
      if (!valid) continue;
      s.token[left] = this.#mergeResult[m]!;
      s.alive[right] = 0;
      const after = s.next[right]!;
      s.next[left] = after;
      if (after >= 0) s.prev[after] = left;
      tokens--;
      const before = s.prev[left]!;
      if (before >= 0) push(before);
      if (after >= 0) push(left);
    }
    return tokens;
  }

  /** Writes `text` as UTF-8 into `bytes`; returns the length. ASCII is copied without a call out. */
  #utf8Of(text: string, bytes: Uint8Array): number {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) return this.#encoder.encodeInto(text, bytes).written;
      bytes[i] = c;
    }
    return text.length;
  }

  /** Moves heap entry `from` to `to`. */
  #moveEntry(s: Scratch, from: number, to: number): void {
    s.prio[to] = s.prio[from]!;
    s.left[to] = s.left[from]!;
    s.right[to] = s.right[from]!;
    s.leftToken[to] = s.leftToken[from]!;
    s.rightToken[to] = s.rightToken[from]!;
  }

  /** Removes the heap's first entry; `size` entries remain, the last one sifted down from the top. */
  #popEntry(s: Scratch, size: number): void {
    if (size === 0) return;
    const prio = s.prio[size]!;
    let e = 0;
    for (;;) {
      let child = 2 * e + 1;
      if (child >= size) break;
      if (child + 1 < size && s.prio[child + 1]! < s.prio[child]!) child++;
      if (s.prio[child]! >= prio) break;
      this.#moveEntry(s, child, e);
      e = child;
    }
    this.#moveEntry(s, size, e);
  }

  /** The index of the merge of `(left, right)`, or -1. */
  #merge(left: number, right: number): number {
    let slot = hashPair(left, right) & (MERGE_SLOTS - 1);
    for (;;) {
      const held = this.#mergeSlots[slot]!;
      if (held === 0) return -1;
      if (this.#mergeLeft[held - 1] === left && this.#mergeRight[held - 1] === right) {
        return held - 1;
      }
      slot = (slot + 1) & (MERGE_SLOTS - 1);
    }
  }

  /** The token whose bytes are `bytes[start, end)`, or -1. */
  #lookup(bytes: Uint8Array, start: number, end: number): number {
    let slot = hashBytes(bytes, start, end) & (VOCAB_SLOTS - 1);
    for (;;) {
      const held = this.#vocabSlots[slot]!;
      if (held === 0) return -1;
      if (this.#sameBytes(held - 1, bytes, start, end)) return held - 1;
      slot = (slot + 1) & (VOCAB_SLOTS - 1);
    }
  }

  /** Whether token `t`'s bytes are `bytes[start, end)`. */
  #sameBytes(t: number, bytes: Uint8Array, start: number, end: number): boolean {
    const from = this.#offsets[t]!;
    if (this.#offsets[t + 1]! - from !== end - start) return false;
    for (let i = 0; i < end - start; i++) {
      if (this.#bytes[from + i] !== bytes[start + i]) return false;
    }
    return true;
  }

  /** Copies token `t`'s bytes into `into` at `at`; returns how many. */
  #copyToken(t: number, into: Uint8Array, at: number): number {
    const from = this.#offsets[t]!;
    const to = this.#offsets[t + 1]!;
    into.set(this.#bytes.subarray(from, to), at);
    return to - from;
  }

  /** The `index`-th 17-bit id of the packed merges, most significant bit first. */
  #packedId(packed: Uint8Array, index: number): number {
    const bit = index * MERGE_ID_BITS;
    const byte = bit >> 3;
    const word = (packed[byte]! << 16) | ((packed[byte + 1] ?? 0) << 8) | (packed[byte + 2] ?? 0);
    return (word >> (24 - MERGE_ID_BITS - (bit & 7))) & ((1 << MERGE_ID_BITS) - 1);
  }
}

/** Reads llama3-tokenizer-js's data from its bundle (installed with the gateway) into a counter. */
export async function loadLlama3(): Promise<Llama3Counter> {
  const bundle = new URL(import.meta.resolve("llama3-tokenizer-js"));
  if (bundle.protocol !== "file:") {
    throw new Error(
      `Cannot read llama3-tokenizer-js at ${bundle.href}; run with a node_modules folder (deno.json's nodeModulesDir)`,
    );
  }
  const source = await Deno.readFile(bundle);
  return new Llama3Counter(
    literalOf(source, "llama_vocab_base64"),
    literalOf(source, "llama_merges_binary"),
  );
}
