#!/usr/bin/env node
// Validates a kustomize base (default deploy/k8s) against Kubernetes' own schemas (kubernetes-models@4) plus
// what those schemas let through:
//  - unknown fields (a typo such as `readinesProbe` is silently dropped by kubectl's client-side apply),
//    found by watching which properties the generated schema validator reads;
//  - the kustomization itself: known fields only, every resource/generator file present, no YAML file left
//    out of it;
//  - references inside the base: Secret / ConfigMap names and keys, named ports of probes and Services,
//    Service selectors, Deployment selectors, HPA targets;
//  - policy: every long-running container has readiness and liveness probes, resource requests and a memory
//    limit, runs as non-root.
// Usage: node scripts/check-packaging/k8s.mjs [kustomize-dir]   (exit 1 with one line per problem)
//        node scripts/check-packaging/k8s.mjs --rendered FILE   (the output of `kustomize build`)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

const require = createRequire(import.meta.url);

/** Top-level fields of kustomize's Kustomization (kustomize.config.k8s.io/v1beta1 and v1alpha1 Component). */
const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion',
  'kind',
  'metadata',
  'resources',
  'components',
  'bases',
  'namespace',
  'namePrefix',
  'nameSuffix',
  'commonLabels',
  'labels',
  'commonAnnotations',
  'images',
  'replicas',
  'patches',
  'patchesStrategicMerge',
  'patchesJson6902',
  'configMapGenerator',
  'secretGenerator',
  'generatorOptions',
  'crds',
  'configurations',
  'generators',
  'transformers',
  'validators',
  'openapi',
  'buildMetadata',
  'helmCharts',
  'helmGlobals',
  'sortOptions',
  'replacements',
  'vars',
]);
const GENERATOR_FIELDS = new Set([
  'name',
  'namespace',
  'behavior',
  'files',
  'literals',
  'envs',
  'env',
  'type',
  'options',
]);
const LONG_RUNNING = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/**
 * Wraps `value` so that every property read is recorded: after the schema validator ran over the wrapper,
 * keys it never read are unknown to the schema. Objects whose keys the validator enumerates (maps such as
 * labels, resources.limits, Secret data) accept any key.
 */
