import { InputError } from '../errors.js';
import type { PredictionColumns } from '../serving/prediction-sink/port.js';
import type { Alerter } from './alerts.js';
import { type MonitoringConfig, thresholdsOf } from './config.js';
import { type Alert, evaluateWindow, type WindowReport } from './drift.js';
import { realisedPerformance } from './performance.js';
import { type PredictionRecord, type PredictionSource, timeOf } from './records.js';
import { type PreparedReference, prepareReference } from './reference.js';
import type { MonitoredVersion, MonitoringTracking, WindowRun } from './tracking.js';
import {
  type BuildWindowOptions,
  indexOutcomes,
  type OutcomeIndex,
  readWindowColumns,
  selectRows,
  windowFromColumns,
} from './window.js';

/**
 * `tassel monitor` as a library function. One pass: resolve the model version (default: production), read the
 * reference profile its pipeline run logged, read the predictions logged since the last checked window, cut them
 * into windows, check each against the reference, log it as a run of experiment `monitoring/<model>` (metrics per
 * feature with step = window index, tags with the version and the decision, the report as an artifact), and act
 * on the policy: alert and/or retrain, at most once per cool-down. Windows checked earlier get their realised
 * performance updated as labels arrive. Every decision is recorded on the window's run.
 */

/** What the retrain action returns (the pipeline's outcome). */
export interface RetrainOutcome {
  runId: string;
  version: string;
  decision: string;
  promoted: boolean;
  productionVersion: string | null;
}

export interface MonitorOptions {
  model: string;
  /** Version number or alias; default production. */
  version?: string;
  tracking: MonitoringTracking;
  source: PredictionSource;
  config: MonitoringConfig;
  /** Judge the last, incomplete window when it holds at least min_window predictions (one-shot runs). */
  includePartial?: boolean;
  /** The retrain action (runs the pipeline on the configured fresh data); required when actions include retrain. */
  retrain?: (reason: string) => Promise<RetrainOutcome>;
  alerter?: Alerter;
  log?: (line: string) => void;
  now?: () => number;
}

export type Decision = 'none' | 'alert' | 'retrain' | 'alert+retrain' | 'cooldown';

export interface WindowOutcome {
  index: number;
  runId: string;
  version: string;
  start: number;
  end: number;
  report: WindowReport;
  decision: Decision;
  retrain: RetrainOutcome | null;
}

export interface MonitorResult {
  version: MonitoredVersion;
  experimentId: string;
  windows: WindowOutcome[];
  /** Earlier windows whose realised performance was updated with newly arrived labels. */
  relabelled: number;
  /** Those windows: their new realised performance and what the policy did about it. */
  late: RelabelledWindow[];
}

/** The tags of a window run (read back by the monitor itself and by the serving service's gauges). */
export const MONITORING_TAGS = {
  model: 'tassel.monitoring.model',
  version: 'tassel.monitoring.model_version',
  index: 'tassel.monitoring.window_index',
  start: 'tassel.monitoring.window_start',
  end: 'tassel.monitoring.window_end',
  size: 'tassel.monitoring.window_size',
  labelled: 'tassel.monitoring.labelled',
  decision: 'tassel.monitoring.decision',
  actionAt: 'tassel.monitoring.action_at',
  alerts: 'tassel.monitoring.alerts',
  drifted: 'tassel.monitoring.drifted_features',
  /** When the newest outcome the window's realised metrics saw was recorded. */
  labelsThrough: 'tassel.monitoring.labels_through',
  /** Labelled count, positives and realised AUC / log loss of the last realised metrics logged. */
  labelsDigest: 'tassel.monitoring.labels_digest',
  /** The policy's answer to a drop that late labels revealed (set once per window). */
  lateDecision: 'tassel.monitoring.late.decision',
  lateAlerts: 'tassel.monitoring.late.alerts',
} as const;
const T = MONITORING_TAGS;

/** The experiment windows of `model` are logged to. */
export const monitoringExperimentName = (model: string) => `monitoring/${model}`;

