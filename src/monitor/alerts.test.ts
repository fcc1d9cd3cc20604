import { describe, expect, it } from 'vitest';
import { defaultAlertsConfig } from '../config/alerts.js';
import { type AlertInputs, evaluateAlerts } from './alerts.js';

const quiet: AlertInputs = {
  pending: 3,
  queues: [{ queue: 'pay.withdraw.queue', usage: 0.01 }],
  failureRatio: 0,
  memoryRatio: 0.2,
  cpuRatio: 0.05,
  collectionGasWei: 10n ** 18n,
  watcherLag: 0,
  brokerConnected: true,
  nodeDown: false,
  oldestInFlightMs: 60_000,
  unresolvedPayouts: 0,
};
const config = defaultAlertsConfig();
const names = (inputs: Partial<AlertInputs>) =>
  evaluateAlerts({ ...quiet, ...inputs }, config).map((a) => `${a.name}:${a.severity}`);

describe('evaluateAlerts', () => {
  it('raises nothing when every value is under its threshold', () => {
    expect(evaluateAlerts(quiet, config)).toEqual([]);
  });

  it('uses the v2 thresholds: above warning, above critical (only the higher is reported)', () => {
    expect(names({ pending: 100 })).toEqual([]);
    expect(names({ pending: 101 })).toEqual(['pending:warning']);
    expect(names({ pending: 501 })).toEqual(['pending:critical']);
    expect(names({ queues: [{ queue: 'q', usage: 0.81 }] })).toEqual(['queue_usage:warning']);
    expect(names({ queues: [{ queue: 'q', usage: 0.96 }] })).toEqual(['queue_usage:critical']);
    expect(names({ failureRatio: 0.06 })).toEqual(['failure_rate:warning']);
    expect(names({ failureRatio: 0.11 })).toEqual(['failure_rate:critical']);
    expect(names({ memoryRatio: 0.85 })).toEqual(['memory:warning']);
    expect(names({ memoryRatio: 0.96 })).toEqual(['memory:critical']);
    expect(names({ cpuRatio: 0.75 })).toEqual(['cpu:warning']);
    expect(names({ cpuRatio: 0.95 })).toEqual(['cpu:critical']);
  });

  it('pages for a payout that waits too long for a block, and for any payout held unresolved', () => {
    expect(names({ oldestInFlightMs: 30 * 60_000 })).toEqual([]);
    expect(names({ oldestInFlightMs: 31 * 60_000 })).toEqual(['payout_stuck:warning']);
    expect(names({ oldestInFlightMs: undefined })).toEqual([]);
    expect(names({ unresolvedPayouts: 1 })).toEqual(['payout_unresolved:critical']);
  });

  it('names the fullest queue', () => {
    const [alert] = evaluateAlerts(
      {
        ...quiet,
        queues: [
          { queue: 'a', usage: 0.85 },
          { queue: 'b', usage: 0.9 },
        ],
      },
      config,
    );
    expect(alert?.message).toContain('queue b at 90%');
  });

  it('fires on gas below the floor, watcher lag, broker and node down', () => {
    expect(names({ collectionGasWei: 49_999_999_999_999_999n })).toEqual(['collection_gas:critical']);
    expect(names({ collectionGasWei: 50_000_000_000_000_000n })).toEqual([]);
    expect(names({ watcherLag: 11 })).toEqual(['watcher_lag:warning']);
    expect(names({ brokerConnected: false, nodeDown: true })).toEqual([
      'broker_down:critical',
      'node_down:critical',
    ]);
    const [gas] = evaluateAlerts({ ...quiet, collectionGasWei: 10n ** 16n }, config);
    expect(gas?.message).toBe('collection wallet has 0.01 ETH for gas (floor 0.05)');
  });

  it('never fires on what is not known yet, nor on a floor of 0', () => {
    expect(
      names({
        pending: undefined,
        queues: [],
        failureRatio: undefined,
        memoryRatio: undefined,
        cpuRatio: undefined,
        collectionGasWei: undefined,
        watcherLag: undefined,
      }),
    ).toEqual([]);
    expect(
      evaluateAlerts({ ...quiet, collectionGasWei: 0n }, { ...config, collectionGasFloorWei: 0n }),
    ).toEqual([]);
  });
});
