/**
 * Synthesised grooves with exactly known beats: a small drum machine (kick, snare, clap, rim,
 * closed and open hats), a plucked bass and chord stabs, played from step patterns. The patterns
 * put the energy where real styles put it, including off the beat (funk syncopation, the reggae
 * skank, offbeat open hats, the dembow snare), so beat-phase decisions can be tested where the
 * answer is known.
 *
 * A pattern is one bar of steps, one character a step: `X` accent, `x` normal, `o` ghost, `.` rest.
 * A `pad` hit holds the bar's chord (a soft, slow-attack triad) until the end of the bar.
 */
export type Instrument = 'kick' | 'snare' | 'clap' | 'rim' | 'hat' | 'openHat' | 'bass' | 'stab' | 'pad';

export interface GrooveOptions {
  readonly bpm: number;
  readonly bars: number;
  /** Steps per beat: 4 (16ths) or 3 (triplet 8ths). */
  readonly stepsPerBeat?: number;
  readonly beatsPerBar?: number;
  readonly patterns: Partial<Record<Instrument, string>>;
  /** Chord roots (Hz) for bass, stabs and pads, one per bar, cycled. */
  readonly roots?: readonly number[];
  /** Index into `roots` of the first bar (a section of a song carries on its progression). */
  readonly firstRoot?: number;
  /** Every instrument's gain is multiplied by this. */
  readonly gain?: number;
  readonly sampleRateHz?: number;
  readonly leadInSec?: number;
  readonly seed?: number;
}

export interface Groove {
  readonly samples: Float32Array;
  readonly sampleRateHz: number;
  readonly beats: number[];
  readonly downbeats: number[];
}

const GAINS: Readonly<Record<string, number>> = { X: 1, x: 0.7, o: 0.25 };

