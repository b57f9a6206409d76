import { closeSync, fdatasync, fstatSync, openSync, statSync } from 'node:fs';
import type { WalFiles } from './wal-flush.ts';

/**
 * `WalFiles` on `node:fs`: fdatasync on libuv's thread pool. Opened read-write so that every
 * platform may sync it (Windows needs write access to flush a handle); never written.
 * @example const flusher = createWalFlusher(`${resolve(path)}-wal`, nodeWalFiles);
 */
export const nodeWalFiles: WalFiles = {
  identity: (path) => statSync(path, { throwIfNoEntry: false })?.ino ?? null,
  open(path) {
    const fd = openSync(path, 'r+');
    return { fd, identity: fstatSync(fd).ino };
  },
  close: (fd) => closeSync(fd),
  fdatasync: (fd, done) => fdatasync(fd, done),
};
