/**
 * `npm run bench:eval`: (1) wall time of `odc eval --protocol all` at the defaults for a ResNet-18
 * checkpoint on Fashion-MNIST (60,000 train / 10,000 test): feature extraction at every tap, kNN,
 * k-means clustering, the linear-SVM protocol with cross-validated costs, low-shot SVM and the
 * linear probe on conv1..conv5 + pooled features; (2) the SVM solver against scikit-learn's
 * LinearSVC on 10 classes x 60,000 x 512 in the same run (bench/svm.ts). Prints one JSON line.
 *
 * Env: ODC_BENCH_CHECKPOINT (default: a seeded random ResNet-18 at width 16, the training default;
 * the protocols' cost does not depend on the weights), SVM_COSTS, SVM_THREADS, SVM_PEER=0,
 * ODC_BENCH_SKIP_ALL=1 (only the SVM comparison).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomEvalModel } from '../src/eval/eval_model.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { saveSafetensors } from '../src/io/safetensors.ts';
import { configureProcess } from '../src/runtime.ts';
import { ensurePeer } from './peer.ts';
import { benchSvm } from './svm.ts';

configureProcess(); // as the odc command runs

const env = process.env;
const log = (l: string) => process.stderr.write(`${l}\n`);

async function benchAll(): Promise<Record<string, unknown>> {
  let checkpoint = env.ODC_BENCH_CHECKPOINT;
  if (checkpoint === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'odc-bench-eval-'));
    const spec = { arch: 'resnet18' as const, width: 16, stem: 'auto' as const, sobel: false };
    const m = randomEvalModel(spec, { inChannels: 1, height: 28, seed: 0 });
    checkpoint = join(dir, 'model.safetensors');
    saveSafetensors(checkpoint, new Map([...m.backbone.stateDict()].map(([k, v]) => [`backbone.${k}`, v])));
    m.dispose();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...spec, dataset: 'fashion-mnist' }));
  }
  const t0 = performance.now();
  const r = await evaluate({ checkpoint, protocols: ['knn', 'linear', 'svm', 'lowshot', 'cluster'], cache: false, log });
  const total = (performance.now() - t0) / 1000;
  const p = r.protocols as Record<string, unknown>;
  const knn = (p.knn as { rows: { k: number; weighted: number }[] }).rows;
  return {
    checkpoint, all_s: Number(total.toFixed(1)),
    seconds: Object.fromEntries(Object.entries(r.seconds).map(([k, v]) => [k, Number((v as number).toFixed(1))])),
    knn_top1: knn.map((x) => ({ k: x.k, top1: Number((100 * x.weighted).toFixed(2)) })),
    svm_map: Number((100 * (p.svm as { map: number }).map).toFixed(2)),
    lowshot_average: Number((100 * (p.lowshot as { average: number }).average).toFixed(2)),
    linear_top1: (p.linear as { tap: string; top1: number }[]).map((x) => ({ tap: x.tap, top1: Number((100 * x.top1).toFixed(2)) })),
  };
}

// The scikit-learn peer runs last: check it first, so a missing package fails in seconds, not after the protocols.
if (env.SVM_PEER !== '0') ensurePeer({ modules: ['numpy', 'sklearn'], log });
const all = env.ODC_BENCH_SKIP_ALL === '1' ? undefined : await benchAll();
if (all) log(`protocol all: ${all.all_s} s`);
const svm = await benchSvm({
  costs: env.SVM_COSTS ? env.SVM_COSTS.split(',').map(Number) : undefined,
  threads: env.SVM_THREADS ? Number(env.SVM_THREADS) : undefined,
  peer: env.SVM_PEER !== '0',
  log,
});
console.log(JSON.stringify({
  bench: 'eval', protocol_all: all ?? null,
  svm_odc_s: svm.odc_s, svm_sklearn_s: svm.sklearn_s, ratio: svm.ratio, map_diff_points: svm.map_diff_points, svm,
}));
