/** A data source that cannot be read: names the file or folder at fault. */
export class DataError extends Error {
  readonly code = 'ERR_DATA';
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'DataError';
  }
}
