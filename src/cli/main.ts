import { Command, CommanderError } from 'commander';
import { CommandOutcomeError, EXIT_FAILURE, EXIT_USAGE, InputError, isTasselError } from '../errors.js';
import { TASSEL_VERSION } from '../version.js';

/**
 * The `tassel` command. Each subcommand lives in its own file under src/cli/ and exports
 * `register(program)`; add it to COMMANDS below.
 */
const COMMANDS: Array<() => Promise<{ register: (program: Command) => void }>> = [
  // e.g. () => import('./data-command.js'),
  () => import('./data-command.js'),
  () => import('./train-command.js'),
  () => import('./predict-command.js'),
  () => import('./explain-command.js'),
  () => import('./quickstart-command.js'),
  () => import('./pipeline-command.js'),
  () => import('./up-command.js'),
  () => import('./models-command.js'),
  () => import('./serve-command.js'),
  () => import('./server-command.js'),
  () => import('./monitor-command.js'),
  // after monitor-command.js: adds `labels` to the `tassel monitor` group
  () => import('./monitor-labels-command.js'),
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('tassel')
    .description('Tassel: train, track, register and serve course-completion models')
    .version(TASSEL_VERSION)
    .option('--verbose', 'print stack traces and debug output')
    .exitOverride();
  for (const load of COMMANDS) (await load()).register(program);
  addUsageHints(program, 'tassel');
  return program;
}

/**
 * After a usage error (a mistyped flag or command) every command prints one line and a hint naming its own
 * --help, not its whole help text (commander still suggests a close match: "Did you mean --port?").
 */
function addUsageHints(command: Command, path: string): void {
  command.showHelpAfterError(`(run ${path} --help for the options)`);
  for (const sub of command.commands) addUsageHints(sub, `${path} ${sub.name()}`);
}

/** Runs the CLI; user errors exit 2 with a one-line message, anything else 1 (stack only with --verbose). */
export async function main(argv: string[] = process.argv): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    const program = await buildProgram();
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      return EXIT_USAGE;
    }
    if (e instanceof CommandOutcomeError) {
      process.stderr.write(`tassel: ${e.message}\n`);
      return e.exitCode;
    }
    // a user's mistake (bad input, or a name that does not exist: 404) is a usage error, exit 2
    const code =
      e instanceof InputError || (isTasselError(e) && (e.status === 400 || e.status === 404))
        ? EXIT_USAGE
        : EXIT_FAILURE;
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`tassel: error: ${message}\n`);
    if (verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return code;
  }
}

const isEntry = process.argv[1] && /(?:^|[\\/])(?:tassel(?:\.js)?|main\.(?:ts|js))$/.test(process.argv[1]);
if (isEntry) {
  // a reader that stops early (`tassel serve --help | head`) closes the pipe: stop quietly, not with a stack trace
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  main().then((code) => {
    process.exitCode = code;
  });
}
