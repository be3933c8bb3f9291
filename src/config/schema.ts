import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Finds a file of the project's top level both from src/ (tsx) and from the bundle in dist/. */
export function projectFile(relative: string): string {
  for (const base of ['../../', '../']) {
    const path = fileURLToPath(new URL(base + relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`project file not found: ${relative}`);
}

export function loadJsonFile<T>(relative: string): T {
  return JSON.parse(readFileSync(projectFile(relative), 'utf8')) as T;
}
