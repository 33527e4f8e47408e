#!/usr/bin/python3
"""XGBoost side of `npm run bench:gbdt`: fits XGBoost (tree_method="hist") on the exact matrices the
Tassel side sees (written by bench/gbdt.bench.ts as raw float64 files) and prints one JSON line.

Usage: /usr/bin/python3 bench/gbdt-xgboost.py DIR REPS NTHREAD PARAMS_JSON
(env WARM=1: a first 500-row fit before the memory baseline)
DIR holds meta.json and fit.f64 / fit.y / valid.f64 / valid.y / test.f64 / test.y.
"""
import json
import os
import resource
import statistics
import sys
import time


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def warm_up_fit(xgb, np, cols, nthread, params):
    """A first fit of 500 rows x cols (20 trees) before the baseline, as the Tassel side's warm processes do."""
    rng = np.random.default_rng(1)
    x = rng.random((500, cols)) * 10
    y = (x[:, 0] + x[:, 1] > 10).astype(np.float64)
    xgb.XGBClassifier(
        n_estimators=20, max_depth=params["max_depth"], max_bin=params["max_bin"], tree_method="hist",
        eval_metric="logloss", early_stopping_rounds=5, n_jobs=nthread,
    ).fit(x, y, eval_set=[(x[:100], y[:100])], verbose=False)


def main():
    d, reps, nthread, params = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
    import numpy as np
    import xgboost as xgb
    from sklearn.metrics import log_loss, roc_auc_score

    meta = json.load(open(os.path.join(d, "meta.json")))
    cols = meta["cols"]
    if os.environ.get("WARM"):
        warm_up_fit(xgb, np, cols, nthread, params)
    rss_before = rss_kb()

    def load(name):
        X = np.fromfile(os.path.join(d, name + ".f64"), dtype="<f8").reshape(-1, cols)
        y = np.fromfile(os.path.join(d, name + ".y"), dtype=np.uint8).astype(np.float64)
        return X, y

    X, y = load("fit")
    V, yv = load("valid")
    T, yt = load("test")
    times, cpu = [], []
    model = None
    for _ in range(reps):
        model = xgb.XGBClassifier(
            n_estimators=params["n_estimators"], max_depth=params["max_depth"],
            learning_rate=params["eta"], max_bin=params["max_bin"], tree_method="hist",
            eval_metric="logloss", early_stopping_rounds=params["early_stopping_rounds"],
            n_jobs=nthread, random_state=params["seed"],
            # Tassel starts from the class prior (as XGBoost 2.x estimates it); 1.7 would use 0.5.
            base_score=float(y.mean()) if params.get("base_score") == "prior" else params.get("base_score"))
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(X, y, eval_set=[(V, yv)], verbose=False)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    p = model.predict_proba(T)[:, 1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # the test probabilities as XGBoost returns them (float32), for the one-AUC-function check in gbdt.bench.ts
    p.astype("<f4").tofile(os.path.join(d, "proba-xgboost-nt%d.f32" % nthread))
    print(json.dumps({
        "xgboost_version": xgb.__version__,
        "fit_s": times, "cpu_s": cpu,
        "auc": float(roc_auc_score(yt, p)), "logloss": float(log_loss(yt, np.clip(p, 1e-15, 1 - 1e-15))),
        "best_iteration": int(model.best_iteration), "n_trees": int(model.best_iteration) + 1,
        "peak_rss_kb": peak, "rss_before_data_kb": rss_before,
    }))


if __name__ == "__main__":
    main()