export function makeGroove(options: GrooveOptions): Groove {
  const rate = options.sampleRateHz ?? 22050;
  const stepsPerBeat = options.stepsPerBeat ?? 4;
  const beatsPerBar = options.beatsPerBar ?? 4;
  const lead = options.leadInSec ?? 0.5;
  const beatSec = 60 / options.bpm;
  const stepSec = beatSec / stepsPerBeat;
  const barSteps = stepsPerBeat * beatsPerBar;
  const roots = options.roots ?? [55, 55, 73.42, 65.41];
  const beats = Array.from({ length: options.bars * beatsPerBar }, (_, i) => lead + i * beatSec);
  const downbeats = beats.filter((_, i) => i % beatsPerBar === 0);
  const samples = new Float32Array(Math.ceil((lead + options.bars * beatsPerBar * beatSec + 1) * rate));

  let s = (options.seed ?? 1) >>> 0;
  const noise = (): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
  const add = (startSec: number, durationSec: number, f: (t: number) => number): void => {
    const i0 = Math.round(startSec * rate);
    const n = Math.round(durationSec * rate);
    for (let i = 0; i < n && i0 + i < samples.length; i++) samples[i0 + i]! += f(i / rate);
  };
  /** White noise through a first difference (a gentle high-pass), scaled back to about unit level. */
  const brightNoise = (): (() => number) => {
    let previous = 0;
    return () => {
      const x = noise();
      const y = (x - previous) * 0.7;
      previous = x;
      return y;
    };
  };
  const play: Record<Instrument, (at: number, gain: number, root: number) => void> = {
    kick: (at, g) => {
      let phase = 0;
      add(at, 0.3, (t) => {
        phase += (2 * Math.PI * (50 + 100 * Math.exp(-t * 40))) / rate;
        return g * (0.9 * Math.sin(phase) * Math.exp(-t * 9) + (t < 0.003 ? 0.3 * noise() : 0));
      });
    },
    snare: (at, g) => {
      const n = brightNoise();
      add(
        at,
        0.2,
        (t) =>
          g *
          (0.3 * (Math.sin(2 * Math.PI * 185 * t) + 0.5 * Math.sin(2 * Math.PI * 330 * t)) * Math.exp(-t * 30) +
            0.5 * n() * Math.exp(-t * 20)),
      );
    },
    clap: (at, g) => {
      const n = brightNoise();
      add(
        at,
        0.15,
        (t) => g * 0.5 * n() * (t < 0.02 ? (Math.floor(t / 0.007) % 2 === 0 ? 1 : 0.3) : Math.exp(-(t - 0.02) * 30)),
      );
    },
    rim: (at, g) =>
      add(
        at,
        0.05,
        (t) => g * 0.4 * (Math.sin(2 * Math.PI * 1700 * t) + Math.sin(2 * Math.PI * 820 * t)) * Math.exp(-t * 80),
      ),
    hat: (at, g) => {
      const n = brightNoise();
      add(at, 0.05, (t) => g * 0.25 * n() * Math.exp(-t * 70));
    },
    openHat: (at, g) => {
      const n = brightNoise();
      add(at, Math.min(0.35, beatSec / 2), (t) => g * 0.25 * n() * Math.exp(-t * 7));
    },
    bass: (at, g, root) =>
      add(at, Math.min(0.4, 2 * stepSec), (t) => {
        let v = 0;
        for (let k = 1; k <= 5; k++) v += Math.sin(2 * Math.PI * root * k * t) / k;
        return g * 0.35 * v * Math.exp(-t * 6) * Math.min(1, t * 400);
      }),
    pad: (at, g, root) => {
      const bar = Math.round((at - lead) / (barSteps * stepSec));
      const endSec = lead + (bar + 1) * barSteps * stepSec;
      add(at, endSec - at + 0.05, (t) => {
        let v = 0;
        for (const ratio of [4, 5, 6])
          for (let k = 1; k <= 6; k++)
            v += Math.sin(2 * Math.PI * root * ratio * k * t * (1 + 0.002 * ratio)) / (k * 1.5);
        return g * 0.05 * v * Math.min(1, t / 0.08) * Math.min(1, Math.max(0, (endSec - at + 0.05 - t) / 0.05));
      });
    },
    stab: (at, g, root) =>
      add(at, 0.12, (t) => {
        let v = 0;
        for (const ratio of [4, 5, 6])
          for (let k = 1; k <= 4; k++) v += Math.sin(2 * Math.PI * root * ratio * k * t) / (k * k);
        return g * 0.12 * v * Math.exp(-t * 25) * Math.min(1, t * 400);
      }),
  };
  const gain = options.gain ?? 1;
  for (let bar = 0; bar < options.bars; bar++) {
    const root = roots[(bar + (options.firstRoot ?? 0)) % roots.length]!;
    for (const [instrument, pattern] of Object.entries(options.patterns) as Array<[Instrument, string]>) {
      if (pattern.length !== barSteps)
        throw new Error(`${instrument} pattern has ${pattern.length} steps, not ${barSteps}`);
      for (let step = 0; step < barSteps; step++) {
        const hit = GAINS[pattern[step]!];
        if (hit !== undefined) play[instrument](lead + (bar * barSteps + step) * stepSec, hit * gain, root);
      }
    }
  }
  return { samples, sampleRateHz: rate, beats, downbeats };
}

