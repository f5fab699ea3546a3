/**
 * The paper's Table 4 (section 3.3, ODC as an unsupervised fine-tuning scheme) at this machine's
 * scale: trains a rotation, an NPID and a DeepCluster model on the same images at one budget, then
 * fine-tunes each by DeepCluster and by ODC (`initFrom`) at the same budget, and evaluates all nine
 * backbones with every protocol of `odc eval` (SVM mAP, low-shot, kNN, linear probe per layer,
 * k-means NMI/ACC). Resumable: a finished run or evaluation is not repeated. Writes
 * `<out>/table4.json` and `<out>/table4.md` (the paper-shaped table: original / +DC / +ODC, gains).
 *
 * TABLE4_OUT (runs/table4), TABLE4_SUBSET (5000 training images), TABLE4_BUDGET (1000it),
 * TABLE4_WIDTH (16), TABLE4_EVAL_TRAIN / TABLE4_EVAL_TEST (10000 / 2000 images of the labelled
 * splits), TABLE4_LINEAR_EPOCHS (5), TABLE4_LOWSHOT_SAMPLES (2), TABLE4_PRETEXTS ('rotation,npid,deepcluster').
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type EvalResult, evaluate } from '../src/eval/evaluate.ts';
import { configureProcess } from '../src/runtime.ts';
import { resolveConfig, type TrainConfigInput } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';

configureProcess(); // as the odc command runs

const env = process.env;
const out = env.TABLE4_OUT ?? join('runs', 'table4');
const subset = Number(env.TABLE4_SUBSET ?? 5000);
const budget = env.TABLE4_BUDGET ?? '1000it';
const width = Number(env.TABLE4_WIDTH ?? 16);
const evalTrain = Number(env.TABLE4_EVAL_TRAIN ?? 10000);
const evalTest = Number(env.TABLE4_EVAL_TEST ?? 2000);
const linearEpochs = Number(env.TABLE4_LINEAR_EPOCHS ?? 5);
const lowshotSamples = Number(env.TABLE4_LOWSHOT_SAMPLES ?? 2);
const pretexts = (env.TABLE4_PRETEXTS ?? 'rotation,npid,deepcluster').split(',') as ('rotation' | 'npid' | 'deepcluster')[];
const finetuners = ['deepcluster', 'odc'] as const;
mkdirSync(out, { recursive: true });

/** The numbers of one evaluated backbone. */
interface Scores {
  svm_map: number;
  lowshot: number;
  knn20: number;
  /** Linear probe top-1 per tap, and the best. */
  linear: Record<string, number>;
  linear_best: number;
  kmeans_nmi: number;
  kmeans_acc: number;
  train_minutes: number;
}

function scoresOf(e: EvalResult, minutes: number): Scores {
  const p = e.protocols as Record<string, any>;
  const linear = Object.fromEntries((p.linear as { tap: string; top1: number }[]).map((r) => [r.tap, r.top1]));
  return {
    svm_map: p.svm.map, lowshot: p.lowshot.average, knn20: (p.knn.rows as { k: number; weighted: number }[]).find((r) => r.k === 20)?.weighted ?? Number.NaN,
    linear, linear_best: Math.max(...Object.values(linear)), kmeans_nmi: p.cluster.kmeans.nmi, kmeans_acc: p.cluster.kmeans.acc, train_minutes: minutes,
  };
}

/** Trains (unless finished) and evaluates (unless evaluated) one model; returns its scores. */
async function run(name: string, over: TrainConfigInput): Promise<Scores> {
  const dir = join(out, name);
  const summary = join(dir, 'summary.json');
  const timing = join(dir, 'train_minutes.txt');
  if (!(existsSync(summary) && JSON.parse(readFileSync(summary, 'utf8')).finished === true)) {
    const t0 = performance.now();
    const cfg = resolveConfig({ subset, budget, width, logEvery: 100, checkpointEvery: 500, tensorboard: false, evalFeatures: false, ...over, out: dir });
    await train(cfg, { log: (l) => console.error(`[${name}] ${l}`), resume: existsSync(join(dir, 'latest.safetensors')) });
    writeFileSync(timing, String((performance.now() - t0) / 60000));
  }
  const evalPath = join(dir, 'eval.json');
  let e: EvalResult;
  if (existsSync(evalPath)) e = JSON.parse(readFileSync(evalPath, 'utf8'));
  else {
    e = await evaluate({
      checkpoint: join(dir, 'model.safetensors'), protocols: ['knn', 'linear', 'svm', 'lowshot', 'cluster'], trainSubset: evalTrain, testSubset: evalTest,
      linear: { epochs: linearEpochs }, lowshot: { samples: lowshotSamples }, log: (l) => console.error(`[${name} eval] ${l}`),
    });
    writeFileSync(evalPath, `${JSON.stringify(e)}\n`);
  }
  const s = scoresOf(e, existsSync(timing) ? Number(readFileSync(timing, 'utf8')) : Number.NaN);
  console.log(JSON.stringify({ bench: 'table4', model: name, subset, budget, width, ...s }));
  return s;
}

const results: Record<string, Record<string, Scores>> = {};
for (const p of pretexts) {
  results[p] = { original: await run(p, { method: p }) };
  for (const f of finetuners) results[p][f] = await run(`${p}+${f}`, { method: f, initFrom: join(out, p, 'model.safetensors') });
}
writeFileSync(join(out, 'table4.json'), `${JSON.stringify({ subset, budget, width, evalTrain, evalTest, linearEpochs, lowshotSamples, results }, null, 2)}\n`);

const name: Record<string, string> = { rotation: 'Rotation', npid: 'NPID', deepcluster: 'DeepCluster' };
const pct = (v: number) => (100 * v).toFixed(1);
const gain = (a: number, b: number) => `${a - b >= 0 ? '+' : ''}${(100 * (a - b)).toFixed(1)}`;
const lines = [
  `| start | SVM mAP: original | +DC | +ODC | low-shot avg: original | +DC | +ODC | kNN@20: original | +DC | +ODC | linear best: original | +DC | +ODC | k-means NMI / ACC: original | +DC | +ODC |`,
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];
for (const p of pretexts) {
  const r = results[p];
  const cells = (k: 'svm_map' | 'lowshot' | 'knn20' | 'linear_best') =>
    [pct(r.original[k]), `${pct(r.deepcluster[k])} (${gain(r.deepcluster[k], r.original[k])})`, `${pct(r.odc[k])} (${gain(r.odc[k], r.original[k])})`].join(' | ');
  const km = (s: Scores) => `${s.kmeans_nmi.toFixed(3)} / ${s.kmeans_acc.toFixed(3)}`;
  lines.push(`| ${name[p]} | ${cells('svm_map')} | ${cells('lowshot')} | ${cells('knn20')} | ${cells('linear_best')} | ${km(r.original)} | ${km(r.deepcluster)} | ${km(r.odc)} |`);
}
const md = `${lines.join('\n')}\n`;
writeFileSync(join(out, 'table4.md'), md);
console.log(`\n${md}`);
