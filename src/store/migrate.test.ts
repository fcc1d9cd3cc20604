import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, dbKinds, type TestDatabase } from '../../test/helpers/db.js';
import { createDatabase } from './db.js';
import { migrations } from './migrations/index.js';

const run = promisify(execFile);
const PROCESSES = 4;
const INCREMENTS = 100;
const storeDir = fileURLToPath(new URL('.', import.meta.url));

/**
 * One process starting the service's store: open, migrate, print what it applied; then increment
 * a shared counter in read-then-write transactions, racing the other processes.
 */
const CHILD = `
  const { createDatabase } = await import(${JSON.stringify(`${storeDir}db.ts`)});
  const { migrateToLatest } = await import(${JSON.stringify(`${storeDir}migrate.ts`)});
  const { insertIgnore } = await import(${JSON.stringify(`${storeDir}insert-ignore.ts`)});
  const handle = await createDatabase(JSON.parse(process.env.M2P_DB_CONFIG));
  const applied = await migrateToLatest(handle.db);
  const key = { chain: 'eth', symbol: 'usdt', address: '0x' };
  await insertIgnore(handle.db, 'watched_addresses', { ...key, created_at: 0 });
  for (let i = 0; i < ${INCREMENTS}; i++) {
    await handle.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('watched_addresses').select('created_at').where('address', '=', '0x')
        .forUpdate().executeTakeFirstOrThrow();
      await trx.updateTable('watched_addresses').set({ created_at: row.created_at + 1 })
        .where('address', '=', '0x').execute();
    });
  }
  console.log(JSON.stringify(applied));
  await handle.close();
`;

describe.each(dbKinds)('migrations on %s', (kind) => {
  let test: TestDatabase | undefined;

  afterEach(async () => {
    await test?.cleanup();
  });

  it('applies each migration once when processes start together, and serialises their writes', async () => {
    test = await createTestDatabase(kind);
    const env = { ...process.env, M2P_DB_CONFIG: JSON.stringify(test.config) };
    const children = Array.from({ length: PROCESSES }, () =>
      run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], { env }),
    );
    // Settle all before asserting, so cleanup never races a child still writing.
    const settled = await Promise.allSettled(children);
    const applied = settled.map((c) => {
      if (c.status === 'rejected') throw c.reason;
      return JSON.parse(c.value.stdout) as string[];
    });
    expect(applied.flat()).toEqual(Object.keys(migrations));
    const handle = await createDatabase(test.config);
    const counter = await handle.db.selectFrom('watched_addresses').select('created_at').executeTakeFirst();
    await handle.close();
    expect(counter?.created_at).toBe(PROCESSES * INCREMENTS);
  });
});