/** Grooves whose beat phase is known, several of them with most of their energy off the beat. */
export const GROOVES = {
  rock: {
    bpm: 120,
    patterns: {
      kick: 'X.......X.x.....',
      snare: '....X.......X...',
      hat: 'x.x.x.x.x.x.x.x.',
      bass: 'x.......x.x.....',
    },
  },
  /** Bass, kick and stabs on the 16th-note syncopations, the snare's backbeat the only on-beat accent. */
  funk: {
    bpm: 104,
    patterns: {
      kick: 'x..X..X..X....X.',
      snare: '..o.X.....o.X..o',
      hat: 'xoxoxoxoxoxoxoxo',
      bass: 'o..X..X..X....Xx',
      stab: '...x..x..x....x.',
    },
  },
  /** Ska: the guitar skank on every offbeat, kick on 1 and 3, snare on 2 and 4. */
  ska: {
    bpm: 140,
    patterns: {
      kick: 'X.......X.......',
      snare: '....x.......x...',
      stab: '..X...X...X...X.',
      bass: 'x...x...x...x...',
    },
  },
  /** Reggae one drop: kick and rim on beat 3 only, skank on the offbeats, a syncopated bass. */
  oneDrop: {
    bpm: 76,
    patterns: {
      kick: '........X.......',
      rim: '........x.......',
      stab: '..X...X...X...X.',
      hat: 'o.x.o.x.o.x.o.x.',
      bass: 'x.....x.....x...',
    },
  },
  /** House: four on the floor, open hats on the offbeats, claps on 2 and 4. */
  offbeatHats: {
    bpm: 124,
    patterns: {
      kick: 'X...X...X...X...',
      openHat: '..X...X...X...X.',
      clap: '....x.......x...',
      hat: 'o.o.o.o.o.o.o.o.',
      bass: 'x.....x...x.....',
    },
  },
  /** Offbeat ("rolling") bass under a four-on-the-floor kick. */
  offbeatBass: {
    bpm: 130,
    patterns: { kick: 'X...X...X...X...', bass: '..X...X...X...X.', hat: '..x...x...x...x.' },
  },
  /** Reggaeton's dembow: kick on every beat, snare on the 16th before beat 2 and on the and of 2. */
  dembow: {
    bpm: 94,
    patterns: {
      kick: 'X...X...X...X...',
      snare: '...x..x....x..x.',
      hat: 'x.x.x.x.x.x.x.x.',
      bass: 'x.....x.x.....x.',
    },
  },
  /** Drum & bass two-step at 172: kick on 1 and the and of 3, snare on 2 and 4. */
  twoStep: {
    bpm: 172,
    patterns: {
      kick: 'X.........X.....',
      snare: '....X.......X...',
      hat: 'x.x.x.x.x.x.x.x.',
      bass: 'x.........x.....',
    },
  },
} satisfies Record<string, Omit<GrooveOptions, 'bars'>>;

export interface SongSection {
  readonly label: string;
  readonly bars: number;
  readonly patterns: Partial<Record<Instrument, string>>;
  readonly gain?: number;
}

export interface Song extends Groove {
  /** Start of each section (s), in order. */
  readonly sectionStartsSec: number[];
}

/** A song of sections, each a groove of its own, on one bar grid with one chord progression. */
export function makeSong(options: {
  bpm: number;
  sections: readonly SongSection[];
  sampleRateHz?: number;
  leadInSec?: number;
  seed?: number;
}): Song {
  const rate = options.sampleRateHz ?? 22050;
  const lead = options.leadInSec ?? 0.5;
  const barSec = (4 * 60) / options.bpm;
  const totalBars = options.sections.reduce((n, s) => n + s.bars, 0);
  const samples = new Float32Array(Math.ceil((lead + totalBars * barSec + 2) * rate));
  const sectionStartsSec: number[] = [];
  let bar = 0;
  for (const [k, section] of options.sections.entries()) {
    const startSec = lead + bar * barSec;
    sectionStartsSec.push(startSec);
    const part = makeGroove({
      bpm: options.bpm,
      bars: section.bars,
      patterns: section.patterns,
      gain: section.gain,
      firstRoot: bar,
      leadInSec: 0,
      sampleRateHz: rate,
      seed: (options.seed ?? 1) + k,
    });
    const offset = Math.round(startSec * rate);
    for (let i = 0; i < part.samples.length && offset + i < samples.length; i++)
      samples[offset + i]! += part.samples[i]!;
    bar += section.bars;
  }
  const beats = Array.from({ length: totalBars * 4 }, (_, i) => lead + (i * barSec) / 4);
  return { samples, sampleRateHz: rate, beats, downbeats: beats.filter((_, i) => i % 4 === 0), sectionStartsSec };
}