const iso = (ms: number) => new Date(ms).toISOString();
const finite = (key: string, value: number | undefined | null, step: number) =>
  value !== undefined && value !== null && Number.isFinite(value) ? [{ key, value, step }] : [];

/** The metrics of a window report (step = window index). */
export function reportMetrics(
  report: WindowReport,
  step: number,
): Array<{ key: string; value: number; step: number }> {
  const out: Array<{ key: string; value: number; step: number }> = [];
  for (const f of report.prediction ? [...report.features, report.prediction] : report.features) {
    const k = `drift.${f.feature}`;
    out.push(
      ...finite(`${k}.statistic`, f.statistic, step),
      ...finite(`${k}.pvalue`, f.pvalue, step),
      ...finite(`${k}.pvalue_adjusted`, f.pvalue_adjusted, step),
      ...finite(`${k}.psi`, f.psi, step),
      ...finite(`${k}.wasserstein_norm`, f.wasserstein_norm, step),
      ...finite(`${k}.js_distance`, f.js_distance, step),
      ...finite(`${k}.drifted`, f.drifted ? 1 : 0, step),
    );
    if (f.feature !== 'prediction')
      out.push(
        ...finite(`quality.${f.feature}.missing_rate`, f.missing_rate, step),
        ...finite(`quality.${f.feature}.out_of_range_share`, f.out_of_range_share, step),
        ...finite(`quality.${f.feature}.unseen_share`, f.unseen_share, step),
      );
  }
  const p = report.performance;
  out.push(
    ...finite('window_size', report.n, step),
    ...finite('drifted_features', report.drifted_features.length, step),
    ...finite('alerts', report.alerts.length, step),
    ...finite('quality.refused_share', report.quality.refused_share, step),
    ...finite('reference_roc_auc', p.reference_auc, step),
    ...finite('estimated_roc_auc', p.estimated?.roc_auc, step),
    ...finite('estimated_accuracy', p.estimated?.accuracy, step),
    ...finite('labelled', p.labelled, step),
    ...realisedMetrics(p.realised, step),
  );
  return out;
}

function realisedMetrics(r: WindowReport['performance']['realised'], step: number) {
  if (!r) return [];
  return [
    ...finite('realised_roc_auc', r.roc_auc, step),
    ...finite('realised_log_loss', r.log_loss, step),
    ...finite('realised_brier', r.brier, step),
    ...finite('realised_ece', r.ece, step),
    ...finite('realised_accuracy', r.accuracy, step),
  ];
}

/** Cuts rows (oldest first, by their times) into windows [from, to) by count or by time; the last may be incomplete. */
export function cutWindowRanges(
  times: ArrayLike<number>,
  config: Pick<MonitoringConfig, 'window_size' | 'window_minutes'>,
  now: number,
): Array<{ from: number; to: number; complete: boolean }> {
  const out: Array<{ from: number; to: number; complete: boolean }> = [];
  const n = times.length;
  if (config.window_minutes !== undefined) {
    const width = config.window_minutes * 60_000;
    let from = 0;
    let bucket = Number.NaN;
    for (let i = 0; i < n; i++) {
      const b = Math.floor(times[i]! / width);
      if (b !== bucket && i > from) {
        out.push({ from, to: i, complete: true });
        from = i;
      }
      bucket = b;
    }
    if (n > from) out.push({ from, to: n, complete: (bucket + 1) * width <= now });
    return out;
  }
  for (let i = 0; i < n; i += config.window_size) {
    const to = Math.min(n, i + config.window_size);
    out.push({ from: i, to, complete: to - i === config.window_size });
  }
  return out;
}

/** Cuts records (oldest first) into windows by count or by time; the last one may be incomplete. */
export function cutWindows(
  records: readonly PredictionRecord[],
  config: Pick<MonitoringConfig, 'window_size' | 'window_minutes'>,
  now: number,
): Array<{ records: PredictionRecord[]; complete: boolean }> {
  return cutWindowRanges(
    records.map((r) => timeOf(r.time)),
    config,
    now,
  ).map((w) => ({ records: records.slice(w.from, w.to), complete: w.complete }));
}

