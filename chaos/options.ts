/**
 * The sizes of a chaos run: `npm run chaos -- --seed N --payouts N --deposits N [--kills N --reorgs N
 * --broker-cuts N --db-cuts N --malformed N --instances N --second-instance --confirm-height N --lag-blocks N
 * --sweeps N | --no-sweeps --no-batches]`. Without flags: the default size, a few minutes on 2 cores.
 */
export interface ChaosOptions {
  seed: number;
  payouts: number;
  deposits: number;
  kills: number;
  reorgs: number;
  brokerCuts: number;
  dbCuts: number;
  malformed: number;
  /**
   * Service instances running from the start, all on the one database (sharing the work by leases,
   * ARCHITECTURE §5.4); the kills fall on any of them.
   */
  instances: number;
  /** One more instance started mid-run. */
  secondInstance: boolean;
  /** The service's confirmHeight; reorgs are 1..confirmHeight−1 deep. */
  confirmHeight: number;
  /** How many blocks the lagging backend of the RPC proxy is behind. */
  lagBlocks: number;
  /** How long the run may wait for the last answers once the faults stop (seconds). */
  drainS: number;
  /**
   * Issued HD deposit wallets that the service sweeps (a share of the deposits goes to them); 0, or
   * `--no-sweeps`: no HD root, no `sweep` section.
   */
  sweeps: number;
  /**
   * The collection wallet's withdrawals paid in batches through a batcher deployed at setup (PROTOCOL
   * §2.13); `--no-batches`: every payout its own transaction.
   */
  batches: boolean;
}

export const defaultChaosOptions: ChaosOptions = {
  seed: 1,
  payouts: 100,
  deposits: 100,
  kills: 5,
  reorgs: 10,
  brokerCuts: 5,
  dbCuts: 3,
  malformed: 1_000,
  instances: 1,
  secondInstance: false,
  confirmHeight: 6,
  lagBlocks: 3,
  drainS: 180,
  sweeps: 10,
  batches: true,
};

const numeric: Record<string, keyof ChaosOptions> = {
  '--seed': 'seed',
  '--payouts': 'payouts',
  '--deposits': 'deposits',
  '--kills': 'kills',
  '--reorgs': 'reorgs',
  '--broker-cuts': 'brokerCuts',
  '--db-cuts': 'dbCuts',
  '--malformed': 'malformed',
  '--confirm-height': 'confirmHeight',
  '--lag-blocks': 'lagBlocks',
  '--drain-s': 'drainS',
  '--sweeps': 'sweeps',
  '--instances': 'instances',
};

/** Throws on an unknown flag or a value that is not a whole number ≥ 0. */
export function parseChaosArgs(argv: string[]): ChaosOptions {
  const options: ChaosOptions = { ...defaultChaosOptions };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    if (flag === '--second-instance') {
      options.secondInstance = inline === undefined ? true : inline !== 'false';
      continue;
    }
    if (flag === '--no-batches' && inline === undefined) {
      options.batches = false;
      continue;
    }
    if (flag === '--no-sweeps' && inline === undefined) {
      options.sweeps = 0;
      continue;
    }
    const key = numeric[flag];
    if (!key) throw new Error(`unknown option ${arg}`);
    const text = inline ?? argv[++i];
    if (text === undefined || !/^\d+$/.test(text))
      throw new Error(`${flag} needs a whole number, found ${text ?? 'nothing'}`);
    (options as unknown as Record<string, number>)[key] = Number(text);
  }
  if (options.instances < 1) throw new Error('--instances must be at least 1');
  if (options.confirmHeight < 2)
    throw new Error('--confirm-height must be at least 2 (reorgs are 1..confirmHeight−1 deep)');
  return options;
}
