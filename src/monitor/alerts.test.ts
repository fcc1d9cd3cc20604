import { describe, expect, it } from 'vitest';
import { defaultAlertsConfig } from '../config/alerts.js';
import { type AlertInputs, type ChainAlertInputs, evaluateAlerts } from './alerts.js';

const eth: ChainAlertInputs = {
  chain: 'ETH',
  native: { symbol: 'ETH', decimals: 18 },
  collectionGasRaw: 10n ** 18n,
  watcherLag: 0,
  nodeDown: undefined,
};
const bsc: ChainAlertInputs = { ...eth, chain: 'BSC', native: { symbol: 'BNB', decimals: 18 } };
const quiet: AlertInputs = {
  pending: 3,
  queues: [{ queue: 'pay.withdraw.queue', usage: 0.01 }],
  failureRatio: 0,
  memoryRatio: 0.2,
  cpuRatio: 0.05,
  chains: [eth],
  brokerConnected: true,
  oldestInFlightMs: 60_000,
  unresolvedPayouts: 0,
  sweeps: [],
};
const config = defaultAlertsConfig();
const names = (inputs: Partial<AlertInputs>) =>
  evaluateAlerts({ ...quiet, ...inputs }, config).map((a) => `${a.name}:${a.severity}`);
/** The alerts of ETH's inputs changed by `change`. */
const onEth = (change: Partial<ChainAlertInputs>) => names({ chains: [{ ...eth, ...change }] });

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
    expect(onEth({ collectionGasRaw: 49_999_999_999_999_999n })).toEqual(['collection_gas:critical']);
    expect(onEth({ collectionGasRaw: 50_000_000_000_000_000n })).toEqual([]);
    expect(onEth({ watcherLag: 11 })).toEqual(['watcher_lag:warning']);
    expect(
      names({ brokerConnected: false, chains: [{ ...eth, nodeDown: 'the node has not answered for 31 s' }] }),
    ).toEqual(['broker_down:critical', 'node_down:critical']);
    const [gas] = evaluateAlerts({ ...quiet, chains: [{ ...eth, collectionGasRaw: 10n ** 16n }] }, config);
    expect(gas).toEqual({
      name: 'collection_gas',
      severity: 'critical',
      chain: 'ETH',
      message: 'chain ETH: collection wallet has 0.01 ETH for gas (floor 0.05)',
    });
  });

  it("fires a chain's alerts for that chain alone, naming it and its coin", () => {
    const alerts = evaluateAlerts(
      {
        ...quiet,
        chains: [
          eth,
          {
            ...bsc,
            collectionGasRaw: 10n ** 15n,
            watcherLag: 12,
            nodeDown: 'the node has not answered for 40 s',
          },
        ],
      },
      config,
    );
    expect(alerts).toEqual([
      {
        name: 'collection_gas',
        severity: 'critical',
        chain: 'BSC',
        message: 'chain BSC: collection wallet has 0.001 BNB for gas (floor 0.05)',
      },
      {
        name: 'watcher_lag',
        severity: 'warning',
        chain: 'BSC',
        message: 'chain BSC: watcher 12 blocks behind the node (above 10)',
      },
      {
        name: 'node_down',
        severity: 'critical',
        chain: 'BSC',
        message: 'chain BSC: the node has not answered for 40 s',
      },
    ]);
  });

  it("warns when the last sweep round's gas wallet could not fund it, for that chain alone", () => {
    const gasWallet = { address: '0xgas', balance: '0.0001', needed: '0.00031', canFund: false };
    const sweep = { chain: 'BSC', symbol: 'BNB', enabled: true, gasWallet };
    expect(evaluateAlerts({ ...quiet, sweeps: [sweep] }, config)).toEqual([
      {
        name: 'sweep_gas',
        severity: 'warning',
        chain: 'BSC',
        message:
          'chain BSC: the gas wallet 0xgas cannot fund the sweep round: it needs 0.00031 BNB, has 0.0001 BNB (less its payouts in flight; or the vault has no key for it); deposit wallets wait',
      },
    ]);
    expect(names({ sweeps: [{ ...sweep, gasWallet: { ...gasWallet, canFund: true } }] })).toEqual([]);
    // Before the first round, and while sweeping is disabled, nothing is known of the round.
    expect(names({ sweeps: [{ ...sweep, gasWallet: undefined }] })).toEqual([]);
    expect(names({ sweeps: [{ ...sweep, enabled: false }] })).toEqual([]);
  });

  it('holds a native coin of other decimals to the same floor in whole units', () => {
    const six = { ...bsc, native: { symbol: 'SIX', decimals: 6 } };
    expect(names({ chains: [{ ...six, collectionGasRaw: 49_999n }] })).toEqual(['collection_gas:critical']);
    expect(names({ chains: [{ ...six, collectionGasRaw: 50_000n }] })).toEqual([]);
  });

  it('never fires on what is not known yet, nor on a floor of 0', () => {
    expect(
      names({
        pending: undefined,
        queues: [],
        failureRatio: undefined,
        memoryRatio: undefined,
        cpuRatio: undefined,
        chains: [{ ...eth, collectionGasRaw: undefined, watcherLag: undefined }],
      }),
    ).toEqual([]);
    expect(
      evaluateAlerts(
        { ...quiet, chains: [{ ...eth, collectionGasRaw: 0n }] },
        { ...config, collectionGasFloorWei: 0n },
      ),
    ).toEqual([]);
  });
});