function track(value, path, seen) {
  if (value === null || typeof value !== 'object') return value;
  const entry = { value, path, read: new Set(), enumerated: false };
  seen.push(entry);
  const children = new Map();
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key !== 'string') return Reflect.get(target, key, receiver);
      entry.read.add(key);
      const v = Reflect.get(target, key, receiver);
      if (v === null || typeof v !== 'object' || !Object.hasOwn(target, key)) return v;
      if (!children.has(key)) children.set(key, track(v, `${path}.${key}`, seen));
      return children.get(key);
    },
    has(target, key) {
      if (typeof key === 'string') entry.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      entry.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

/** The kubernetes-models class for an apiVersion/kind, or undefined. */
function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined;
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [undefined, apiVersion];
  try {
    const mod = require(group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`);
    return typeof mod[kind] === 'function' ? mod[kind] : undefined;
  } catch {
    return undefined;
  }
}

function schemaErrors(Model, doc) {
  try {
    new Model(doc).validate();
    return [];
  } catch (e) {
    const errors = Array.isArray(e?.errors) ? e.errors : [];
    if (errors.length === 0) return [String(e?.message ?? e)];
    return errors.map(
      (er) =>
        `${er.instancePath || '/'} ${er.message ?? er.keyword}${er.params ? ` ${JSON.stringify(er.params)}` : ''}`,
    );
  }
}

function unknownFields(Model, doc) {
  const seen = [];
  const wrapped = track(structuredClone(doc), '', seen);
  try {
    Model.prototype.validate.call(wrapped);
  } catch {
    // schema errors are reported by schemaErrors(); only the read set matters here
  }
  const unknown = [];
  for (const { value, path, read, enumerated } of seen) {
    if (Array.isArray(value) || enumerated) continue;
    for (const key of Object.keys(value))
      if (!read.has(key)) unknown.push(`${path}.${key}`.replace(/^\./, ''));
  }
  return unknown;
}

/** Pod specs of a workload with where they sit. */
function podSpecs(doc) {
  const spec = doc.spec ?? {};
  switch (doc.kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
      return spec.template ? [{ at: 'spec.template', template: spec.template }] : [];
    case 'CronJob':
      return spec.jobTemplate?.spec?.template
        ? [{ at: 'spec.jobTemplate.spec.template', template: spec.jobTemplate.spec.template }]
        : [];
    case 'Pod':
      return [{ at: '', template: { metadata: doc.metadata, spec } }];
    default:
      return [];
  }
}

function parseYamlFile(file, problems) {
  const docs = [];
  for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if (d.errors.length > 0) {
      for (const e of d.errors) problems.push(`${file}: YAML: ${e.message.split('\n')[0]}`);
      continue;
    }
    const value = d.toJS();
    if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

/**
 * Loads a kustomization directory: its objects (with their file) and generated ConfigMaps/Secrets
 * (name -> keys). Resources that are directories are loaded as nested kustomizations.
 */
function loadKustomization(
  dir,
  problems,
  out = { objects: [], generated: new Map(), files: new Set(), images: [] },
) {
  const kfile = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
    .map((f) => join(dir, f))
    .find(existsSync);
  if (!kfile) {
    problems.push(`${dir}: no kustomization.yaml`);
    return out;
  }
  out.files.add(resolve(kfile));
  const [k] = parseYamlFile(kfile, problems);
  if (!k || typeof k !== 'object') {
    problems.push(`${kfile}: empty or not a mapping`);
    return out;
  }
  if (k.apiVersion !== undefined && !/^kustomize\.config\.k8s\.io\/v1(beta1|alpha1)$/.test(k.apiVersion)) {
    problems.push(
      `${kfile}: apiVersion ${JSON.stringify(k.apiVersion)} is not kustomize.config.k8s.io/v1beta1`,
    );
  }
  if (k.kind !== undefined && k.kind !== 'Kustomization' && k.kind !== 'Component') {
    problems.push(`${kfile}: kind ${JSON.stringify(k.kind)} is not Kustomization`);
  }
  for (const key of Object.keys(k))
    if (!KUSTOMIZATION_FIELDS.has(key)) problems.push(`${kfile}: unknown field "${key}"`);
  for (const img of k.images ?? []) out.images.push(img);
  for (const res of k.resources ?? []) {
    if (typeof res !== 'string') {
      problems.push(`${kfile}: resources entry ${JSON.stringify(res)} is not a path`);
      continue;
    }
    if (/^[a-z]+:\/\//.test(res) || res.startsWith('github.com/')) {
      problems.push(`${kfile}: remote resource ${res} cannot be validated offline`);
      continue;
    }
    const path = resolve(dir, res);
    if (!existsSync(path)) {
      problems.push(`${kfile}: resource ${res} does not exist`);
      continue;
    }
    if (statSync(path).isDirectory()) {
      loadKustomization(path, problems, out);
      continue;
    }
    out.files.add(path);
    for (const doc of parseYamlFile(path, problems))
      out.objects.push({ file: relative(process.cwd(), path), doc });
  }
  for (const [kind, list] of [
    ['ConfigMap', k.configMapGenerator],
    ['Secret', k.secretGenerator],
  ]) {
    for (const g of list ?? []) {
      for (const key of Object.keys(g ?? {})) {
        if (!GENERATOR_FIELDS.has(key))
          problems.push(`${kfile}: ${kind} generator ${g.name}: unknown field "${key}"`);
      }
      if (!g?.name) problems.push(`${kfile}: a ${kind} generator has no name`);
      const keys = new Set();
      for (const lit of g.literals ?? []) {
        const eq = String(lit).indexOf('=');
        if (eq <= 0) problems.push(`${kfile}: ${g.name}: literal ${JSON.stringify(lit)} is not KEY=VALUE`);
        else keys.add(String(lit).slice(0, eq));
      }
      for (const f of g.files ?? []) {
        const [key, path] = String(f).includes('=')
          ? String(f).split('=', 2)
          : [String(f).split('/').pop(), String(f)];
        const full = resolve(dir, path);
        if (!existsSync(full)) problems.push(`${kfile}: ${g.name}: file ${path} does not exist`);
        else out.files.add(full);
        keys.add(key);
      }
      for (const e of [...(g.envs ?? []), ...(g.env ? [g.env] : [])]) {
        const full = resolve(dir, e);
        if (!existsSync(full)) problems.push(`${kfile}: ${g.name}: env file ${e} does not exist`);
        else {
          out.files.add(full);
          for (const line of readFileSync(full, 'utf8').split('\n')) {
            const m = /^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=/.exec(line);
            if (m) keys.add(m[1]);
          }
        }
      }
      if (g?.name) out.generated.set(`${kind}/${g.name}`, keys);
    }
  }
  return out;
}

/** YAML files under dir (recursively) that the kustomization never reads: they would not be deployed. */
function orphanFiles(dir, used) {
  const orphans = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = resolve(dir, entry.name);
    if (entry.isDirectory()) orphans.push(...orphanFiles(path, used));
    else if (/\.ya?ml$/.test(entry.name) && !used.has(path)) orphans.push(relative(process.cwd(), path));
  }
  return orphans;
}

function matches(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

/** Validates the kustomization in `dir`; returns the problems found (empty = valid) and what was checked. */
export function checkKustomization(dir) {
  const problems = [];
  const loaded = loadKustomization(dir, problems);
  for (const orphan of orphanFiles(dir, loaded.files)) {
    problems.push(
      `${orphan}: not listed in the kustomization (resources or a generator): it would not be deployed`,
    );
  }
  return checkObjects(loaded, problems);
}

/** Validates objects rendered by `kustomize build` (generated ConfigMaps included, names hashed). */
export function checkRendered(file) {
  const problems = [];
  const objects = parseYamlFile(file, problems).map((doc) => ({ file: 'kustomize build', doc }));
  return checkObjects({ objects, generated: new Map(), files: new Set(), images: [] }, problems);
}

function checkObjects(loaded, problems) {
  const byKind = new Map();
  for (const { file, doc } of loaded.objects) {
    const where = `${file}: ${doc?.kind ?? '?'}/${doc?.metadata?.name ?? '?'}`;
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      problems.push(`${file}: a document is not a mapping`);
      continue;
    }
    if (!doc.apiVersion || !doc.kind) problems.push(`${where}: apiVersion and kind are required`);
    if (!doc.metadata?.name) problems.push(`${where}: metadata.name is required`);
    const Model = modelFor(doc.apiVersion, doc.kind);
    if (!Model) {
      problems.push(
        `${where}: unknown apiVersion/kind ${doc.apiVersion} ${doc.kind} (not in Kubernetes' schemas)`,
      );
      continue;
    }
    for (const e of schemaErrors(Model, doc)) problems.push(`${where}: schema: ${e}`);
    for (const f of unknownFields(Model, doc)) problems.push(`${where}: unknown field "${f}"`);
    const key = `${doc.kind}/${doc.metadata?.name}`;
    if (byKind.has(key)) problems.push(`${where}: defined twice`);
    byKind.set(key, doc);
  }

  const secretKeys = (name) => {
    const s = byKind.get(`Secret/${name}`);
    if (s) return new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})]);
    return loaded.generated.get(`Secret/${name}`);
  };
  const configMapKeys = (name) => {
    const c = byKind.get(`ConfigMap/${name}`);
    if (c) return new Set([...Object.keys(c.data ?? {}), ...Object.keys(c.binaryData ?? {})]);
    return loaded.generated.get(`ConfigMap/${name}`);
  };
  const imageNames = new Set(loaded.images.map((i) => i.name));

  const podTemplates = [];
  for (const { file, doc } of loaded.objects) {
    const where = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    for (const { at, template } of podSpecs(doc)) {
      podTemplates.push({ doc, template });
      const pod = template.spec ?? {};
      if (doc.kind === 'Deployment' || doc.kind === 'StatefulSet' || doc.kind === 'ReplicaSet') {
        const sel = doc.spec?.selector?.matchLabels;
        if (!sel || !matches(sel, template.metadata?.labels)) {
          problems.push(`${where}: spec.selector.matchLabels does not match ${at}.metadata.labels`);
        }
      }
      if (pod.securityContext?.runAsNonRoot !== true) {
        problems.push(`${where}: ${at}.spec.securityContext.runAsNonRoot must be true`);
      }
      const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
      for (const v of pod.volumes ?? []) {
        if (v.configMap && !configMapKeys(v.configMap.name))
          problems.push(`${where}: volume ${v.name}: ConfigMap ${v.configMap.name} is not in the base`);
        if (v.secret && !secretKeys(v.secret.secretName))
          problems.push(`${where}: volume ${v.name}: Secret ${v.secret.secretName} is not in the base`);
      }
      const all = [
        ...(pod.initContainers ?? []).map((c) => ['initContainers', c]),
        ...(pod.containers ?? []).map((c) => ['containers', c]),
      ];
      for (const [list, c] of all) {
        const cw = `${where}: ${list} ${c.name}`;
        const image = String(c.image ?? '').replace(/[:@].*$/, '');
        if (imageNames.size > 0 && !imageNames.has(image))
          problems.push(`${cw}: image ${c.image} is not managed by the kustomization's images`);
        for (const m of c.volumeMounts ?? [])
          if (!volumes.has(m.name)) problems.push(`${cw}: volumeMount ${m.name} has no volume`);
        for (const src of c.envFrom ?? []) {
          if (src.configMapRef && !configMapKeys(src.configMapRef.name))
            problems.push(`${cw}: envFrom ConfigMap ${src.configMapRef.name} is not in the base`);
          if (src.secretRef && !secretKeys(src.secretRef.name))
            problems.push(`${cw}: envFrom Secret ${src.secretRef.name} is not in the base`);
        }
        const envNames = new Set();
        for (const e of c.env ?? []) {
          envNames.add(e.name);
          const sk = e.valueFrom?.secretKeyRef;
          if (sk) {
            const keys = secretKeys(sk.name);
            if (!keys) problems.push(`${cw}: env ${e.name}: Secret ${sk.name} is not in the base`);
            else if (!keys.has(sk.key) && sk.optional !== true)
              problems.push(`${cw}: env ${e.name}: Secret ${sk.name} has no key ${sk.key}`);
          }
          const ck = e.valueFrom?.configMapKeyRef;
          if (ck) {
            const keys = configMapKeys(ck.name);
            if (!keys) problems.push(`${cw}: env ${e.name}: ConfigMap ${ck.name} is not in the base`);
            else if (!keys.has(ck.key) && ck.optional !== true)
              problems.push(`${cw}: env ${e.name}: ConfigMap ${ck.name} has no key ${ck.key}`);
          }
        }
        for (const src of c.envFrom ?? []) {
          const keys = src.configMapRef
            ? configMapKeys(src.configMapRef.name)
            : src.secretRef
              ? secretKeys(src.secretRef.name)
              : undefined;
          for (const k of keys ?? []) envNames.add(k);
        }
        // $(VAR) in command/args is expanded by the kubelet only for variables the container defines.
        for (const arg of [...(c.command ?? []), ...(c.args ?? [])]) {
          for (const m of String(arg).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
            if (!envNames.has(m[1]))
              problems.push(`${cw}: argument ${arg} uses $(${m[1]}), which the container does not define`);
          }
        }
        const ports = new Set((c.ports ?? []).flatMap((p) => [p.name, p.containerPort]));
        for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
          const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
          if (port !== undefined && !ports.has(port))
            problems.push(`${cw}: ${probe} port ${port} is not a container port`);
        }
        if (list === 'containers' && LONG_RUNNING.has(doc.kind)) {
          if (!c.readinessProbe) problems.push(`${cw}: no readinessProbe`);
          if (!c.livenessProbe) problems.push(`${cw}: no livenessProbe`);
        }
        if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory)
          problems.push(`${cw}: resources.requests.cpu and .memory are required`);
        if (!c.resources?.limits?.memory) problems.push(`${cw}: resources.limits.memory is required`);
        if (c.securityContext?.allowPrivilegeEscalation !== false)
          problems.push(`${cw}: securityContext.allowPrivilegeEscalation must be false`);
      }
    }
  }

  for (const { file, doc } of loaded.objects) {
    const where = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    if (doc.kind === 'Service' && doc.spec?.selector) {
      const targets = podTemplates.filter(({ template }) =>
        matches(doc.spec.selector, template.metadata?.labels),
      );
      if (targets.length === 0)
        problems.push(
          `${where}: selector ${JSON.stringify(doc.spec.selector)} matches no pod template in the base`,
        );
      for (const p of doc.spec.ports ?? []) {
        if (typeof p.targetPort !== 'string') continue;
        const named = targets.some(({ template }) =>
          (template.spec?.containers ?? []).some((c) =>
            (c.ports ?? []).some((cp) => cp.name === p.targetPort),
          ),
        );
        if (targets.length > 0 && !named)
          problems.push(`${where}: targetPort ${p.targetPort} is not a named port of the selected pods`);
      }
    }
    if (doc.kind === 'HorizontalPodAutoscaler') {
      const ref = doc.spec?.scaleTargetRef ?? {};
      if (!byKind.has(`${ref.kind}/${ref.name}`))
        problems.push(`${where}: scaleTargetRef ${ref.kind}/${ref.name} is not in the base`);
      const target = byKind.get(`${ref.kind}/${ref.name}`);
      const usesCpu = (doc.spec?.metrics ?? []).some((m) => m.resource?.name === 'cpu');
      if (
        target &&
        usesCpu &&
        !(target.spec?.template?.spec?.containers ?? []).every((c) => c.resources?.requests?.cpu)
      ) {
        problems.push(`${where}: scales on CPU but ${ref.name}'s containers have no CPU request`);
      }
    }
  }
  return {
    problems,
    objects: loaded.objects.map(({ file, doc }) => `${doc.kind}/${doc.metadata?.name} (${file})`),
  };
}

const isMain = process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const rendered = process.argv[2] === '--rendered';
  const dir = resolve(process.argv[rendered ? 3 : 2] ?? 'deploy/k8s');
  const { problems, objects } = rendered ? checkRendered(dir) : checkKustomization(dir);
  if (problems.length > 0) {
    for (const p of problems) console.error(`k8s: ${p}`);
    console.error(`k8s: ${problems.length} problem(s) in ${relative(process.cwd(), dir) || '.'}`);
    process.exit(1);
  }
  console.log(
    `k8s: ${objects.length} objects valid against Kubernetes schemas (no unknown fields, references resolved): ${objects.join(', ')}`,
  );
}
