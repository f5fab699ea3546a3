/** Argument parsers for commander options: the flag's name in the message. */
import { InvalidArgumentError } from '@commander-js/extra-typings';

export const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} expects an integer, got '${v}'`);
  return n;
};

export const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} expects a number, got '${v}'`);
  return n;
};
