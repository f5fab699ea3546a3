/** ResNet-18, ResNet-50 and AlexNet-BN reproduce PyTorch (fixtures from scripts/gen_fixtures.py) within 1e-4. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlexNet, dispose, F, type Module, manualSeed, ResNet, SGD, type Tap, type Tensor, tidy } from '../src/index.ts';
import { assertClose, loadFixture, withPrefix } from './helpers.ts';

const TOL = 1e-4;

function checkModel(name: string, model: Module & { forwardTaps?: (x: Tensor, t: readonly Tap[]) => Map<Tap, Tensor> }, gradKeys: string[], dropoutSeed?: number) {
  const fx = loadFixture(name);
  const get = (k: string) => {
    const t = fx.get(k);
    assert.ok(t, `fixture ${name} lacks '${k}'`);
    return t;
  };
  try {
    model.loadStateDict(withPrefix(fx, 'model.'));
    const x = get('input');
    const y = get('target');
    const weight = get('class_weight');

    tidy(() => {
      model.eval();
      assertClose(model.forward(x), get('eval.logits'), TOL, `${name} eval logits`);
      if (fx.has('eval.tap.conv1') && model.forwardTaps) {
        const taps = model.forwardTaps(x, ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'pool']);
        for (const [k, v] of taps) assertClose(v, get(`eval.tap.${k}`), TOL, `${name} tap ${k}`);
      }
    });

    const params = new Map(model.namedParameters());
    const opt = new SGD([{ params: model.namedParameters() }], { lr: 0 });
    model.train();
    tidy(() => {
      if (dropoutSeed !== undefined) manualSeed(dropoutSeed);
      const logits = model.forward(x);
      const loss = F.crossEntropy(logits, y, { weight });
      loss.backward();
      assertClose(logits, get('train.logits'), TOL, `${name} train logits`);
      assertClose(loss.reshape(1), get('train.loss'), TOL, `${name} train loss`);
      for (const k of gradKeys) assertClose(params.get(k)?.grad as Tensor, get(`grad.${k}`), TOL, `${name} grad ${k}`);
    });
    const state = model.stateDict();
    for (const [k, v] of withPrefix(fx, 'after.')) assertClose(state.get(k) as Tensor, v, TOL, `${name} buffer ${k} after a train step`);

    // The update rule alone: feed PyTorch's gradients of both steps to SGD (the second step's
    // gradients depend on reduction order across threads, amplified by the first update).
    const params2 = new Map(gradKeys.map((k) => [k, params.get(k) as Tensor]));
    const sgd = new SGD([{ params: [...params2] }], { lr: 0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: true });
    for (const step of ['grad.', 'grad2.']) {
      tidy(() => {
        opt.zeroGrad();
        for (const [k, p] of params2) p.grad = get(`${step}${k}`).clone();
        sgd.step();
      });
    }
    for (const k of gradKeys) assertClose(params.get(k) as Tensor, get(`sgd.${k}`), TOL, `${name} ${k} after two SGD steps`);
    sgd.dispose();
  } finally {
    dispose([...fx.values()]);
    model.dispose();
  }
}

describe('parity with PyTorch', () => {
  it('ResNet-18 (CIFAR stem, width 8): logits, taps, loss, gradients, BN stats, SGD', () => {
    checkModel('resnet18_cifar_w8', new ResNet({ depth: 18, stem: 'cifar', width: 8, numClasses: 10 }), [
      'conv1.weight', 'layer2.0.downsample.0.weight', 'layer4.1.bn2.weight', 'fc.weight', 'fc.bias',
    ]);
  });

  it('ResNet-50 (ImageNet stem, 1 input channel, width 4)', () => {
    checkModel('resnet50_imagenet_w4', new ResNet({ depth: 50, stem: 'imagenet', width: 4, inChannels: 1, numClasses: 5 }), [
      'conv1.weight', 'layer3.5.conv2.weight', 'fc.weight',
    ]);
  });

  it('AlexNet-BN (CIFAR stem), dropout drawn from the same seeded generator', () => {
    checkModel('alexnet_bn_cifar', new AlexNet({ stem: 'cifar', widthFactor: 1 / 8, hidden: 64, numClasses: 10 }), [
      'features.0.weight', 'features.15.weight', 'classifier.1.weight', 'top_layer.weight',
    ], 123);
  });
});
