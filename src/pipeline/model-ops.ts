import { InputError } from '../errors.js';
import type { AliasChange, PipelineTracking, VersionInfo } from './tracking-port.js';

/** The alias serving follows. */
export const PRODUCTION_ALIAS = 'production';
/** The alias of the newest registered candidate. */
export const CHALLENGER_ALIAS = 'challenger';

/** One line of `tassel models list`. */
export interface ModelListing {
  name: string;
  aliases: Record<string, string>;
  versions: Array<VersionInfo & { aliases: string[] }>;
}

/** Registry operations of the pipeline and of `tassel models list|promote|rollback`. */
export interface ModelOps {
  /** Create the registered model if needed, add a version from `source` and point `challenger` at it. */
  register(input: {
    name: string;
    runId: string;
    source: string;
    tags: Record<string, string>;
    description?: string;
  }): Promise<VersionInfo>;
  /** Move `production` to version (it must exist); returns the version that held it before. */
  promote(name: string, version: string, options?: { reason?: string }): Promise<{ previous: string | null }>;
  /**
   * Move `production` back to the version that held it before its current holder, read from the alias
   * audit trail. Throws InputError when there is no earlier version.
   */
  rollback(name: string, options?: { reason?: string }): Promise<{ from: string; to: string }>;
  list(name?: string): Promise<ModelListing[]>;
}

/**
 * The version `production` should return to: walking the audit trail back from the newest change, the
 * `from` version of the latest change that moved production onto its current holder (skipping changes
 * that re-pointed the same version, and versions that were later deleted).
 */
export function previousHolder(
  history: AliasChange[],
  current: string,
  exists: (v: string) => boolean,
): string | null {
  const sorted = [...history].sort((a, b) => a.timestamp - b.timestamp || (a.id ?? 0) - (b.id ?? 0));
  for (let i = sorted.length - 1; i >= 0; i--) {
    const h = sorted[i]!;
    if (
      h.toVersion === current &&
      h.fromVersion !== null &&
      h.fromVersion !== current &&
      exists(h.fromVersion)
    )
      return h.fromVersion;
  }
  return null;
}

export function createModelOps(tracking: PipelineTracking): ModelOps {
  return {
    async register(input) {
      await tracking.ensureRegisteredModel(input.name);
      const v = await tracking.createModelVersion(
        input.name,
        input.source,
        input.runId,
        input.tags,
        input.description,
      );
      await tracking.setAlias(input.name, CHALLENGER_ALIAS, v.version, `registered by run ${input.runId}`);
      return v;
    },

    async promote(name, version, options = {}) {
      await tracking.getVersion(name, version).catch((e: unknown) => {
        throw new InputError(`${name} version ${version} does not exist (${(e as Error).message})`);
      });
      const current = await tracking.getVersionByAlias(name, PRODUCTION_ALIAS);
      await tracking.setAlias(name, PRODUCTION_ALIAS, version, options.reason ?? 'manual promote');
      await tracking.setVersionTag(name, version, 'tassel.promoted_from', current?.version ?? 'none');
      return { previous: current?.version ?? null };
    },

    async rollback(name, options = {}) {
      const current = await tracking.getVersionByAlias(name, PRODUCTION_ALIAS);
      if (!current) throw new InputError(`${name} has no ${PRODUCTION_ALIAS} version to roll back`);
      const history = await tracking.aliasHistory(name, PRODUCTION_ALIAS);
      const versions = new Set((await tracking.listVersions(name)).map((v) => v.version));
      const to = previousHolder(history, current.version, (v) => versions.has(v));
      if (to === null)
        throw new InputError(
          `${name}: no earlier ${PRODUCTION_ALIAS} version in the alias history (v${current.version} is the first); nothing to roll back to`,
        );
      await tracking.setAlias(
        name,
        PRODUCTION_ALIAS,
        to,
        options.reason ?? `rollback from v${current.version}`,
      );
      await tracking.setVersionTag(name, to, 'tassel.rolled_back_from', current.version);
      return { from: current.version, to };
    },

    async list(name) {
      const names = name ? [name] : await tracking.listModels();
      const out: ModelListing[] = [];
      for (const n of names) {
        const aliases = await tracking.getAliases(n);
        const byVersion = new Map<string, string[]>();
        for (const [a, v] of Object.entries(aliases)) byVersion.set(v, [...(byVersion.get(v) ?? []), a]);
        const versions = (await tracking.listVersions(n)).map((v) => ({
          ...v,
          aliases: byVersion.get(v.version) ?? [],
        }));
        out.push({ name: n, aliases, versions });
      }
      return out;
    },
  };
}
