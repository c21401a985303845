/** Warnings from a plan (a section the song lacks, no beat to align to…): JSON lines with --json, a line each on stderr, nothing with --quiet. */
export function reportWarnings(
  warnings: readonly string[],
  flags: { json?: boolean | undefined; quiet?: boolean | undefined },
): void {
  for (const warning of warnings) {
    if (flags.json) process.stdout.write(`${JSON.stringify({ type: 'warning', message: warning })}\n`);
    else if (!flags.quiet) process.stderr.write(`beatloom: warning: ${warning}\n`);
  }
}
