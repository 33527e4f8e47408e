#!/usr/bin/python3
"""XGBoost side of `npm run bench:explain`: loads the Tassel GBDT the bench trained (its model.json, converted
to XGBoost's model.json layout with scripts/fixtures/make_shap_fixture.py's converter), and times
`Booster.predict(pred_contribs=True)` with one thread on the same test matrix; prints one JSON line.

Usage: /usr/bin/python3 bench/explain-xgboost.py DIR REPS SINGLE_ROWS
DIR holds model.json (Tassel), test.f64 (rows x cols float64) and meta.json ({"cols": n}).
"""
import importlib.util
import json
import os
import statistics
import sys
import time


def main():
    d, reps, single = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    import numpy as np
    import xgboost as xgb

    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "shapfx", os.path.join(here, "..", "scripts", "fixtures", "make_shap_fixture.py"))
    shapfx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shapfx)
    template = json.load(open(os.path.join(here, "..", "src", "ml", "gbdt", "fixtures", "xgboost-1.7.4-model.json")))
    tassel = json.load(open(os.path.join(d, "model.json")))
    path = os.path.join(d, "as-xgboost.json")
    converted = shapfx.convert_tassel_model(tassel, template)
    # XGBoost refuses names with [, ] or < (OULAD's "age_band=55<="): columns are matched by position
    converted["learner"]["feature_names"] = []
    converted["learner"]["feature_types"] = []
    with open(path, "w") as fh:
        json.dump(converted, fh)
    booster = xgb.Booster(model_file=path)
    booster.set_param({"nthread": 1})
    cols = json.load(open(os.path.join(d, "meta.json")))["cols"]
    T = np.fromfile(os.path.join(d, "test.f64"), dtype="<f8").reshape(-1, cols)
    names = None
    dm = xgb.DMatrix(T, missing=np.nan, nthread=1, feature_names=names)
    booster.predict(dm, pred_contribs=True)  # warm-up
    times, cpu = [], []
    contribs = None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        contribs = booster.predict(dm, pred_contribs=True)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    contribs.astype("<f8").tofile(os.path.join(d, "xgb-contribs.f64"))
    # per record: what a Python service does for one request (a one-row DMatrix, then pred_contribs)
    per = []
    n_single = min(single, T.shape[0])
    c0 = time.process_time()
    for i in range(n_single):
        t0 = time.perf_counter()
        booster.predict(xgb.DMatrix(T[i:i + 1], missing=np.nan, nthread=1, feature_names=names), pred_contribs=True)
        per.append(time.perf_counter() - t0)
    single_cpu = (time.process_time() - c0) / n_single
    print(json.dumps({
        "xgboost_version": xgb.__version__, "rows": int(T.shape[0]),
        "batch_s": times, "batch_cpu_s": cpu,
        "single_us_median": statistics.median(per) * 1e6, "single_cpu_us": single_cpu * 1e6,
    }))


if __name__ == "__main__":
    main()
