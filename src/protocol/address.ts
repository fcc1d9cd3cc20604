/** Lives in internal/ so that config/ (a lower layer) can use it too; the protocol's rules are the same. */
export { toAddressLc } from '../internal/address.js';
