#!/usr/bin/python3
"""Writes test/fixtures/svm_fixture.json: scikit-learn LinearSVC results for test/svm.test.ts.

Run with Debian's python3-sklearn (1.2): /usr/bin/python3 scripts/gen_svm_fixture.py

Data: the first 300 training and 200 test images of Fashion-MNIST (/usr/share/datasets/fashion-mnist),
pixels / 255 through a fixed random projection 784 -> 48 (numpy RandomState(0)) and ReLU, stored as
float32 (the TypeScript side reads the same values). Everything below follows the reference
(OpenSelfSup benchmarks/svm_tools): features / (||x|| + 1e-5) in float64,
LinearSVC(C, class_weight={1: 2, -1: 1}, penalty='l2', loss='squared_hinge', dual=True,
intercept_scaling=1), except tol/max_iter, tightened so that both solvers stop near the optimum.
"""
import base64
import gzip
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = '/usr/share/datasets/fashion-mnist'
N_TRAIN, N_TEST, DIM = 300, 200, 48
TOL, MAX_ITER = 1e-8, 200000
CLASSES = [0, 4, 9]
COSTS = [0.5 ** 10, 0.0625, 1.0, 10.0]


def idx(name, offset):
    with gzip.open(os.path.join(DATA, name), 'rb') as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def normalize(x):  # svm_helper.normalize_features
    return x / (np.linalg.norm(x, axis=1) + 1e-5)[:, np.newaxis]


def voc_ap(targets, preds):  # svm_helper.get_precision_recall + calculate_ap
    targets = np.array(targets > 0, dtype=np.float64)
    ind = np.argsort(preds)[::-1]
    tp = targets[ind]
    fp = 1 - tp
    P = np.cumsum(tp) / (np.cumsum(tp) + np.cumsum(fp))
    R = np.cumsum(tp) / np.sum(targets)
    mrec = np.concatenate(([0.0], R, [1.0]))
    mpre = np.concatenate(([0.0], P, [0.0]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    indices = np.where(mrec[1:] != mrec[0:-1])[0] + 1
    return float(np.sum((mrec[indices] - mrec[indices - 1]) * mpre[indices]))


def svc(c, tol=TOL, max_iter=MAX_ITER):
    return LinearSVC(C=c, class_weight={1: 2, -1: 1}, intercept_scaling=1.0, penalty='l2', loss='squared_hinge',
                     tol=tol, dual=True, max_iter=max_iter, random_state=0)


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype='<f4').tobytes()).decode('ascii')


def main():
    warnings.simplefilter('error')  # a ConvergenceWarning means the fixture is not near the optimum
    pix_train = idx('train-images-idx3-ubyte.gz', 16).reshape(-1, 784)[:N_TRAIN].astype(np.float64) / 255
    pix_test = idx('t10k-images-idx3-ubyte.gz', 16).reshape(-1, 784)[:N_TEST].astype(np.float64) / 255
    y_train = idx('train-labels-idx1-ubyte.gz', 8)[:N_TRAIN].astype(np.int64)
    y_test = idx('t10k-labels-idx1-ubyte.gz', 8)[:N_TEST].astype(np.int64)
    proj = np.random.RandomState(0).randn(784, DIM) / np.sqrt(784)
    x_train = np.maximum(pix_train @ proj, 0).astype(np.float32)
    x_test = np.maximum(pix_test @ proj, 0).astype(np.float32)
    xn_train = normalize(x_train.astype(np.float64))
    xn_test = normalize(x_test.astype(np.float64))

    fits = []
    for cls in CLASSES:
        y = np.where(y_train == cls, 1, -1)
        for c in COSTS:
            clf = svc(c).fit(xn_train, y)
            dec = clf.decision_function(xn_test)
            fits.append({
                'cls': cls, 'C': c, 'n_iter': int(clf.n_iter_), 'intercept': float(clf.intercept_[0]),
                'decision': dec.tolist(), 'ap_voc': voc_ap(np.where(y_test == cls, 1, 0), dec),
                'ap_sklearn': float(average_precision_score(y_test == cls, dec)),
            })

    # StratifiedKFold(3) folds (what cross_val_score(cv=3) uses) and the CV AP of every class and cost
    folds = {}
    cv_ap = []
    for cls in range(10):
        y = np.where(y_train == cls, 1, -1)
        test_fold = np.empty(N_TRAIN, dtype=np.int64)
        for f, (_, test) in enumerate(StratifiedKFold(3).split(xn_train, y)):
            test_fold[test] = f
        folds[str(cls)] = test_fold.tolist()
        cv_ap.append([float(cross_val_score(svc(c), xn_train, y, cv=3, scoring='average_precision').mean()) for c in COSTS])

    # the full protocol: per class the cost with the best mean CV AP, refit, VOC AP on the test split
    chosen, test_ap = [], []
    for cls in range(10):
        c = COSTS[int(np.argmax(cv_ap[cls]))]
        clf = svc(c).fit(xn_train, np.where(y_train == cls, 1, -1))
        chosen.append(c)
        test_ap.append(voc_ap(np.where(y_test == cls, 1, 0), clf.decision_function(xn_test)))

    # AP on small hand-made cases, ties included (numpy sorts arrays of <= 16 stably)
    rng = np.random.RandomState(1)
    ap_cases = []
    for n in [5, 8, 12, 16]:
        scores = rng.randint(0, 4, n).astype(np.float64)
        labels = rng.randint(0, 2, n)
        labels[0] = 1
        ap_cases.append({'scores': scores.tolist(), 'labels': labels.tolist(), 'voc': voc_ap(labels, scores),
                         'sklearn': float(average_precision_score(labels, scores))})

    out = {
        'generator': 'scripts/gen_svm_fixture.py', 'sklearn': sklearn.__version__, 'numpy': np.__version__,
        'n_train': N_TRAIN, 'n_test': N_TEST, 'd': DIM, 'tol': TOL, 'max_iter': MAX_ITER, 'costs': COSTS,
        'x_train': b64(x_train), 'x_test': b64(x_test), 'y_train': y_train.tolist(), 'y_test': y_test.tolist(),
        'fits': fits, 'folds': folds, 'cv_ap': cv_ap, 'chosen_cost': chosen, 'test_ap': test_ap,
        'map': float(np.mean(test_ap)), 'ap_cases': ap_cases,
    }
    path = os.path.join(ROOT, 'test', 'fixtures', 'svm_fixture.json')
    with open(path, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
    print(f'wrote {path} ({os.path.getsize(path)} bytes)')


if __name__ == '__main__':
    main()