interface History {
  lastIndex: number;
  lastEnd: number;
  lastActionAt: number;
  runs: WindowRun[];
}

function readHistory(runs: WindowRun[], version: string): History {
  let lastIndex = -1;
  let lastEnd = Number.NEGATIVE_INFINITY;
  let lastActionAt = Number.NEGATIVE_INFINITY;
  for (const r of runs) {
    lastIndex = Math.max(lastIndex, Number(r.tags[T.index] ?? -1));
    if (r.tags[T.actionAt]) lastActionAt = Math.max(lastActionAt, Date.parse(r.tags[T.actionAt]!));
    if (r.tags[T.version] === version && r.tags[T.end])
      lastEnd = Math.max(lastEnd, Date.parse(r.tags[T.end]!));
  }
  return { lastIndex, lastEnd, lastActionAt, runs };
}

/** The logged predictions of a version served in [since, until), as the reference's columns. */
function readColumns(
  options: MonitorOptions,
  ref: PreparedReference,
  version: string,
  windowOptions: BuildWindowOptions,
  since?: number,
  until?: number,
): Promise<PredictionColumns> {
  return readWindowColumns(options.source, ref, {
    ...windowOptions,
    query: {
      model_name: options.model,
      model_version: version,
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    },
  });
}

/** Runs one monitoring pass (see the module comment). */
export async function runMonitor(options: MonitorOptions): Promise<MonitorResult> {
  const { model, tracking, source, config } = options;
  const log = options.log ?? (() => {});
  const now = options.now ?? Date.now;
  const thresholds = thresholdsOf(config);
  const version = await tracking.resolveVersion(model, options.version ?? 'production');
  if (!version) throw new InputError(`${model} has no ${options.version ?? 'production'} version to monitor`);
  if (config.actions.includes('retrain') && !options.retrain)
    throw new InputError('the retrain action needs the pipeline config (fresh_data) to retrain with');
  const ref: PreparedReference = prepareReference(await tracking.readProfile(version), {
    ignore: config.ignore,
    psiBins: thresholds.psi_bins,
  });
  const experimentId = await tracking.getOrCreateExperiment(monitoringExperimentName(model));
  const history = readHistory(await tracking.windowRuns(experimentId, model, 1000), version.version);
  const outcomes = await indexOutcomes(source.outcomes(), config.entity_field);
  const windowOptions = { outcomes, ...(config.entity_field ? { entityField: config.entity_field } : {}) };

  const actedAt = { at: history.lastActionAt };
  const late = await updateRealised(options, ref, history, version.version, windowOptions, actedAt);

  const since = Number.isFinite(history.lastEnd) ? history.lastEnd + 1 : undefined;
  const cols = await readColumns(options, ref, version.version, windowOptions, since);
  const windows: WindowOutcome[] = [];
  let index = history.lastIndex;
  let lastActionAt = actedAt.at;
  for (const w of cutWindowRanges(cols.time, config, now())) {
    const size = w.to - w.from;
    if (!w.complete && !(options.includePartial && size >= config.min_window)) continue;
    if (size < config.min_window) continue;
    index++;
    // the bounds of its served times (segments of several processes interleave a little)
    let start = cols.time[w.from]!;
    let end = start;
    for (let i = w.from + 1; i < w.to; i++) {
      start = Math.min(start, cols.time[i]!);
      end = Math.max(end, cols.time[i]!);
    }
    const win = windowFromColumns(ref, cols, w.from, w.to, windowOptions);
    const report = evaluateWindow(ref, win, thresholds);
    const runId = await tracking.createRun(experimentId, `window-${index}`, {
      [T.model]: model,
      [T.version]: version.version,
      [T.index]: String(index),
      [T.start]: iso(start),
      [T.end]: iso(end),
      [T.size]: String(report.n),
      [T.labelled]: String(report.performance.labelled),
      ...(Number.isFinite(outcomes.latest) ? { [T.labelsThrough]: iso(outcomes.latest) } : {}),
      ...(report.performance.realised
        ? { [T.labelsDigest]: labelsDigest(win.outcomes, report.performance.realised) }
        : {}),
      'mlflow.source.name': 'tassel monitor',
      'mlflow.source.type': 'JOB',
    });
    await tracking.logBatch(runId, { metrics: reportMetrics(report, index) });
    const outcome = await decide(
      options,
      { index, runId, version: version.version, start, end, report },
      lastActionAt,
      now(),
    );
    if (outcome.decision !== 'none' && outcome.decision !== 'cooldown') lastActionAt = now();
    await tracking.logText(
      runId,
      'monitoring_report.json',
      `${JSON.stringify({ model, version: version.version, window_index: index, start: iso(start), end: iso(end), decision: outcome.decision, retrain: outcome.retrain, ...report })}\n`,
    );
    await tracking.endRun(runId, 'FINISHED');
    log(
      `window ${index} (${report.n} predictions of ${model} v${version.version}, ${iso(start)} .. ${iso(end)}): ${report.drifted_features.length ? `drift in ${report.drifted_features.join(', ')}` : 'no drift'}; estimated AUC ${report.performance.estimated?.roc_auc.toFixed(4) ?? 'n/a'}${report.performance.realised ? `, realised ${report.performance.realised.roc_auc.toFixed(4)} on ${report.performance.labelled}` : ''}; ${report.alerts.length} alert(s); decision ${outcome.decision}`,
    );
    windows.push(outcome);
  }
  return { version, experimentId, windows, relabelled: late.length, late };
}

