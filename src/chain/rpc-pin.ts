import type { PublicClient } from 'viem';
import type { Logger } from '../internal/logger.js';
import type { RpcOptions } from '../internal/options.js';

/** The node the watcher's calls go to, for /ready and the status page: never its URL (keys live in it). */
export interface RpcNode {
  /** Its place in `rpcUrls`: 0 is the preferred one. */
  index: number;
  /** Nodes configured. */
  count: number;
  /** Scheme and host only (`redactUrls`). */
  host: string;
}

export interface PinnedNode {
  host: string;
  client: PublicClient;
}

/**
 * A preferred node may be this many blocks behind the node in use and still be gone back to: a node that
 * is further behind (still syncing) would make the watcher wait for it at every pass.
 */
const PREFERRED_MAX_LAG_BLOCKS = 2;

/**
 * Which node the watcher's calls go to. The watcher must never mix the answers of two nodes within one
 * block (one node's block 100 and another's logs of a block 100 that may be another block), so the pin
 * moves only at a safe point, where the watcher starts a pass from its stored cursor:
 * - `failed()` after a call failed in transport on the pinned node: from then on every call fails at
 *   once (`isFailing`), and the next `atSafePoint()` moves to the next node (in turn, wrapping);
 * - while a node other than the first is pinned, every `preferredRetryMs` a safe point asks the nodes
 *   before it for their head, in the background; the next safe point after one answered (and is not
 *   behind) moves back to the first of those.
 * Until the first `atSafePoint()` (a client nobody drives through passes: the chain-id probe of a start)
 * `failed()` moves at once. Each move bumps `pin()`: an answer of an earlier pin is never used.
 */
export function createNodePin(
  deps: { nodes: readonly PinnedNode[]; logger: Logger | undefined },
  options: Pick<RpcOptions, 'preferredRetryMs' | 'preferredProbeTimeoutMs'>,
) {
  const { nodes, logger } = deps;
  let active = 0;
  let pin = 0;
  /** Some caller drives safe points: a failed node is left only at one. */
  let managed = false;
  let failing = false;
  let movedAt = 0;
  let askedAt = 0;
  let asking = false;
  /** A node before the pinned one that answered the last ask, and when. */
  let answered: { index: number; at: number } | undefined;

  function moveTo(index: number, reason: string) {
    const from = nodes[active]!;
    active = index;
    pin++;
    failing = false;
    answered = undefined;
    movedAt = Date.now();
    askedAt = 0;
    logger?.warn(
      { from: from.host, to: nodes[index]!.host, node: index, nodes: nodes.length, reason },
      'node calls go to another node',
    );
  }

  async function headOf(index: number): Promise<number> {
    const head = await nodes[index]!.client.request(
      { method: 'eth_blockNumber' },
      { retryCount: 0, signal: AbortSignal.timeout(options.preferredProbeTimeoutMs) },
    );
    return Number(BigInt(head));
  }

  /** Asks the nodes before the pinned one for their head; remembers the first one that answers in step. */
  async function askPreferred() {
    asking = true;
    const from = active;
    try {
      const [current, ...preferred] = await Promise.allSettled([
        headOf(from),
        ...nodes.slice(0, from).map((_, i) => headOf(i)),
      ]);
      const floor = current?.status === 'fulfilled' ? current.value - PREFERRED_MAX_LAG_BLOCKS : 0;
      const index = preferred.findIndex((r) => r.status === 'fulfilled' && r.value >= floor);
      if (index >= 0 && active === from) answered = { index, at: Date.now() };
      else logger?.debug({ node: from }, 'no preferred node answers in step yet');
    } finally {
      asking = false;
    }
  }

  return {
    /** The pinned node, and the pin it belongs to. */
    current: () => ({ node: nodes[active]!, pin }),
    pin: () => pin,
    /** The pinned node failed: calls fail until the next safe point. */
    isFailing: () => failing,
    /** A call that was sent under `at` failed in transport on its node. */
    failed(at: number) {
      if (nodes.length === 1 || at !== pin) return;
      if (managed) failing = true;
      else moveTo((active + 1) % nodes.length, 'the node failed');
    },
    atSafePoint() {
      managed = true;
      if (nodes.length === 1) return;
      if (failing) {
        moveTo((active + 1) % nodes.length, 'the node failed');
        return;
      }
      if (active === 0) return;
      const now = Date.now();
      if (answered && answered.index < active && now - answered.at <= options.preferredRetryMs) {
        moveTo(answered.index, 'a preferred node answers again');
        return;
      }
      if (!asking && now - Math.max(movedAt, askedAt) >= options.preferredRetryMs) {
        askedAt = now;
        askPreferred().catch((err: unknown) => logger?.debug({ err }, 'asking the preferred nodes failed'));
      }
    },
    info: (): RpcNode => ({ index: active, count: nodes.length, host: nodes[active]!.host }),
  };
}
