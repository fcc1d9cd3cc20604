export { decryptPrivateKey, encryptPrivateKey } from './crypto.js';
export { hdPath, mnemonicToSeed, newMnemonic } from './hd.js';
export { createHdKeys, type HdInitOutcome, type HdKeys } from './hd-keys.js';
export { type MasterKey, parseMasterKey } from './master-key.js';
export { Redacted, redact } from './redacted.js';
export { createVault, listWallets, parsePrivateKey, type Vault, type VaultOptions } from './vault.js';
