#!/usr/bin/python3
"""Python side of `npm run bench:search`: Optuna's TPE over XGBoost (early stopping on the validation rows,
two trials at a time) and scikit-learn's HalvingRandomSearchCV over XGBoost (3-fold CV on fit + validation
rows), on the exact matrices Tassel sees. Prints one JSON line.

Usage: /usr/bin/python3 bench/search-python.py DIR optuna|halving SECONDS SEED SPACE_JSON BASE_JSON
"""
import json
import os
import sys
import time


def load(d, cols, name):
    import numpy as np

    X = np.fromfile(os.path.join(d, name + ".f64"), dtype="<f8").reshape(-1, cols)
    y = np.fromfile(os.path.join(d, name + ".y"), dtype=np.uint8).astype(np.int64)
    return X, y


XGB_NAMES = {"eta": "learning_rate", "lambda": "reg_lambda", "alpha": "reg_alpha", "gamma": "gamma"}


def xgb_params(p):
    return {XGB_NAMES.get(k, k): v for k, v in p.items()}


def run_optuna(data, seconds, seed, space, base):
    import optuna
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (X, y), (V, yv), (T, yt) = data
    best = {"valid": -1.0, "model": None}

    def objective(trial):
        p = {}
        for k, d in space.items():
            if "float" in d:
                p[k] = trial.suggest_float(k, d["float"][0], d["float"][1], log=d.get("log", False))
            elif "int" in d:
                p[k] = trial.suggest_int(k, d["int"][0], d["int"][1], log=d.get("log", False))
            else:
                p[k] = trial.suggest_categorical(k, d["choice"])
        m = xgb.XGBClassifier(
            n_estimators=base["n_estimators"], max_bin=base["max_bin"], tree_method="hist",
            eval_metric="logloss", early_stopping_rounds=base["early_stopping_rounds"], n_jobs=1,
            random_state=seed, **xgb_params(p),
        )
        m.fit(X, y, eval_set=[(V, yv)], verbose=False)
        auc = roc_auc_score(yv, m.predict_proba(V)[:, 1])
        if auc > best["valid"]:
            best.update(valid=auc, model=m)
        return auc

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    t0 = time.time()
    study.optimize(objective, timeout=seconds, n_jobs=2)
    wall = time.time() - t0
    test = roc_auc_score(yt, best["model"].predict_proba(T)[:, 1])
    return {"trials": len(study.trials), "best_valid_auc": best["valid"], "test_auc": test, "seconds": wall}


def run_halving(data, seconds, seed, space, base):
    import numpy as np
    import xgboost as xgb
    from scipy.stats import loguniform, randint, uniform
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import HalvingRandomSearchCV

    (X, y), (V, yv), (T, yt) = data
    dist = {}
    for k, d in space.items():
        name = XGB_NAMES.get(k, k)
        if "float" in d:
            lo, hi = d["float"]
            dist[name] = loguniform(lo, hi) if d.get("log") else uniform(lo, hi - lo)
        elif "int" in d:
            dist[name] = randint(d["int"][0], d["int"][1] + 1)
        else:
            dist[name] = d["choice"]
    est = xgb.XGBClassifier(
        n_estimators=base.get("halving_n_estimators", 200), max_bin=base["max_bin"], tree_method="hist",
        eval_metric="logloss", n_jobs=1, random_state=seed,
    )
    XA, yA = np.vstack([X, V]), np.concatenate([y, yv])
    search = HalvingRandomSearchCV(
        est, dist, n_candidates=base.get("halving_candidates", 48), factor=3, resource="n_samples",
        cv=3, scoring="roc_auc", random_state=seed, n_jobs=2,
    )
    t0 = time.time()
    search.fit(XA, yA)
    wall = time.time() - t0
    test = roc_auc_score(yt, search.best_estimator_.predict_proba(T)[:, 1])
    return {
        "trials": int(sum(search.n_candidates_)), "best_valid_auc": float(search.best_score_),
        "test_auc": test, "seconds": wall,
    }


def main():
    d, mode, seconds, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    space, base = json.loads(sys.argv[5]), json.loads(sys.argv[6])
    meta = json.load(open(os.path.join(d, "meta.json")))
    data = [load(d, meta["cols"], n) for n in ("fit", "valid", "test")]
    out = (run_optuna if mode == "optuna" else run_halving)(data, seconds, seed, space, base)
    print(json.dumps(out))


main()
