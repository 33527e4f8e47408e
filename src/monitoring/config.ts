import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { InputError } from '../errors.js';
import { DEFAULT_THRESHOLDS, type DriftThresholds } from './drift.js';

/**
 * The `monitoring` section of the pipeline config (one TypeBox schema: validation, type and documentation).
 * Every field has a default, so `monitoring: {}` monitors with the documented defaults and only alerts.
 */

const D = DEFAULT_THRESHOLDS;

export const MonitoringThresholdsSchema = Type.Object(
  {
    alpha: Type.Number({
      description: 'False-alarm rate of the drift tests per window, after the multiple-testing correction.',
      default: D.alpha,
      exclusiveMinimum: 0,
      maximum: 0.5,
    }),
    correction: Type.Union([Type.Literal('holm'), Type.Literal('bh'), Type.Literal('none')], {
      description:
        'Correction across the features of a window: holm (family-wise), bh (false discovery rate), none.',
      default: D.correction,
    }),
    min_wasserstein: Type.Number({
      description: 'A drifted numeric feature must also move this far: Wasserstein distance / reference std.',
      default: D.min_wasserstein,
      minimum: 0,
    }),
    min_js: Type.Number({
      description: 'A drifted categorical feature must also move this far: Jensen-Shannon distance (base 2).',
      default: D.min_js,
      minimum: 0,
      maximum: 1,
    }),
    max_missing_increase: Type.Number({
      description: "Alert when a feature's missing rate exceeds the training rate by more than this share.",
      default: D.max_missing_increase,
      minimum: 0,
      maximum: 1,
    }),
    max_out_of_range: Type.Number({
      description:
        'Alert when more than this share of a numeric feature lies outside the training [min, max].',
      default: D.max_out_of_range,
      minimum: 0,
      maximum: 1,
    }),
    max_unseen: Type.Number({
      description:
        'Alert when more than this share of a categorical feature are categories never seen in training.',
      default: D.max_unseen,
      minimum: 0,
      maximum: 1,
    }),
    max_refused: Type.Number({
      description: "Alert when more than this share of requests (or of a feature's values) fail validation.",
      default: D.max_refused,
      minimum: 0,
      maximum: 1,
    }),
    max_auc_drop: Type.Number({
      description:
        "Alert when the estimated (CBPE) or realised ROC AUC falls this far below the version's test AUC.",
      default: D.max_auc_drop,
      minimum: 0,
      maximum: 1,
    }),
    psi_bins: Type.Integer({
      description: 'Equal-probability bins (reference quantiles) of the numeric PSI.',
      default: D.psi_bins,
      minimum: 2,
      maximum: 100,
    }),
  },
  { additionalProperties: false, default: {} },
);

export const MonitoringConfigSchema = Type.Object(
  {
    window_size: Type.Integer({
      description: 'Predictions per window (count windows).',
      default: 2000,
      minimum: 50,
      maximum: 10_000_000,
    }),
    window_minutes: Type.Optional(
      Type.Number({
        description: 'Time windows of this many minutes instead of count windows.',
        exclusiveMinimum: 0,
      }),
    ),
    min_window: Type.Integer({
      description: 'A window (e.g. the last, partial one) with fewer predictions than this is not judged.',
      default: 500,
      minimum: 1,
    }),
    cooldown_minutes: Type.Number({
      description:
        'After an action (alert or retrain), no new action for this long (windows are still checked and logged).',
      default: 60,
      minimum: 0,
    }),
    thresholds: MonitoringThresholdsSchema,
    ignore: Type.Array(Type.String(), { description: 'Features not monitored.', default: [] }),
    entity_field: Type.Optional(
      Type.String({
        description: 'Input field outcomes may be attached by (e.g. Student_ID), besides the request id.',
      }),
    ),
    actions: Type.Array(Type.Union([Type.Literal('alert'), Type.Literal('retrain')]), {
      description:
        'What a window that breaks a threshold triggers: alert (webhooks + a log line) and/or retrain (run this pipeline on fresh_data; the gate decides promotion; serving swaps by itself).',
      default: ['alert'],
    }),
    retrain_on: Type.Array(
      Type.Union([Type.Literal('drift'), Type.Literal('data_quality'), Type.Literal('performance')]),
      {
        description: 'Alert kinds that trigger the retrain action (alerts of every kind are sent).',
        default: ['drift', 'performance'],
      },
    ),
    fresh_data: Type.Optional(
      Type.Object(
        {
          path: Type.String({
            description: 'Training CSV for the retrain action (relative to the config file).',
          }),
          test_data: Type.Optional(
            Type.String({
              description:
                'Recent labelled data: the held-out set the challenger is gated against production on (relative to the config file).',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    webhook_urls: Type.Array(Type.String(), {
      description:
        "URLs alerts are POSTed to (the registry webhooks' format, type monitoring_alert); also --webhook-url.",
      default: [],
    }),
    prediction_log: Type.Optional(
      Type.String({
        description: 'The serving prediction log (file or folder of segments) to read; also --log.',
      }),
    ),
    outcomes: Type.Optional(
      Type.String({
        description: 'Outcome records (JSONL: request_id or entity_id, outcome); also --outcomes.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Model monitoring: windows, thresholds, actions (tassel monitor).',
  },
);

export type MonitoringConfig = Static<typeof MonitoringConfigSchema>;

/** Validates a monitoring section (or `{}`), filling defaults. */
export function parseMonitoringConfig(raw: unknown = {}): MonitoringConfig {
  const value = Value.Default(MonitoringConfigSchema, structuredClone(raw ?? {}));
  const first = Value.Errors(MonitoringConfigSchema, value).First();
  if (first) throw new InputError(`monitoring config: ${first.path || '(root)'}: ${first.message}`);
  const cfg = value as MonitoringConfig;
  if (cfg.actions.includes('retrain') && !cfg.fresh_data)
    throw new InputError('monitoring config: the retrain action needs fresh_data.path');
  return cfg;
}

/** The drift thresholds of a config. */
export const thresholdsOf = (cfg: MonitoringConfig): DriftThresholds => ({
  ...DEFAULT_THRESHOLDS,
  ...cfg.thresholds,
});
