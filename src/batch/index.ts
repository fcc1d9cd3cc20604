export { type ApproveCall, allowanceCalls, batchTotal, readBatcherAllowance } from './allowance.js';
export {
  type BatchItem,
  batcherAbi,
  batcherDeployData,
  batchRef,
  batchTransferData,
  readContractArtifact,
} from './contract.js';
export { type DeployBatcherDeps, type DeployedBatcher, type DeployFees, deployBatcher } from './deploy.js';
export {
  type BatchOutcome,
  type BatchSettlement,
  decodeBatchOutcomes,
  type ReceiptLogs,
  settleBatch,
} from './outcomes.js';
