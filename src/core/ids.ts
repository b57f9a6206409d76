import type { Clock } from './clock.ts';

/** Randomness, injected like time. Fills the array with random bytes. */
export type RandomSource = (bytes: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>;

const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let offset = 0;

/**
 * Cryptographic randomness, drawn from a 4 KiB pool refilled with `crypto.getRandomValues`: one
 * call per 256 ids instead of one per id (a few microseconds of every ingest request).
 */
export const cryptoRandom: RandomSource = (bytes) => {
  if (bytes.length > POOL_BYTES) return crypto.getRandomValues(bytes);
  if (offset + bytes.length > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    offset = 0;
  }
  bytes.set(pool.subarray(offset, offset + bytes.length));
  offset += bytes.length;
  return bytes;
};

/** Each byte's two lower-case hex digits, as character codes: byte `b` at `2b` and `2b + 1`. */
const HEX_CODES = new Uint16Array(512);
for (let b = 0; b < 256; b++) {
  const hex = b.toString(16).padStart(2, '0');
  HEX_CODES[2 * b] = hex.charCodeAt(0);
  HEX_CODES[2 * b + 1] = hex.charCodeAt(1);
}
const DASH = 0x2d;

/**
 * UUIDv7 (RFC 9562): a 48-bit millisecond timestamp then random bits, so ids sort by creation
 * time — which keeps B-tree inserts at the end of the index and gives cursors a natural order.
 * The text is made in one piece from character codes, not by appending 20 pieces: appending
 * builds a rope that every later reader (the store's UUID check, SQLite's binding) first flattens.
 * @example const newId = createIdGenerator(systemClock, cryptoRandom); newId();
 */
export function createIdGenerator(clock: Clock, random: RandomSource = cryptoRandom): () => string {
  const bytes = new Uint8Array(16);
  const codes: number[] = new Array<number>(36).fill(DASH);
  return () => {
    random(bytes);
    let ms = clock.now();
    for (let i = 5; i >= 0; i--) {
      bytes[i] = ms % 256;
      ms = Math.floor(ms / 256);
    }
    bytes[6] = (bytes[6]! & 0x0f) | 0x70;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    let at = 0;
    for (let i = 0; i < 16; i++) {
      const b = bytes[i]! * 2;
      codes[at++] = HEX_CODES[b]!;
      codes[at++] = HEX_CODES[b + 1]!;
      // The dashes stay where the array was filled with them.
      if (i === 3 || i === 5 || i === 7 || i === 9) at++;
    }
    return String.fromCharCode(...codes);
  };
}
