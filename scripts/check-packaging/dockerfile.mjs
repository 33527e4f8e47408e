#!/usr/bin/env node
// The Dockerfile, checked two ways without a Docker engine:
//   lint FILE        dockerfile-utils' validator (exit 1 on errors) plus this image's requirements: multi-stage,
//                    a non-root runtime user, a HEALTHCHECK, `node bin/tassel.js` as exec-form ENTRYPOINT, an
//                    exec-form CMD, a slim/distroless Node 20 base, no sources or data in the runtime stage, and
//                    every build-context source present after .dockerignore.
//   emulate FILE OUT [--full-install]
//                    runs the image's build steps in plain folders under OUT: the build context filtered by
//                    .dockerignore, each stage's COPY and npm/node RUN steps in its own folder, then assembles the
//                    runtime stage; prints JSON {dir, workdir, env, entrypoint, cmd, healthcheck, user, notes}.
//                    The full `npm ci` of the build stage reuses the repository's node_modules (same lockfile,
//                    installed by .ci/run's `npm ci`); `npm ci --omit=dev` runs for real into a clean folder, with
//                    install scripts skipped and better-sqlite3's compiled module copied from the repository
//                    unless --full-install (then it compiles from source, ~2 min on 2 cores).
//                    PACKAGING_GIT_REF=HEAD stages that commit instead of the working tree.
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const { DockerfileParser } = require('dockerfile-ast');
const { validate } = require('dockerfile-utils');

/** Exec-form JSON array of an instruction (CMD/ENTRYPOINT/HEALTHCHECK CMD), or null for shell form. */
function execForm(instruction, afterKeyword = '') {
  let raw = (instruction.getRawArgumentsContent() ?? '').replace(/\\\r?\n/g, ' ').trim();
  raw = raw.replace(/^(--[a-z-]+=\S+\s+)*/, '');
  if (afterKeyword) {
    if (!raw.toUpperCase().startsWith(afterKeyword)) return null;
    raw = raw.slice(afterKeyword.length).trim();
  }
  if (!raw.startsWith('[')) return null;
  try {
    const value = JSON.parse(raw);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : null;
  } catch {
    return null;
  }
}

function flag(instruction, name) {
  const f = (instruction.getFlags?.() ?? []).find((x) => x.getName() === name);
  return f ? f.getValue() : undefined;
}

function expand(text, vars) {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_m, a, def, b) => {
      const v = vars[a ?? b];
      return v !== undefined && v !== '' ? v : (def ?? '');
    },
  );
}

