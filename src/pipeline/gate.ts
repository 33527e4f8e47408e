/**
 * The quality gate: decides whether a challenger may take the `production` alias. Pure: the caller
 * re-scores the current production version on the same test set and passes both metric sets.
 */

/** The thresholds of the gate (see PipelineConfig.gate). */
export interface GateConfig {
  min_delta: number;
  /** A challenger must beat production by more than min_delta (a tie is rejected). Default false. */
  strictly_better?: boolean;
  min_roc_auc: number;
  max_log_loss: number;
  max_ece: number;
}

/** The test metrics the gate reads. */
export interface GateMetrics {
  roc_auc: number;
  log_loss: number;
  ece: number;
}

export interface GateInput {
  challenger: GateMetrics;
  /** The production version's metrics on the same test set, or null when nothing is in production. */
  production: (GateMetrics & { version: string }) | null;
  config: GateConfig;
  /** false = --no-promote: evaluate, but never move the alias. */
  promote: boolean;
  /** --force-promote: move the alias even if the gate fails (recorded as such). */
  force?: { reason: string } | null;
}

export type GateDecision = 'promote' | 'reject' | 'hold' | 'force-promote';

export interface GateResult {
  /** Whether the challenger passed every check. */
  passed: boolean;
  /** promote: passed and will move; reject: failed; hold: passed or not, but --no-promote; force-promote: failed or not, forced. */
  decision: GateDecision;
  /** Whether the caller should move `production`. */
  movesProduction: boolean;
  /** One line per check, each saying what was compared and how it went. */
  reasons: string[];
}

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** Apply the floors and the comparison with production; every check adds a reason, pass or fail. */
export function decideGate(input: GateInput): GateResult {
  const { challenger: c, production: p, config } = input;
  const reasons: string[] = [];
  let passed = true;
  const check = (ok: boolean, text: string) => {
    reasons.push(`${ok ? 'ok' : 'FAIL'}: ${text}`);
    if (!ok) passed = false;
  };
  const finite = Number.isFinite(c.roc_auc) && Number.isFinite(c.log_loss) && Number.isFinite(c.ece);
  check(
    finite,
    finite ? 'test metrics are finite' : 'test metrics are not finite (NaN or infinite predictions)',
  );
  check(c.roc_auc >= config.min_roc_auc, `test roc_auc ${f4(c.roc_auc)} >= floor ${f4(config.min_roc_auc)}`);
  check(
    c.log_loss <= config.max_log_loss,
    `test log_loss ${f4(c.log_loss)} <= ceiling ${f4(config.max_log_loss)}`,
  );
  check(c.ece <= config.max_ece, `test ece ${f4(c.ece)} <= ceiling ${f4(config.max_ece)}`);
  if (p === null) {
    reasons.push('ok: no production version yet; the first model passing the floors is promoted');
  } else {
    const delta = c.roc_auc - p.roc_auc;
    const head = `test roc_auc ${f4(c.roc_auc)} vs production v${p.version} ${f4(p.roc_auc)}: delta ${delta >= 0 ? '+' : ''}${f4(delta)}`;
    if (config.strictly_better) {
      // strictly better: floating-point noise around a tie must not count as a gain either
      const ok = delta > config.min_delta + 1e-12;
      check(ok, `${head} ${ok ? '>' : '<='} min_delta ${f4(config.min_delta)} (gate.strictly_better: a tie is rejected)`);
    } else {
      // A tiny epsilon keeps min_delta 0 from rejecting a retrain that reproduces production exactly
      // only because of floating-point noise; an identical model passes (delta 0 >= 0).
      const ok = delta >= config.min_delta - 1e-12;
      check(ok, `${head} ${ok ? '>=' : '<'} min_delta ${f4(config.min_delta)}`);
    }
  }
  if (input.force) {
    reasons.push(
      `forced: --force-promote (${input.force.reason})${passed ? '' : ' overrides the failed checks'}`,
    );
    return { passed, decision: 'force-promote', movesProduction: true, reasons };
  }
  if (!input.promote) {
    reasons.push('hold: --no-promote (promote: false) leaves production where it is');
    return { passed, decision: 'hold', movesProduction: false, reasons };
  }
  return { passed, decision: passed ? 'promote' : 'reject', movesProduction: passed, reasons };
}
