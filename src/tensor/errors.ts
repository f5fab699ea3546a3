/** Error classes of the engine; libtorch failures arrive as TorchError (registered with the addon). */

/** A libtorch operator failed: names the ATen op and describes each tensor input. */
export class TorchError extends Error {
  readonly code = 'ERR_TORCH';
  readonly op: string;
  readonly inputs: string[];
  constructor(op: string, message: string, inputs: string[] = []) {
    super(`${op}: ${message}${inputs.length ? ` (inputs: ${inputs.join(', ')})` : ''}`);
    this.name = 'TorchError';
    this.op = op;
    this.inputs = inputs;
  }
}

/** A tensor or model contract was broken before reaching libtorch (wrong rank, mismatched keys...). */
export class ShapeError extends Error {
  readonly code = 'ERR_SHAPE';
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

/** A user-supplied setting is invalid; the message names the key and what was expected. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Asserts with a lazily built message (only formatted when the check fails). */
export function assert(cond: unknown, message: () => string, Kind: new (m: string) => Error = ShapeError): asserts cond {
  if (!cond) throw new Kind(message());
}
