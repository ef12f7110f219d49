import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import writeFileAtomic from 'write-file-atomic';

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export async function writeAtomically(path: string, contents: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await writeFileAtomic(path, contents);
}
