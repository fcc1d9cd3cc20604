import type { Migration } from 'kysely';
import * as core from './0001_core.js';
import * as wallets from './0002_wallets.js';
import * as payouts from './0003_payouts.js';
import * as audit from './0004_audit.js';
import * as senderNonce from './0005_payout_txs_sender_nonce.js';
import * as payoutVersion from './0006_payout_version.js';
import * as outboxSubject from './0007_outbox_subject.js';
import * as noPadIds from './0008_nopad_ids.js';
import * as payoutChains from './0009_payout_chains.js';
import * as hdAddresses from './0010_hd_addresses.js';
import * as addressLookup from './0011_address_lookup.js';
import * as batches from './0012_batches.js';
import * as cluster from './0013_cluster.js';
import * as payoutRoutes from './0014_payout_routes.js';

/**
 * Every migration, in code rather than found on disk, so they ship inside dist/ and a bundle.
 * Kysely runs them in the order of these names. On SQLite each run is one transaction, where
 * PRAGMA foreign_keys has no effect.
 */
export const migrations: Record<string, Migration> = {
  '0001_core': core,
  '0002_wallets': wallets,
  '0003_payouts': payouts,
  '0004_audit': audit,
  '0005_payout_txs_sender_nonce': senderNonce,
  '0006_payout_version': payoutVersion,
  '0007_outbox_subject': outboxSubject,
  '0008_nopad_ids': noPadIds,
  '0009_payout_chains': payoutChains,
  '0010_hd_addresses': hdAddresses,
  '0011_address_lookup': addressLookup,
  '0012_batches': batches,
  '0013_cluster': cluster,
  '0014_payout_routes': payoutRoutes,
};
