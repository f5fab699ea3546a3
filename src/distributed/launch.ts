/**
 * `odc train --nproc N`: starts N copies of this command on this machine with torchrun's variables
 * (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and waits for them.
 * As torchrun does, the first copy that fails stops the others, and the launcher exits with its
 * status, naming the rank.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** A TCP port that was free a moment ago on 127.0.0.1 (for rank 0's store). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** argv without `--nproc N` / `--nproc=N`. */
export function withoutFlag(argv: string[], flag: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) i++;
    else if (!argv[i].startsWith(`${flag}=`)) out.push(argv[i]);
  }
  return out;
}

/**
 * Runs this process's command line (less `--nproc`) as `n` local ranks. Resolves with the exit
 * status to leave with: 0 when every rank succeeded, else the first failing rank's.
 */
export async function launchLocal(n: number, log: (line: string) => void = (l) => console.error(l)): Promise<number> {
  const port = await freePort();
  const args = [...process.execArgv, process.argv[1], ...withoutFlag(process.argv.slice(2), '--nproc')];
  const children: ChildProcess[] = [];
  let failure: { rank: number; status: number } | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const running = () => children.filter((c) => c.exitCode === null && c.signalCode === null);
  // SIGTERM first; a rank that has not gone 10 s later (hung, or stopped) gets SIGKILL.
  const stopOthers = () => {
    for (const c of running()) c.kill('SIGTERM');
    killTimer ??= setTimeout(() => {
      for (const c of running()) c.kill('SIGKILL');
    }, 10_000);
  };
  const forward = (sig: NodeJS.Signals) => () => {
    for (const c of children) c.kill(sig);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const exits = Array.from({ length: n }, (_, rank) => {
      const child = spawn(process.execPath, args, {
        stdio: 'inherit',
        env: {
          ...process.env, RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(n), LOCAL_WORLD_SIZE: String(n),
          MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port),
        },
      });
      children.push(child);
      return new Promise<void>((resolve) => {
        child.on('exit', (code, signal) => {
          const status = code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1);
          if (status !== 0 && failure === undefined) {
            failure = { rank, status };
            log(`odc: rank ${rank} of ${n} ${code !== null ? `exited with status ${code}` : `was killed by ${signal}`}; stopping the other ranks`);
            stopOthers();
          }
          resolve();
        });
        child.on('error', (e) => {
          if (failure === undefined) failure = { rank, status: 1 };
          log(`odc: rank ${rank} could not start: ${e.message}`);
          stopOthers();
          resolve();
        });
      });
    });
    await Promise.all(exits);
  } finally {
    clearTimeout(killTimer);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  return failure?.status ?? 0;
}
