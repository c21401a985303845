/**
 * `beatloom engines check`: is the engine ready to render? For ComfyUI, a health report per
 * server — version, device and VRAM, queue, AnimateDiff-Evolved, the models found — and every
 * problem with what to do about it. Exit 0 when every server is ready, 1 otherwise.
 */
import type { Command } from 'commander';
import { createComfyEngine } from '../../engines/comfyui/engine.js';
import type { ServerReport } from '../../engines/comfyui/preflight.js';
import type { ComfySettings } from '../../engines/comfyui/settings.js';
import { createEngine, engineConfig } from '../../engines/registry.js';
import { addComfyOptions, resolveEngineSelection, type ComfyFlags } from '../comfy-options.js';
import { runCommand } from '../run-command.js';

interface CheckFlags extends ComfyFlags {
  engine?: string;
  json?: boolean;
}

function gib(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function listWithChoice(items: readonly string[], chosen: readonly string[]): string {
  if (items.length === 0) return 'none';
  return items.map((item) => (chosen.includes(item) ? `${item} (used)` : item)).join(', ');
}

/** The report as lines for a terminal. */
export function formatServerReport(report: ServerReport, settings: ComfySettings): string[] {
  const ready = report.problems.length === 0;
  const lines = [`ComfyUI ${report.url}: ${ready ? 'ready' : report.unreachable ? 'UNREACHABLE' : 'NOT READY'}`];
  if (report.unreachable === undefined) {
    lines.push(
      `  server        ComfyUI ${report.comfyuiVersion ?? '?'}, Python ${report.pythonVersion ?? '?'}, PyTorch ${report.pytorchVersion ?? '?'}`,
    );
    for (const device of report.devices) {
      lines.push(
        `  device        ${device.name} (${device.type}), VRAM ${gib(device.vramFreeBytes)} free of ${gib(device.vramTotalBytes)}`,
      );
    }
    lines.push(`  memory        RAM ${gib(report.ramFreeBytes)} free of ${gib(report.ramTotalBytes)}`);
    if (report.queue) lines.push(`  queue         ${report.queue.running} running, ${report.queue.pending} waiting`);
    const catalogue = report.catalogue;
    if (catalogue) {
      const ade =
        catalogue.motionModels === undefined
          ? 'not installed'
          : `installed (per-frame motion scale: ${catalogue.perFrameMotionScale ? 'yes' : 'no'})`;
      lines.push(`  AnimateDiff-Evolved  ${ade}`);
      const checkpoint = report.checkpoint ?? settings.checkpoint;
      lines.push(
        `  checkpoints   ${listWithChoice(catalogue.checkpoints, checkpoint === undefined ? [] : [checkpoint])}`,
      );
      if (catalogue.motionModels !== undefined)
        lines.push(`  motion models ${listWithChoice(catalogue.motionModels, [settings.motionModel])}`);
      lines.push(
        `  LoRAs         ${listWithChoice(
          catalogue.loras,
          settings.loras.map((l) => l.name),
        )}`,
      );
      const has = (list: readonly string[], name: string): string =>
        `${name} ${list.includes(name) ? 'available' : 'MISSING'}`;
      lines.push(
        `  sampling      ${has(catalogue.samplers, settings.sampler)}, ${has(catalogue.schedulers, settings.scheduler)}, ${settings.steps} steps`,
      );
    }
  }
  for (const problem of report.problems) lines.push(`  problem: ${problem}`);
  return lines;
}

function reportJson(report: ServerReport): unknown {
  const catalogue = report.catalogue && { ...report.catalogue, nodeClasses: report.catalogue.nodeClasses.size };
  return { type: 'server', ...report, catalogue, ready: report.problems.length === 0 };
}

export function registerEngines(program: Command, setExitCode: (code: number) => void): void {
  const engines = program.command('engines').description('check the render engines');
  const check = engines
    .command('check')
    .description('is the engine ready? (for ComfyUI: version, device, VRAM, queue, models found)')
    .option('-e, --engine <id>', 'engine to check: comfyui (default), native or preview')
    .option('--json', 'print the report as JSON lines on stdout');
  addComfyOptions(check).action(async (flags: CheckFlags) => {
    let healthy = true;
    const code = await runCommand(async (signal) => {
      const selection = await resolveEngineSelection(flags.engine ?? 'comfyui', flags);
      if (selection.engineId !== 'comfyui') {
        const engine = createEngine(engineConfig(selection.engineId, { native: selection.native }));
        const health = await engine.checkHealth({ signal });
        await engine.close();
        healthy = health.ok;
        if (flags.json) process.stdout.write(`${JSON.stringify({ type: 'engine', ...health })}\n`);
        else process.stdout.write(`${health.summary}: ${health.ok ? 'ready' : 'NOT READY'}\n`);
        return;
      }
      const engine = createComfyEngine(selection.comfyui);
      try {
        const reports = await engine.inspect({ signal });
        healthy = reports.every((r) => r.problems.length === 0);
        for (const report of reports) {
          if (flags.json) process.stdout.write(`${JSON.stringify(reportJson(report))}\n`);
          else process.stdout.write(`${formatServerReport(report, engine.settings).join('\n')}\n`);
        }
      } finally {
        await engine.close();
      }
    });
    setExitCode(code !== 0 ? code : healthy ? 0 : 1);
  });
}