/** Applies the policy to a checked window and records the decision on its run. */
async function decide(
  options: MonitorOptions,
  w: Omit<WindowOutcome, 'decision' | 'retrain'>,
  lastActionAt: number,
  now: number,
): Promise<WindowOutcome> {
  const { config, tracking } = options;
  const alerts = w.report.alerts;
  const tags: Record<string, string> = {
    [T.alerts]:
      alerts
        .map((a) => a.message)
        .join('\n')
        .slice(0, 4900) || 'none',
    [T.drifted]: w.report.drifted_features.join(',') || 'none',
  };
  if (alerts.length === 0) {
    await tracking.logBatch(w.runId, { tags: { ...tags, [T.decision]: 'none' } });
    return { ...w, decision: 'none', retrain: null };
  }
  if (now - lastActionAt < config.cooldown_minutes * 60_000) {
    tags[T.decision] = 'cooldown';
    tags['tassel.monitoring.cooldown_until'] = iso(lastActionAt + config.cooldown_minutes * 60_000);
    await tracking.logBatch(w.runId, { tags });
    return { ...w, decision: 'cooldown', retrain: null };
  }
  const doAlert = config.actions.includes('alert');
  const retrainAlerts: Alert[] = alerts.filter((a) => config.retrain_on.includes(a.kind));
  const doRetrain =
    config.actions.includes('retrain') && retrainAlerts.length > 0 && options.retrain !== undefined;
  let retrain: RetrainOutcome | null = null;
  if (doRetrain) {
    const reason = `monitoring window ${w.index} of ${options.model} v${w.version}: ${retrainAlerts.map((a) => a.message).join('; ')}`;
    retrain = await options.retrain!(reason);
    Object.assign(tags, {
      'tassel.monitoring.retrain.run_id': retrain.runId,
      'tassel.monitoring.retrain.version': retrain.version,
      'tassel.monitoring.retrain.gate': retrain.decision,
      'tassel.monitoring.retrain.promoted': String(retrain.promoted),
    });
  }
  const decision: Decision =
    doAlert && doRetrain ? 'alert+retrain' : doRetrain ? 'retrain' : doAlert ? 'alert' : 'none';
  tags[T.decision] = decision;
  if (decision !== 'none') tags[T.actionAt] = iso(now);
  await tracking.logBatch(w.runId, { tags });
  if (doAlert && options.alerter)
    await options.alerter.send({
      model: options.model,
      version: w.version,
      details: {
        window_index: w.index,
        window_start: iso(w.start),
        window_end: iso(w.end),
        run_id: w.runId,
        decision,
        alerts,
        drifted_features: w.report.drifted_features,
        ...(retrain ? { retrain } : {}),
      },
    });
  return { ...w, decision, retrain };
}

