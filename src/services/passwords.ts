/**
 * Password hashing: argon2id for new hashes; Synapse's bcrypt hashes ($2a$/$2b$/$2y$) are verified
 * too, so a Synapse user table can be imported. Both verifiers compare in constant time.
 */
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';

// @node-rs/argon2's Algorithm is an ambient const enum, which isolated modules cannot read: Argon2id = 2.
const ARGON2ID = 2;
import bcrypt from 'bcryptjs';

/**
 * OWASP's argon2id baseline (19 MiB, 2 passes) in two lanes: an attacker's cost per guess is the
 * memory and passes, unchanged, while a login on a multi-core server waits about a third less
 * (RFC 9106 §4: parallelism is chosen by the defender's cores).
 */
export async function hashPassword(password: string): Promise<string> {
  return argon2Hash(password, { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 2 });
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  if (!stored) return false;
  try {
    if (stored.startsWith('$argon2')) return await argon2Verify(stored, password);
    if (/^\$2[aby]\$/.test(stored)) return await bcrypt.compare(password, stored);
  } catch {
    return false;
  }
  return false;
}
