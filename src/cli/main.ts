import { Command, CommanderError } from 'commander';
import { VERSION } from '../shared/version.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerPlan } from './commands/plan.js';
import { registerBatch } from './commands/batch.js';
import { registerEngines } from './commands/engines.js';
import { registerRender } from './commands/render.js';
import { registerVerify } from './commands/verify.js';

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command();
  program
    .name('beatloom')
    .description('turn a song and a prompt into a music video that moves with the music')
    .version(VERSION)
    .configureOutput({
      // One line, in the same form as every other error: "beatloom: error: …".
      outputError: (text, write) =>
        write(`beatloom: ${text.trim().split('\n').join(' ')} — run beatloom --help for usage\n`),
    })
    .exitOverride();
  registerRender(program, setExitCode);
  registerAnalyze(program, setExitCode);
  registerPlan(program, setExitCode);
  registerBatch(program, setExitCode);
  registerEngines(program, setExitCode);
  registerVerify(program, setExitCode);
  return program;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  const program = buildProgram((code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every other commander complaint is a usage error.
      return error.exitCode === 0 ? 0 : 2;
    }
    throw error;
  }
  return exitCode;
}