/** What identifies a window's labels: how many, how many positive, and the realised AUC and log loss. */
function labelsDigest(
  outcomes: Float64Array,
  realised: NonNullable<WindowReport['performance']['realised']>,
): string {
  let labelled = 0;
  let positives = 0;
  for (const y of outcomes)
    if (!Number.isNaN(y)) {
      labelled++;
      positives += y;
    }
  return `${labelled}:${positives}:${realised.roc_auc}:${realised.log_loss}`;
}

/** What a late-labels pass did to one earlier window. */
export interface RelabelledWindow {
  index: number;
  runId: string;
  labelled: number;
  realised: NonNullable<WindowReport['performance']['realised']>;
  /** The policy's answer to a realised-performance drop the new labels revealed (none when there is none). */
  decision: Decision;
  alerts: Alert[];
  retrain: RetrainOutcome | null;
}

/** Windows re-examined per pass when labels arrive (the newest first). */
const RELABEL_WINDOWS = 50;

/**
 * Late labels. Outcomes recorded after a window was checked (by the recording time of the newest outcome the
 * window has seen, tag `labels_through`) attach to it on the next pass: its labelled predictions are joined
 * again (the latest outcome per request / entity id wins, so a duplicate changes nothing and a correction
 * replaces the earlier label), and when the labelled count or the labels changed, its realised metrics are
 * logged again at the window's step and its tags updated. A realised ROC AUC drop revealed this way is acted on
 * like one found when the window was checked (alert and/or retrain on `performance`, under the cool-down), once
 * per window, and recorded on the window's run (`tassel.monitoring.late.*`). One read covers every window.
 */
async function updateRealised(
  options: MonitorOptions,
  ref: PreparedReference,
  history: History,
  version: string,
  windowOptions: { outcomes: OutcomeIndex; entityField?: string },
  lastActionAt: { at: number },
): Promise<RelabelledWindow[]> {
  const { outcomes } = windowOptions;
  if (outcomes.byRequest.size === 0 && outcomes.byEntity.size === 0) return [];
  const stale = history.runs
    .filter((r) => {
      if (r.tags[T.version] !== version || !r.tags[T.start] || !r.tags[T.end]) return false;
      const through = r.tags[T.labelsThrough];
      return through !== undefined
        ? outcomes.latest > Date.parse(through)
        : Number(r.tags[T.labelled] ?? 0) < Number(r.tags[T.size] ?? 0);
    })
    .slice(0, RELABEL_WINDOWS);
  if (stale.length === 0) return [];
  const bounds = stale.map((r) => ({
    run: r,
    start: Date.parse(r.tags[T.start]!),
    end: Date.parse(r.tags[T.end]!),
  }));
  const all = await readColumns(
    options,
    ref,
    version,
    windowOptions,
    Math.min(...bounds.map((b) => b.start)),
    Math.max(...bounds.map((b) => b.end)) + 1,
  );
  const thresholds = thresholdsOf(options.config);
  const out: RelabelledWindow[] = [];
  for (const { run, start, end } of bounds) {
    const rows: number[] = [];
    for (let i = 0; i < all.n; i++) if (all.time[i]! >= start && all.time[i]! <= end) rows.push(i);
    const w = windowFromColumns(ref, selectRows(all, rows), 0, rows.length, windowOptions);
    const y: number[] = [];
    const p: number[] = [];
    for (let i = 0; i < w.outcomes.length; i++)
      if (!Number.isNaN(w.outcomes[i]!)) {
        y.push(w.outcomes[i]!);
        p.push(w.scores[i]!);
      }
    // outcomes without a recording time (an --outcomes file) leave the tag out: such windows are re-examined
    // while not every prediction is labelled, as before the tag existed
    const through: Record<string, string> = Number.isFinite(outcomes.latest)
      ? { [T.labelsThrough]: iso(outcomes.latest) }
      : {};
    const realised = y.length > 0 ? realisedPerformance(y, p, ref.threshold ?? 0.5) : null;
    const digest = realised ? labelsDigest(w.outcomes, realised) : '0';
    if (!realised || digest === run.tags[T.labelsDigest]) {
      if (Object.keys(through).length > 0) await options.tracking.logBatch(run.runId, { tags: through });
      continue;
    }
    const step = Number(run.tags[T.index]);
    await options.tracking.logBatch(run.runId, {
      metrics: [...realisedMetrics(realised, step), { key: 'labelled', value: y.length, step }],
      tags: { ...through, [T.labelled]: String(y.length), [T.labelsDigest]: digest },
    });
    const relabelled: RelabelledWindow = {
      index: step,
      runId: run.runId,
      labelled: y.length,
      realised,
      decision: 'none',
      alerts: [],
      retrain: null,
    };
    const drop = ref.referenceAuc !== null ? ref.referenceAuc - realised.roc_auc : Number.NaN;
    if (drop > thresholds.max_auc_drop && !run.tags[T.lateDecision]) {
      relabelled.alerts = [
        {
          kind: 'performance',
          subject: 'prediction',
          statistic: 'realised_roc_auc',
          value: realised.roc_auc,
          threshold: ref.referenceAuc! - thresholds.max_auc_drop,
          message: `realised ROC AUC ${realised.roc_auc.toFixed(4)} on ${y.length} labelled predictions (labels that arrived after the window was checked) is ${drop.toFixed(4)} below the test AUC ${ref.referenceAuc!.toFixed(4)}`,
        },
      ];
      await actOnLate(options, relabelled, { start, end, version }, lastActionAt);
    }
    options.log?.(
      `window ${step}: realised ROC AUC ${realised.roc_auc.toFixed(4)} on ${y.length} labels (updated with late labels)${relabelled.decision !== 'none' ? `; decision ${relabelled.decision}` : ''}`,
    );
    out.push(relabelled);
  }
  return out;
}

