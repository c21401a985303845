import { fileURLToPath } from 'node:url';

/** The installed package's root folder (this file is at src/shared or dist/shared). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const DEFAULT_MAPPING_PATH = fileURLToPath(new URL('../../mappings/default.yaml', import.meta.url));
