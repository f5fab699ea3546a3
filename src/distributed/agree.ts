/** Rank 0's view, on every rank: a number, a yes or no, a file's bytes. */
import { readFileSync } from 'node:fs';
import { tensor } from '../tensor/creation.ts';
import { tidy } from '../tensor/scope.ts';
import type { Collective } from './collective.ts';

/** Rank 0's number, on every rank. */
export function agreedNumber(group: Collective, mine: number): number {
  return tidy(() => group.broadcast(tensor(Float64Array.of(mine)), 0).toArray()[0]);
}

/** Rank 0's answer, on every rank. */
export function agreed(group: Collective, mine: boolean): boolean {
  return tidy(() => group.broadcast(tensor(Int32Array.of(mine ? 1 : 0)), 0).toArray()[0] === 1);
}

/** The bytes of rank 0's file `path`, on every rank (undefined alone: the caller reads it itself). */
export function broadcastFile(group: Collective, path: string | undefined): Uint8Array | undefined {
  if (group.worldSize === 1) return undefined;
  return tidy(() => {
    const bytes = path === undefined ? undefined : readFileSync(path);
    const size = group.broadcast(tensor(Float64Array.of(bytes?.length ?? 0)), 0).toArray()[0];
    const buf = tensor(bytes === undefined ? new Uint8Array(size) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    group.broadcast(buf, 0);
    return buf.data<Uint8Array>();
  });
}
