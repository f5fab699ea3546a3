/** Tensor creation, dtypes, shape ops, indexing, reductions and random draws against known values. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  arange, cat, eye, full, Generator, linspace, manualSeed, ones, rand, randint, randn, randperm, scalar,stack, tensor, tidy, where, zeros, 
} from '../src/index.ts';
import { withLeakCheck } from './helpers.ts';

const approx = (a: ArrayLike<number>, b: number[], tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};

describe('creation and dtypes', () => {
  it('round-trips every dtype through TypedArrays', () => tidy(() => {
    assert.deepEqual(Array.from(tensor(new Float32Array([1.5, -2])).data<Float32Array>()), [1.5, -2]);
    assert.deepEqual(Array.from(tensor(new Float64Array([1e-300])).data<Float64Array>()), [1e-300]);
    assert.deepEqual(Array.from(tensor(new BigInt64Array([2n ** 40n, -3n])).data<BigInt64Array>()), [2n ** 40n, -3n]);
    assert.deepEqual(Array.from(tensor(new Int32Array([7, -8])).data<Int32Array>()), [7, -8]);
    assert.deepEqual(Array.from(tensor(new Uint8Array([0, 255])).data<Uint8Array>()), [0, 255]);
    const b = tensor([1, 0, 2], { dtype: 'bool' });
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toArray(), [1, 0, 1]);
  }));

  it('builds nested arrays with a shape and rejects ragged ones', () => tidy(() => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    assert.throws(() => tensor([[1, 2], [3]]), /ragged/);
    assert.throws(() => tensor(new Float32Array(5), { shape: [2, 3] }), /do not fill shape \[2,3\]/);
  }));

  it('zeros/ones/full/arange/linspace/eye', () => tidy(() => {
    assert.deepEqual(zeros([2, 2]).toArray(), [0, 0, 0, 0]);
    assert.deepEqual(ones([3], { dtype: 'int64' }).data(), new BigInt64Array([1n, 1n, 1n]));
    assert.deepEqual(full([2], 3.5).toArray(), [3.5, 3.5]);
    const a = arange(5);
    assert.equal(a.dtype, 'int64');
    assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
    assert.deepEqual(arange(1, 2, 0.25).toArray(), [1, 1.25, 1.5, 1.75]);
    approx(linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(eye(2).toArray(), [1, 0, 0, 1]);
    assert.equal(scalar(2).item(), 2);
  }));
});

describe('random draws', () => {
  it('match PyTorch for the same seed (torch.randn(3, generator=Generator().manual_seed(42)))', () => tidy(() => {
    approx(randn([3], { generator: new Generator(42) }).toArray(), [0.33669036626815796, 0.12880940735340118, 0.23446236550807953]);
    manualSeed(42);
    approx(randn([3]).toArray(), [0.33669036626815796, 0.12880940735340118, 0.23446236550807953]);
  }));

  it('are reproducible per generator and restorable from a saved state', () => tidy(() => {
    const g = new Generator(7);
    const state = g.getState();
    const a = rand([4], { generator: g }).toArray();
    const b = rand([4], { generator: g }).toArray();
    assert.notDeepEqual(a, b);
    g.setState(state);
    assert.deepEqual(rand([4], { generator: g }).toArray(), a);
    assert.equal(g.seed, 7n);
  }));

  it('randint stays in range and randperm is a permutation', () => tidy(() => {
    const g = new Generator(1);
    const r = randint(3, 9, [1000], { generator: g }).toArray();
    assert.ok(r.every((v) => v >= 3 && v < 9));
    assert.equal(new Set(r).size, 6);
    assert.deepEqual(randperm(50, { generator: g }).toArray().sort((x, y) => x - y), [...Array(50).keys()]);
  }));
});

describe('shape ops and indexing', () => {
  it('view/reshape/permute/transpose/contiguous/flatten/squeeze', () => withLeakCheck(() => tidy(() => {
    const x = arange(24).reshape(2, 3, 4);
    assert.deepEqual(x.view(6, 4).shape, [6, 4]);
    assert.deepEqual(x.permute(2, 0, 1).shape, [4, 2, 3]);
    const t = x.transpose(0, 2);
    assert.deepEqual(t.strides, [1, 4, 12]);
    assert.deepEqual(t.contiguous().strides, [6, 2, 1]);
    assert.deepEqual(x.flatten(1).shape, [2, 12]);
    assert.deepEqual(x.unsqueeze(0).squeeze(0).shape, [2, 3, 4]);
    assert.deepEqual(x.permute(2, 0, 1).contiguous().toArray().slice(0, 4), [0, 4, 8, 12]);
  })));

  it('cat/stack/split/chunk/narrow/slice/select', () => tidy(() => {
    const a = tensor([[1, 2], [3, 4]]);
    assert.deepEqual(cat([a, a], 0).shape, [4, 2]);
    assert.deepEqual(stack([a, a], 2).shape, [2, 2, 2]);
    const parts = arange(7).split(3);
    assert.deepEqual(parts.map((p) => p.toArray()), [[0, 1, 2], [3, 4, 5], [6]]);
    assert.deepEqual(arange(7).split([2, 5]).map((p) => p.numel), [2, 5]);
    assert.equal(arange(6).chunk(3).length, 3);
    assert.deepEqual(arange(10).narrow(0, 2, 3).toArray(), [2, 3, 4]);
    assert.deepEqual(arange(10).slice(0, 1, 9, 3).toArray(), [1, 4, 7]);
    assert.deepEqual(a.select(0, 1).toArray(), [3, 4]);
  }));

  it('index_select/gather/scatter/scatter_add/index_add/masked ops/where/index', () => tidy(() => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    const i = tensor([2, 0], { dtype: 'int64' });
    assert.deepEqual(x.indexSelect(1, i).toArray(), [3, 1, 6, 4]);
    assert.deepEqual(x.gather(1, tensor([[0, 0], [2, 1]], { dtype: 'int64' })).toArray(), [1, 1, 6, 5]);
    const idx = tensor([[0, 1, 0]], { dtype: 'int64' });
    assert.deepEqual(zeros([2, 3]).scatter(0, idx, ones([1, 3])).toArray(), [1, 0, 1, 0, 1, 0]);
    assert.deepEqual(zeros([2]).scatterAdd(0, tensor([0, 0, 1], { dtype: 'int64' }), tensor([1, 2, 3])).toArray(), [3, 3]);
    assert.deepEqual(zeros([3, 2]).indexAdd(0, tensor([2, 2], { dtype: 'int64' }), ones([2, 2])).toArray(), [0, 0, 0, 0, 2, 2]);
    const m = x.gt(3);
    assert.deepEqual(x.maskedFill(m, 0).toArray(), [1, 2, 3, 0, 0, 0]);
    assert.deepEqual(x.maskedSelect(m).toArray(), [4, 5, 6]);
    assert.deepEqual(where(m, x, x.neg()).toArray(), [-1, -2, -3, 4, 5, 6]);
    assert.deepEqual(x.index([tensor([1], { dtype: 'int64' }), tensor([2], { dtype: 'int64' })]).toArray(), [6]);
    const y = zeros([4]);
    y.indexCopy_(0, tensor([3, 1], { dtype: 'int64' }), tensor([7, 8]));
    assert.deepEqual(y.toArray(), [0, 8, 0, 7]);
  }));
});

describe('math and reductions', () => {
  it('elementwise arithmetic with tensors and scalars, in place returning this', () => tidy(() => {
    const a = tensor([1, 2, 3]);
    assert.deepEqual(a.add(a, 2).toArray(), [3, 6, 9]);
    assert.deepEqual(a.sub(1).mul(2).div(4).toArray(), [0, 0.5, 1]);
    assert.deepEqual(a.pow(2).sqrt().toArray(), [1, 2, 3]);
    assert.deepEqual(a.rsub(1).toArray(), [0, -1, -2]);
    assert.deepEqual(tensor([7, -7], { dtype: 'int64' }).div(2, 'floor').toArray(), [3, -4]);
    const b = a.clone();
    assert.equal(b.mul_(2).add_(1), b);
    assert.deepEqual(b.toArray(), [3, 5, 7]);
    approx(a.exp().log().toArray(), [1, 2, 3], 1e-6);
    assert.deepEqual(tensor([-1, 0.5, 2]).clamp(0, 1).toArray(), [0, 0.5, 1]);
    assert.deepEqual(a.eq(2).toArray(), [0, 1, 0]);
    assert.equal(a.ge(2).dtype, 'bool');
  }));

  it('sum/mean/max/min/argmax/topk/bincount/var/norm/sort/cumsum', () => tidy(() => {
    const x = tensor([[1, 5, 3], [4, 2, 6]]);
    assert.equal(x.sum().item(), 21);
    assert.deepEqual(x.sum(0).toArray(), [5, 7, 9]);
    assert.deepEqual(x.mean(1, true).shape, [2, 1]);
    assert.equal(x.max().item(), 6);
    const [v, i] = x.max(1);
    assert.deepEqual(v.toArray(), [5, 6]);
    assert.deepEqual(i.toArray(), [1, 2]);
    assert.deepEqual(x.min(0)[0].toArray(), [1, 2, 3]);
    assert.deepEqual(x.argmax(1).toArray(), [1, 2]);
    assert.deepEqual(x.argmin().toArray(), [0]);
    const [tv, ti] = tensor([3, 9, 1, 7]).topk(2);
    assert.deepEqual(tv.toArray(), [9, 7]);
    assert.deepEqual(ti.toArray(), [1, 3]);
    assert.deepEqual(tensor([0, 2, 2, 5], { dtype: 'int64' }).bincount(7).toArray(), [1, 0, 2, 0, 0, 1, 0]);
    approx(tensor([1, 2, 3, 4]).var().toArray(), [5 / 3]);
    approx(tensor([3, 4]).norm().toArray(), [5]);
    assert.deepEqual(tensor([3, 1, 2]).sort()[1].toArray(), [1, 2, 0]);
    assert.deepEqual(tensor([1, 2, 3]).cumsum(0).toArray(), [1, 3, 6]);
  }));

  it('matmul/mm/addmm/bmm agree with hand products', () => tidy(() => {
    const a = tensor([[1, 2], [3, 4]]);
    const b = tensor([[5, 6], [7, 8]]);
    assert.deepEqual(a.mm(b).toArray(), [19, 22, 43, 50]);
    assert.deepEqual(a.matmul(b).toArray(), [19, 22, 43, 50]);
    assert.deepEqual(ones([2, 2]).addmm(a, b, 2, 1).toArray(), [21, 24, 45, 52]);
    assert.deepEqual(stack([a, b]).bmm(stack([b, a])).shape, [2, 2, 2]);
    assert.deepEqual(a.t().toArray(), [1, 3, 2, 4]);
  }));
});
