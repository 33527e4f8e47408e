import { join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { createAlerter } from '../monitoring/alerts.js';
import { type MonitoringConfig, parseMonitoringConfig } from '../monitoring/config.js';
import { type MonitorResult, runMonitor } from '../monitoring/monitor.js';
import { openPredictionSource } from '../monitoring/records.js';
import { createRetrainAction } from '../monitoring/retrain.js';
import { createMonitoringTracking } from '../monitoring/tracking.js';
import { loadPipelineConfig } from '../pipeline/config.js';
import { createLineReporter } from '../pipeline/reporter.js';
import { openTracking } from '../pipeline/tracking-target.js';
import { parseIntOption } from './data-command.js';

function summary(r: MonitorResult): string {
  const lines = [
    `${r.version.name} v${r.version.version}: ${r.windows.length} window(s) checked, ${r.relabelled} updated with new labels`,
  ];
  for (const w of r.windows) {
    const p = w.report.performance;
    lines.push(
      `  window ${w.index}: ${w.report.n} predictions; ${w.report.drifted_features.length ? `drift in ${w.report.drifted_features.join(', ')}` : 'no drift'}; estimated AUC ${p.estimated ? p.estimated.roc_auc.toFixed(4) : 'n/a'}${p.realised ? `, realised ${p.realised.roc_auc.toFixed(4)} (${p.labelled} labelled)` : ''}; decision ${w.decision}${w.retrain ? ` (retrained: v${w.retrain.version}, gate ${w.retrain.decision})` : ''}`,
    );
    for (const a of w.report.alerts) lines.push(`    ${a.kind}: ${a.message}`);
  }
  for (const w of r.late) {
    lines.push(
      `  window ${w.index} (late labels): realised AUC ${w.realised.roc_auc.toFixed(4)} on ${w.labelled} labelled${w.decision !== 'none' ? `; decision ${w.decision}${w.retrain ? ` (retrained: v${w.retrain.version}, gate ${w.retrain.decision})` : ''}` : ''}`,
    );
    for (const a of w.alerts) lines.push(`    ${a.kind}: ${a.message}`);
  }
  return `${lines.join('\n')}\n`;
}

interface MonitorFlags {
  config?: string;
  model?: string;
  modelVersion?: string;
  predictionLog?: string;
  outcomes?: string;
  trackingUri?: string;
  dataDir?: string;
  windowSize?: number;
  windowMinutes?: number;
  minWindow?: number;
  webhookUrl?: string[];
  retrain?: boolean;
  watch?: boolean;
  interval: number;
  json?: boolean;
}

/** Registers `tassel monitor [check]` (the default subcommand of the monitor group). */
export function register(program: Command): void {
  // a group, so `tassel monitor labels` (monitor-labels-command.ts) has its own options; `check` is the default
  const monitor =
    program.commands.find((c) => c.name() === 'monitor') ??
    program
      .command('monitor')
      .description('monitoring of served models: drift, data quality, performance, alerts, retraining');
  monitor
    .command('check', { isDefault: true })
    .description(
      'check logged predictions of a model version against its training reference: drift, data quality, estimated and realised performance; alert and/or retrain',
    )
    .option(
      '--config <file>',
      'pipeline config whose `monitoring` section (thresholds, actions, fresh data) applies',
    )
    .option('--model <name>', "registered model (default: the config's model_name, else course-completion)")
    .option('--model-version <v>', 'version number or alias to monitor', 'production')
    .option(
      '--prediction-log <uri>',
      'the serving prediction log: a folder, file: or postgresql:// URI as given to tassel serve, or a .jsonl file (default: monitoring.prediction_log, else <data-dir>/predictions)',
    )
    .option(
      '--outcomes <file>',
      'extra outcomes JSONL ({request_id | entity_id, outcome}) besides those POST /feedback and tassel monitor labels attached',
    )
    .option(
      '--tracking-uri <uri>',
      'tracking server (default: TASSEL_TRACKING_URI, MLFLOW_TRACKING_URI, config, else embedded)',
    )
    .option('--data-dir <dir>', 'embedded server folder when no URI is set', './tassel-data')
    .option('--window-size <n>', 'predictions per window', parseIntOption(50, 10_000_000))
    .option('--window-minutes <m>', 'time windows of this many minutes instead', Number)
    .option('--min-window <n>', 'smallest window judged', parseIntOption(1, 10_000_000))
    .option('--webhook-url <url...>', 'POST alerts here (registry webhook format, type monitoring_alert)')
    .option('--retrain', 'add the retrain action (needs --config with monitoring.fresh_data)')
    .option('--watch', 'keep running: check new predictions every --interval seconds (complete windows only); SIGINT/SIGTERM stop it')
    .option('--interval <s>', 'seconds between passes with --watch', parseIntOption(1, 86_400), 60)
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  tassel monitor --prediction-log tassel-data/predictions --model course-completion
  tassel monitor check --model-version 3 --window-size 5000 --json
  tassel monitor --config pipeline.yaml --outcomes labels.jsonl --retrain
  tassel monitor --config pipeline.yaml --watch --interval 300`,
    )
    .action(async (o: MonitorFlags) => {
      const pipeline = o.config ? loadPipelineConfig(o.config) : null;
      const raw: MonitoringConfig = pipeline?.monitoring ?? parseMonitoringConfig({});
      const config: MonitoringConfig = {
        ...raw,
        ...(o.windowSize !== undefined ? { window_size: o.windowSize } : {}),
        ...(o.windowMinutes !== undefined ? { window_minutes: o.windowMinutes } : {}),
        ...(o.minWindow !== undefined ? { min_window: o.minWindow } : {}),
        actions: o.retrain && !raw.actions.includes('retrain') ? [...raw.actions, 'retrain'] : raw.actions,
        webhook_urls: [...raw.webhook_urls, ...(o.webhookUrl ?? [])],
      };
      if (config.window_minutes !== undefined && !(config.window_minutes > 0))
        throw new InputError('--window-minutes must be a positive number');
      const dataDir = pipeline?.tracking.data_dir ?? o.dataDir ?? './tassel-data';
      const log = o.predictionLog ?? config.prediction_log ?? join(dataDir, 'predictions');
      if (config.actions.includes('retrain') && !pipeline?.monitoring?.fresh_data)
        throw new InputError('the retrain action needs --config with monitoring.fresh_data.path');
      const target = await openTracking({
        uri: o.trackingUri,
        configUri: pipeline?.tracking.uri,
        dataDir,
      });
      const alerter = await createAlerter({ webhookUrls: config.webhook_urls });
      const logLine = (line: string) => process.stderr.write(`${line}\n`);
      const opened = await openPredictionSource(log, o.outcomes ?? config.outcomes);
      try {
        const options = {
          model: o.model ?? pipeline?.model_name ?? 'course-completion',
          version: o.modelVersion ?? 'production',
          tracking: createMonitoringTracking({ uri: target.uri }),
          source: opened.source,
          config,
          alerter,
          log: logLine,
          ...(pipeline && config.actions.includes('retrain')
            ? { retrain: createRetrainAction(pipeline, target.tracking, createLineReporter()) }
            : {}),
        };
        if (!o.watch) {
          const r = await runMonitor({ ...options, includePartial: true });
          process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : summary(r));
          return;
        }
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        while (!stop.signal.aborted) {
          try {
            const r = await runMonitor({ ...options, includePartial: false });
            if (r.windows.length || r.relabelled)
              process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : summary(r));
          } catch (e) {
            logLine(`tassel monitor: pass failed: ${(e as Error).message}`);
          }
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, o.interval * 1000);
            stop.signal.addEventListener('abort', () => {
              clearTimeout(t);
              resolve();
            });
          });
        }
      } finally {
        await opened.close();
        await alerter.close();
        await target.close();
      }
    });
}