/** The policy's answer to a realised drop that late labels revealed, recorded as `tassel.monitoring.late.*`. */
async function actOnLate(
  options: MonitorOptions,
  w: RelabelledWindow,
  window: { start: number; end: number; version: string },
  lastActionAt: { at: number },
): Promise<void> {
  const { config, tracking } = options;
  const now = (options.now ?? Date.now)();
  const tags: Record<string, string> = { [T.lateAlerts]: w.alerts.map((a) => a.message).join('\n') };
  if (now - lastActionAt.at < config.cooldown_minutes * 60_000) {
    w.decision = 'cooldown';
  } else {
    const doAlert = config.actions.includes('alert');
    const doRetrain =
      config.actions.includes('retrain') &&
      config.retrain_on.includes('performance') &&
      options.retrain !== undefined;
    if (doRetrain) {
      w.retrain = await options.retrain!(
        `late labels on monitoring window ${w.index} of ${options.model} v${window.version}: ${w.alerts[0]!.message}`,
      );
      Object.assign(tags, {
        'tassel.monitoring.late.retrain.run_id': w.retrain.runId,
        'tassel.monitoring.late.retrain.version': w.retrain.version,
        'tassel.monitoring.late.retrain.gate': w.retrain.decision,
        'tassel.monitoring.late.retrain.promoted': String(w.retrain.promoted),
      });
    }
    w.decision = doAlert && doRetrain ? 'alert+retrain' : doRetrain ? 'retrain' : doAlert ? 'alert' : 'none';
    if (w.decision !== 'none') {
      lastActionAt.at = now;
      tags[T.actionAt] = iso(now);
    }
    if (doAlert && options.alerter)
      await options.alerter.send({
        model: options.model,
        version: window.version,
        details: {
          window_index: w.index,
          window_start: iso(window.start),
          window_end: iso(window.end),
          run_id: w.runId,
          decision: w.decision,
          late_labels: true,
          alerts: w.alerts,
          ...(w.retrain ? { retrain: w.retrain } : {}),
        },
      });
  }
  tags[T.lateDecision] = w.decision;
  await tracking.logBatch(w.runId, { tags });
}
