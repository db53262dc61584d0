// Environment from a .env file (dotenv), for options given as variables.
// dotenv does nothing unless ./.env exists or DOTENV_KEY is set (its
// encrypted .env.vault): only then is it loaded, which keeps its module
// loading (a good part of a start-up with little data) out of a plain start.

import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** What dotenv's config({ quiet: true }) does: variables from ./.env (or the vault) that the environment does not set already. */
export async function loadEnvFile(): Promise<void> {
  if (!process.env.DOTENV_KEY && !existsSync(join(process.cwd(), '.env'))) return;
  const { config } = await import('dotenv');
  config({ quiet: true } as Parameters<typeof config>[0]);
}
