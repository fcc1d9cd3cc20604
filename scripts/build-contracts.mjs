#!/usr/bin/env node
// Compiles contracts/*.sol with the bundled solc-js (no compiler download) and writes one
// contracts/<ContractName>.json ({ abi, bytecode }) per contract. The artifacts are committed so the
// service and the tests never need a compiler at run time.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const contractsDir = join(root, 'contracts');

const sources = {};
for (const file of readdirSync(contractsDir)
  .filter((f) => f.endsWith('.sol'))
  .sort()) {
  sources[file] = { content: readFileSync(join(contractsDir, file), 'utf8') };
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    // paris: no PUSH0, so the bytecode deploys on any EVM devnet or older test chain.
    evmVersion: 'paris',
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
for (const e of output.errors ?? []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);

for (const [file, contracts] of Object.entries(output.contracts ?? {})) {
  for (const [name, compiled] of Object.entries(contracts)) {
    const artifact = { abi: compiled.abi, bytecode: `0x${compiled.evm.bytecode.object}` };
    const out = join(contractsDir, `${name}.json`);
    writeFileSync(out, `${JSON.stringify(artifact, null, 2)}\n`);
    console.log(`${file}:${name} -> ${out} (solc ${solc.version()})`);
  }
}
