#!/usr/bin/env node
import { Command } from 'commander';
import { normalizeLegacyFlags, resolveSignKey } from '../config/args.js';
import { type AuditFlags, runAudit } from './audit.js';
import { addContractCommands } from './contracts.js';
import { addDevCommands } from './dev.js';
import { addApprovalCommands, type ResolveFlags, runResolve } from './payout.js';
import { runSign } from './sign.js';
import { runStart, type StartFlags } from './start.js';
import { runSweep, type SweepFlags } from './sweep.js';
import { runWallet, type WalletAction, type WalletFlags } from './wallet.js';

const argv = normalizeLegacyFlags(process.argv);
const program = new Command()
  .name('m2pool-payment')
  .description('Self-hosted stablecoin payment service: deposits, withdrawals and payments over RabbitMQ');

program
  .command('start')
  .description('migrate the database, declare the topology, run until SIGINT/SIGTERM, then drain and exit 0')
  .option('--config <path>', 'config file (default: CONFIG_PATH, else ./config.json; none: embedded devnet)')
  .option('--key <secret>', 'message-signing secret (default: PAYMENT_SIGN_KEY)')
  .option(
    '--http-addr <host:port>',
    'listen here instead of http_config.addr (several instances on one machine)',
  )
  .action(async (flags: StartFlags) => {
    // Exit explicitly: a stopped service must not linger on a stray timer or socket.
    process.exit(await runStart(flags, argv));
  });

program
  .command('sign')
  .description('read a JSON message on standard input and print it with `sign` filled in')
  .option('--key <secret>', 'message-signing secret (default: PAYMENT_SIGN_KEY)')
  .action(async (flags: { key?: string }) => {
    process.exitCode = await runSign(flags.key || resolveSignKey(argv, process.env));
  });

const wallet = program
  .command('wallet')
  .description('the key vault: private keys stored encrypted under PAYMENT_MASTER_KEY');
const walletCommands: [WalletAction, string][] = [
  ['import', 'read one hex private key from standard input, store it encrypted, print its address'],
  ['new', 'create a key, store it encrypted, print its address'],
  ['list', 'print the stored addresses, never the keys'],
  [
    'init-hd',
    "create the HD root of the deposit addresses once (m/44'/60'/0'/0/i) and print its mnemonic, this once",
  ],
  [
    'derive',
    'issue the deposit address of a business user (the same one every time), print it and its index',
  ],
];
for (const [action, description] of walletCommands) {
  const command = wallet
    .command(action)
    .description(description)
    .option(
      '--config <path>',
      'config file (default: CONFIG_PATH, else ./config.json; none: the devnet under ./data)',
    );
  if (action === 'list') {
    command.option(
      '--balances',
      "each wallet's native and token balances on every configured chain, from its node",
    );
  }
  if (action === 'init-hd') {
    command.option('--import', 'read an existing BIP-39 mnemonic from standard input instead of making one');
  }
  if (action === 'derive') command.option('--user <ref>', 'the business user (user_ref)');
  command.action(async (flags: WalletFlags) => {
    process.exitCode = await runWallet(action, flags);
  });
}

program
  .command('audit')
  .description("print the history of a payout (--queue-id) or of a transaction's deposits and payouts (--tx)")
  .option('--queue-id <id>', 'the payout with this queue_id')
  .option(
    '--tx <hash>',
    'the deposits and payouts of this transaction hash (any hash a payout was sent with)',
  )
  .option(
    '--config <path>',
    'config file (default: CONFIG_PATH, else ./config.json; none: the devnet under ./data)',
  )
  .option('--json', 'print the entries as a JSON array')
  .action(async (flags: AuditFlags) => {
    process.exitCode = await runAudit(flags);
  });

const payout = program.command('payout').description('settle payouts that need the operator');
addApprovalCommands(payout);
payout
  .command('resolve')
  .description(
    'settle a payout held unresolved (its nonce was used, the node did not show by which transaction), answering it once',
  )
  .argument('<queue_id>', 'the payout')
  .option('--paid <tx_hash>', 'the transaction that paid it (checked on chain): answered status 1')
  .option('--failed <reason>', 'it was not paid: answered status 0 with error not_paid and this reason')
  .option(
    '--config <path>',
    'config file (default: CONFIG_PATH, else ./config.json; none: the devnet under ./data)',
  )
  .option('--key <secret>', 'the message-signing secret (default: PAYMENT_SIGN_KEY)')
  .action(async (queueId: string, flags: ResolveFlags) => {
    process.exitCode = await runResolve(queueId, flags);
  });

program
  .command('sweep')
  .description(
    "sweeping the issued deposit wallets into the collection wallet: with --dry-run, each chain's plan, nothing sent",
  )
  .option('--dry-run', 'print the plan (wallets, amounts, gas, top-ups, the gas wallet) and send nothing')
  .option('--chain <name>', 'only this chain')
  .option(
    '--config <path>',
    'config file (default: CONFIG_PATH, else ./config.json; none: the devnet under ./data)',
  )
  .action(async (flags: SweepFlags) => {
    process.exitCode = await runSweep(flags);
  });

addContractCommands(program);
addDevCommands(program);

await program.parseAsync(argv);
