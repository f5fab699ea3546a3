/**
 * A read of a tensor's values that does not stall the device: the copy to host memory is queued
 * behind the work already submitted, and the caller waits for it only when it needs the value. On
 * a GPU, `.item()` waits for everything submitted so far and leaves the device idle until the host
 * has queued more; a `HostRead` started at the end of one iteration and read after the next
 * iteration's forward pass has been queued keeps the device busy. From a CPU tensor it is a copy.
 */
import { type EventHandle, native } from '../native/binding.ts';
import { keep } from './scope.ts';
import { Tensor } from './tensor.ts';

export class HostRead implements Disposable {
  readonly #host: Tensor;
  #event: EventHandle | null;

  constructor(source: Tensor) {
    const [host, event] = native.copyToHostAsync(source.handle);
    this.#host = keep(new Tensor(host));
    this.#event = event;
  }

  /** Whether the copy has landed (never waits). */
  get ready(): boolean {
    return this.#event === null || native.eventQuery(this.#event);
  }

  /** The host copy, once it has landed (waits for it). Owned by this read: freed by dispose(). */
  value(): Tensor {
    if (this.#event !== null) {
      native.eventWait(this.#event);
      this.#event = null;
    }
    return this.#host;
  }

  dispose(): void {
    // (a copy still in flight writes into pinned memory that the caching host allocator holds until its stream has passed it)
    this.#host.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
