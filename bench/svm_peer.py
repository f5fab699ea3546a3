#!/usr/bin/python3
"""Peer of bench/svm.ts: scikit-learn's LinearSVC (Debian python3-sklearn) on the same features.

Reads train_x.npy [n, d] float32 (already L2-normalised), train_y.npy, test_x.npy, test_y.npy from
--dir; per class and cost fits LinearSVC(C, class_weight={1: 2, -1: 1}, penalty='l2',
loss='squared_hinge', dual=True, tol=1e-4, max_iter=2000, intercept_scaling=1) one-vs-rest on the
training split (as the reference's benchmarks/svm_tools), scores the test split and computes the VOC
AP (svm_helper.get_precision_recall). Prints one JSON line: seconds (fit + test scoring), mAP per
cost (in the order given).
"""
import argparse
import json
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC


def voc_ap(targets, preds):  # svm_helper.get_precision_recall + calculate_ap
    targets = np.array(targets > 0, dtype=np.float64)
    ind = np.argsort(preds)[::-1]
    tp = targets[ind]
    P = np.cumsum(tp) / np.arange(1, len(tp) + 1)
    R = np.cumsum(tp) / np.sum(targets)
    mrec = np.concatenate(([0.0], R, [1.0]))
    mpre = np.concatenate(([0.0], P, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    indices = np.where(mrec[1:] != mrec[0:-1])[0] + 1
    return float(np.sum((mrec[indices] - mrec[indices - 1]) * mpre[indices]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', required=True)
    ap.add_argument('--costs', required=True, help='comma-separated')
    ap.add_argument('--classes', type=int, default=0, help='first N classes only (0: all)')
    a = ap.parse_args()
    costs = [float(c) for c in a.costs.split(',')]
    x_train = np.load(f'{a.dir}/train_x.npy').astype(np.float64)
    y_train = np.load(f'{a.dir}/train_y.npy')
    x_test = np.load(f'{a.dir}/test_x.npy').astype(np.float64)
    y_test = np.load(f'{a.dir}/test_y.npy')
    classes = sorted(set(y_train.tolist()))
    if a.classes:
        classes = classes[:a.classes]
    seconds = 0.0
    not_converged = 0
    per_cost = []
    for c in costs:
        aps = []
        for cls in classes:
            t = time.perf_counter()
            clf = LinearSVC(C=c, class_weight={1: 2, -1: 1}, intercept_scaling=1.0, penalty='l2', loss='squared_hinge',
                            tol=1e-4, dual=True, max_iter=2000)
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter('always', ConvergenceWarning)
                clf.fit(x_train, np.where(y_train == cls, 1, -1))
            scores = clf.decision_function(x_test)
            seconds += time.perf_counter() - t
            not_converged += sum(issubclass(x.category, ConvergenceWarning) for x in w)
            aps.append(voc_ap(np.where(y_test == cls, 1, 0), scores))
        per_cost.append({'c': c, 'map': float(np.mean(aps)), 'ap': aps})
    print(json.dumps({'seconds': seconds, 'not_converged': not_converged, 'per_cost': per_cost}))


if __name__ == '__main__':
    main()