/** Stages of a Dockerfile: name, base image, and their instructions. */
export function parseStages(text) {
  const dockerfile = DockerfileParser.parse(text);
  const globalArgs = {};
  for (const arg of dockerfile.getInitialARGs()) {
    const p = arg.getProperty();
    if (p) globalArgs[p.getName()] = p.getValue() ?? '';
  }
  const stages = [];
  for (const ins of dockerfile.getInstructions()) {
    const keyword = ins.getKeyword();
    if (keyword === 'FROM') {
      const args = ins.getArguments().map((a) => a.getValue());
      const asIndex = args.findIndex((a) => a.toUpperCase() === 'AS');
      stages.push({
        base: expand(args[0] ?? '', globalArgs),
        name: asIndex >= 0 ? args[asIndex + 1] : String(stages.length),
        instructions: [],
        line: ins.getRange().start.line + 1,
      });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { dockerfile, stages, globalArgs };
}

// --- .dockerignore ------------------------------------------------------------------------------------------

function globToRegExp(pattern) {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of folders (also none); a trailing `**` anything
      if (pattern[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A pattern matching a folder excludes everything inside it.
  return new RegExp(`^${re}(?:/.*)?$`);
}

/** A predicate telling whether a context-relative path is excluded by .dockerignore (Docker's rules). */
export function dockerignoreMatcher(contextDir) {
  const file = join(contextDir, '.dockerignore');
  const rules = [];
  if (existsSync(file)) {
    for (let line of readFileSync(file, 'utf8').split(/\r?\n/)) {
      line = line.trim();
      if (!line || line.startsWith('#')) continue;
      const negate = line.startsWith('!');
      if (negate) line = line.slice(1).trim();
      const cleaned = posix.normalize(line.replace(/^\/+/, '')).replace(/\/+$/, '');
      rules.push({ negate, re: globToRegExp(cleaned) });
    }
  }
  return (relPath) => {
    let excluded = false;
    for (const { negate, re } of rules) if (re.test(relPath)) excluded = !negate;
    return excluded;
  };
}

/** Copies the build context as Docker would send it (minus .dockerignore'd paths) into outDir. */
export function stageContext(contextDir, outDir) {
  const ignored = dockerignoreMatcher(contextDir);
  let files = 0;
  const walk = (rel) => {
    for (const entry of readdirSync(join(contextDir, rel), { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      // .dockerignore and the Dockerfile are always sent; .git and node_modules never needed walking for them
      if (ignored(childRel) && childRel !== '.dockerignore') continue;
      if (entry.isDirectory()) walk(childRel);
      else if (entry.isFile() || entry.isSymbolicLink()) {
        mkdirSync(dirname(join(outDir, childRel)), { recursive: true });
        cpSync(join(contextDir, childRel), join(outDir, childRel));
        files++;
      }
    }
  };
  mkdirSync(outDir, { recursive: true });
  walk('');
  return files;
}

// --- lint ---------------------------------------------------------------------------------------------------

/** dockerfile-utils' diagnostics plus this project's image requirements; returns {errors, warnings}. */
export function lintDockerfile(file, contextDir = dirname(resolve(file))) {
  const text = readFileSync(file, 'utf8');
  const errors = [];
  const warnings = [];
  for (const d of validate(text)) {
    const msg = `${file}:${d.range.start.line + 1}: ${d.message}`;
    // LSP severities: 1 error, 2 warning
    if (d.severity === 1) errors.push(msg);
    else warnings.push(msg);
  }
  const { stages } = parseStages(text);
  if (stages.length < 2)
    errors.push(`${file}: must be multi-stage (a build stage with dev dependencies, a runtime stage)`);
  if (stages.length === 0) return { errors, warnings };
  const names = new Set(stages.map((s) => s.name));
  const final = stages[stages.length - 1];
  const rootBase = (stage) => {
    let s = stage;
    for (let i = 0; i < stages.length && names.has(s.base); i++) s = stages.find((x) => x.name === s.base);
    return s.base;
  };
  const base = rootBase(final);
  if (
    !/^(docker\.io\/(library\/)?)?node:20[\w.-]*-slim$|^node:20-slim$|^gcr\.io\/distroless\/nodejs20-debian\d+(:[\w.-]+)?$/.test(
      base,
    )
  ) {
    errors.push(
      `${file}:${final.line}: runtime base ${base} is not node:20-*slim or gcr.io/distroless/nodejs20`,
    );
  }
  const of = (kw) => final.instructions.filter((i) => i.getKeyword() === kw);
  const user = of('USER').at(-1)?.getArguments()[0]?.getValue();
  if (!user || /^(root|0)(:.*)?$/.test(user))
    errors.push(`${file}: the runtime stage must switch to a non-root USER`);
  const hc = of('HEALTHCHECK').at(-1);
  const hcCmd = hc ? execForm(hc, 'CMD') : null;
  if (!hc) errors.push(`${file}: the runtime stage has no HEALTHCHECK`);
  else if (!hcCmd?.join(' ').includes('/health/ready')) {
    errors.push(
      `${file}:${hc.getRange().start.line + 1}: HEALTHCHECK must be exec form and probe /health/ready`,
    );
  }
  const ep = of('ENTRYPOINT').at(-1);
  const epCmd = ep ? execForm(ep) : null;
  if (epCmd?.join(' ') !== 'node bin/tassel.js')
    errors.push(`${file}: ENTRYPOINT must be ["node", "bin/tassel.js"] (exec form)`);
  const cmdIns = of('CMD').at(-1);
  const cmd = cmdIns ? execForm(cmdIns) : null;
  if (!cmd || !['serve', 'server', 'pipeline'].includes(cmd[0]))
    errors.push(`${file}: CMD must be exec form starting with serve, server or pipeline`);
  const runs = stages.flatMap((s) =>
    s.instructions
      .filter((i) => i.getKeyword() === 'RUN')
      .map((i) =>
        i
          .getArguments()
          .map((a) => a.getValue())
          .join(' '),
      ),
  );
  if (!runs.some((r) => /\bnpm ci\b(?![^&]*--omit=dev)/.test(r)))
    errors.push(`${file}: no build stage runs a full \`npm ci\``);
  if (!runs.some((r) => /\bnpm run build\b/.test(r))) errors.push(`${file}: no stage runs \`npm run build\``);
  if (!runs.some((r) => /\bnpm ci\b[^&]*--omit=dev/.test(r)))
    errors.push(`${file}: no stage installs production dependencies (\`npm ci --omit=dev\`)`);
  for (const s of stages) {
    for (const ins of s.instructions) {
      if (!['COPY', 'ADD'].includes(ins.getKeyword())) continue;
      const from = flag(ins, 'from');
      const args = ins.getArguments().map((a) => a.getValue());
      const sources = args.slice(0, -1);
      if (from !== undefined) {
        if (!names.has(from) && !from.includes(':') && !from.includes('/'))
          errors.push(`${file}:${ins.getRange().start.line + 1}: COPY --from=${from}: no such stage`);
        continue;
      }
      const ignored = dockerignoreMatcher(contextDir);
      for (const src of sources) {
        const rel = posix.normalize(src.replace(/^\.?\/+/, '')).replace(/\/+$/, '') || '.';
        if (rel.includes('*')) continue;
        if (rel.startsWith('..'))
          errors.push(`${file}:${ins.getRange().start.line + 1}: ${src} is outside the build context`);
        else if (!existsSync(join(contextDir, rel)))
          errors.push(
            `${file}:${ins.getRange().start.line + 1}: COPY source ${src} does not exist in the build context`,
          );
        else if (rel !== '.' && ignored(rel))
          errors.push(
            `${file}:${ins.getRange().start.line + 1}: COPY source ${src} is excluded by .dockerignore`,
          );
        if (s === final && /^(src|test|data|tassel-data|mlruns)(\/|$)|\.(csv|parquet|sqlite|db)$/.test(rel)) {
          errors.push(
            `${file}:${ins.getRange().start.line + 1}: the runtime stage must not contain sources or data (${src})`,
          );
        }
      }
    }
  }
  return { errors, warnings };
}

// --- emulate ------------------------------------------------------------------------------------------------

/** Runs a shell command (output to stderr); stages without dependencies on each other run concurrently. */
async function run(cmd, cwd, env, notes) {
  const started = Date.now();
  await new Promise((res, rej) => {
    const child = spawn('sh', ['-c', cmd], { cwd, env, stdio: ['ignore', 2, 2] });
    child.on('error', rej);
    child.on('exit', (code) => (code === 0 ? res() : rej(new Error(`\`${cmd}\` exited with ${code}`))));
  });
  notes.push(`ran \`${cmd}\` (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

/** Where a container path of a stage lives on disk (only paths under the stage's WORKDIR are emulated). */
function hostPath(stage, containerPath) {
  const abs = posix.isAbsolute(containerPath) ? containerPath : posix.join(stage.workdir, containerPath);
  const rel = posix.relative(stage.root, abs);
  if (rel.startsWith('..')) return null;
  return join(stage.dir, rel);
}

async function installProduction(cwd, env, repoDir, fullInstall, notes) {
  if (fullInstall) {
    await run('npm ci --omit=dev --no-audit --no-fund --prefer-offline', cwd, env, notes);
    return;
  }
  await run('npm ci --omit=dev --no-audit --no-fund --prefer-offline --ignore-scripts', cwd, env, notes);
  // Packages whose install scripts were skipped: reuse the repository's build of the same version.
  for (const name of readdirSync(join(cwd, 'node_modules'))) {
    const pkgFile = join(cwd, 'node_modules', name, 'package.json');
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    const scripts = pkg.scripts ?? {};
    if (!scripts.install && !scripts.preinstall && !scripts.postinstall) continue;
    const repoPkgDir = join(repoDir, 'node_modules', name);
    const repoPkg = existsSync(join(repoPkgDir, 'package.json'))
      ? JSON.parse(readFileSync(join(repoPkgDir, 'package.json'), 'utf8'))
      : null;
    const release = join(repoPkgDir, 'build', 'Release');
    if (repoPkg?.version === pkg.version && existsSync(release)) {
      const target = join(cwd, 'node_modules', name, 'build', 'Release');
      mkdirSync(target, { recursive: true });
      for (const f of readdirSync(release))
        if (f.endsWith('.node')) cpSync(join(release, f), join(target, f));
      notes.push(
        `${name}@${pkg.version}: native module copied from the repository's node_modules (compiled by its \`npm ci\`, same version and Node ABI) instead of compiling again; --full-install compiles it`,
      );
    } else if (scripts.install) {
      await run(`npm rebuild ${name}`, cwd, env, notes);
    } else {
      notes.push(
        `${name}@${pkg.version}: install script skipped (${scripts.postinstall ?? scripts.preinstall}: no native build)`,
      );
    }
  }
}

async function runStep(step, stage, ctx) {
  const { repoDir, fullInstall, notes } = ctx;
  const cwd = hostPath(stage, stage.workdir) ?? stage.dir;
  mkdirSync(cwd, { recursive: true });
  const env = { ...process.env, ...stage.env, PATH: process.env.PATH };
  delete env.NODE_ENV;
  if (stage.env.NODE_ENV) env.NODE_ENV = stage.env.NODE_ENV;
  const s = step.trim();
  if (/^(apt-get|apk|rm -rf \/var\/lib\/apt)/.test(s)) {
    notes.push(`skipped system step \`${s.slice(0, 60)}\` (the CI machine has the toolchain)`);
  } else if (/^npm ci\b.*--omit=dev/.test(s)) {
    await installProduction(cwd, env, repoDir, fullInstall, notes);
  } else if (/^npm ci\b/.test(s)) {
    const lock = (d) => readFileSync(join(d, 'package-lock.json'), 'utf8');
    if (!existsSync(join(repoDir, 'node_modules')))
      throw new Error('the repository has no node_modules: run `npm ci` first');
    if (lock(cwd) !== lock(repoDir))
      throw new Error("the staged package-lock.json differs from the repository's");
    symlinkSync(join(repoDir, 'node_modules'), join(cwd, 'node_modules'), 'dir');
    notes.push(
      `\`${s}\` (all dependencies): reused the repository's node_modules, installed from the same package-lock.json by \`npm ci\``,
    );
  } else if (/^npm run [\w:-]+$/.test(s) || /^node -e /.test(s)) {
    await run(s, cwd, env, notes);
  } else if (/^(mkdir|chown|chmod)\b/.test(s)) {
    const paths = s
      .split(/\s+/)
      .slice(1)
      .filter((a) => a.startsWith('/'));
    if (paths.every((p) => hostPath(stage, p) === null))
      notes.push(`skipped \`${s}\` (outside ${stage.root})`);
    else await run(s.replace(/^chown\b.*$/, 'true'), cwd, env, notes);
  } else {
    throw new Error(
      `RUN step not understood by the emulation: \`${s}\` (teach scripts/check-packaging/dockerfile.mjs)`,
    );
  }
}

/** Runs the Dockerfile's build in folders under outDir; returns the runtime stage's layout and start command. */
export async function emulate(file, outDir, { fullInstall = false, gitRef } = {}) {
  const repoDir = dirname(resolve(file));
  const { stages } = parseStages(readFileSync(file, 'utf8'));
  const allNotes = [];
  const contextDir = join(outDir, 'context');
  let source = repoDir;
  if (gitRef) {
    // A dirty working tree (others' unfinished files) is not what CI builds: stage a commit instead.
    source = join(outDir, 'git-archive');
    mkdirSync(source, { recursive: true });
    execFileSync('sh', [
      '-c',
      `git -C "${repoDir}" archive --format=tar "${gitRef}" | tar -x -C "${source}"`,
    ]);
  }
  allNotes.push(
    `build context${gitRef ? ` (git ${gitRef})` : ''}: ${stageContext(source, contextDir)} files after .dockerignore`,
  );
  // Like BuildKit, a stage waits only for its base and the stages it copies from.
  const done = new Map();
  const buildStage = async (spec, earlier) => {
    const parent = await earlier.get(spec.base);
    const notes = [];
    const stage = {
      name: spec.name,
      dir: join(outDir, `stage-${spec.name}`),
      root: parent?.root ?? '/app',
      workdir: parent?.workdir ?? '/',
      env: { ...(parent?.env ?? {}) },
      user: parent?.user,
      entrypoint: parent?.entrypoint ?? null,
      cmd: parent?.cmd ?? null,
      healthcheck: parent?.healthcheck ?? null,
    };
    if (parent) cpSync(parent.dir, stage.dir, { recursive: true, verbatimSymlinks: true });
    else mkdirSync(stage.dir, { recursive: true });
    for (const ins of spec.instructions) {
      const kw = ins.getKeyword();
      const args = ins.getArguments().map((a) => a.getValue());
      if (kw === 'WORKDIR') {
        stage.workdir = posix.resolve(stage.workdir, args[0]);
        if (!parent && stage.workdir !== '/') stage.root = stage.workdir;
      } else if (kw === 'ENV') {
        for (const p of ins.getProperties()) stage.env[p.getName()] = p.getValue() ?? '';
      } else if (kw === 'USER') stage.user = args[0];
      else if (kw === 'ENTRYPOINT') stage.entrypoint = execForm(ins);
      else if (kw === 'CMD') stage.cmd = execForm(ins);
      else if (kw === 'HEALTHCHECK') stage.healthcheck = execForm(ins, 'CMD');
      else if (kw === 'COPY' || kw === 'ADD') {
        const from = flag(ins, 'from');
        const list = execForm(ins) ?? args;
        const dest = list.at(-1);
        const sources = list.slice(0, -1);
        const destHost = hostPath(stage, dest);
        if (!destHost) throw new Error(`COPY destination ${dest} is outside ${stage.root}`);
        for (const src of sources) {
          let srcHost;
          if (from !== undefined) {
            const fromStage = await earlier.get(from);
            if (!fromStage) throw new Error(`COPY --from=${from}: no such stage`);
            srcHost = hostPath(fromStage, src);
          } else srcHost = join(contextDir, src);
          if (!srcHost || !existsSync(srcHost))
            throw new Error(`COPY ${from ? `--from=${from} ` : ''}${src}: not found`);
          const intoDir = dest.endsWith('/') || sources.length > 1;
          const target =
            intoDir && !lstatSync(srcHost).isDirectory() ? join(destHost, posix.basename(src)) : destHost;
          mkdirSync(dirname(target), { recursive: true });
          cpSync(srcHost, target, { recursive: true, dereference: false, verbatimSymlinks: true });
        }
      } else if (kw === 'RUN') {
        const text = args.join(' ');
        for (const step of text.split(/\s*&&\s*/))
          await runStep(step, stage, { repoDir, fullInstall, notes });
      }
    }
    for (const n of notes) allNotes.push(`[${spec.name}] ${n}`);
    return stage;
  };
  for (const spec of stages) {
    const promise = buildStage(spec, new Map(done));
    promise.catch(() => {});
    done.set(spec.name, promise);
  }
  await Promise.all(done.values());
  const final = await done.get(stages.at(-1).name);
  return {
    dir: hostPath(final, final.workdir),
    workdir: final.workdir,
    env: final.env,
    user: final.user,
    entrypoint: final.entrypoint,
    cmd: final.cmd,
    healthcheck: final.healthcheck,
    notes: allNotes,
  };
}

const isMain = process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const [command, file = 'Dockerfile', out] = process.argv.slice(2);
  if (command === 'lint') {
    const { errors, warnings } = lintDockerfile(file);
    for (const w of warnings) console.error(`dockerfile: warning: ${w}`);
    for (const e of errors) console.error(`dockerfile: error: ${e}`);
    if (errors.length > 0) process.exit(1);
    console.log(`dockerfile: ${file} lint OK (dockerfile-utils + image requirements)`);
  } else if (command === 'emulate' && out) {
    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    let result;
    try {
      result = await emulate(file, isAbsolute(out) ? out : resolve(out), {
        fullInstall: process.argv.includes('--full-install'),
        gitRef: process.env.PACKAGING_GIT_REF || undefined,
      });
    } catch (e) {
      console.error(
        `dockerfile: emulated build failed: ${e instanceof Error ? e.message.split('\n')[0] : e}`,
      );
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    console.error('usage: dockerfile.mjs lint [Dockerfile] | emulate Dockerfile OUTDIR [--full-install]');
    process.exit(2);
  }
}
