export { decryptPrivateKey, encryptPrivateKey } from './crypto.js';
export { type MasterKey, parseMasterKey } from './master-key.js';
export { Redacted, redact } from './redacted.js';
export { createVault, listWallets, parsePrivateKey, type Vault, type VaultOptions } from './vault.js';
