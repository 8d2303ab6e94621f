"""One gateway instance for test_two_gateways.py, run as its own process.

It waits for the go signal, enqueues its share of calls all at once, and plays the call layer
for the calls it owns: each connect rings, is answered, ends and the agent ends wrap-up, after
a few random milliseconds. It prints a JSON summary when all its calls are done.
"""
import argparse
import asyncio
import json
import random
import sys

import redis.asyncio as aioredis

from gateway.acd.queue_config import load_queue_config
from gateway.acd.roster import load_roster
from gateway.acd.service import Acd
from gateway.routing import RouteRequest


class AutoAnsweringCallLayer:
    """A Connector (gateway.acd.model) whose agents answer at once; queues here never announce
    nor end in an outcome, but the ACD may ask."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.acd = None
        self.connected: list[str] = []
        self.done = 0
        self.tasks = set()

    async def connect(self, call, agent) -> None:
        self.connected.append(call.call_id)
        task = asyncio.get_running_loop().create_task(self._play(call.call_id, agent.id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def announce(self, call, position, estimated_wait) -> None:
        pass  # the race is about booking agents, not about what callers hear

    async def queue_outcome(self, call, outcome) -> None:
        pass  # the race's queue has no last step, and connects never fail here

    async def _play(self, call_id: str, agent_id: str) -> None:
        await asyncio.sleep(self.rng.random() * 0.004)
        await self.acd.agent_ringing(agent_id, call_id)
        await self.acd.agent_answered(agent_id, call_id)
        await asyncio.sleep(self.rng.random() * 0.004)
        await self.acd.call_ended(call_id)
        await self.acd.end_wrapup(agent_id)
        self.done += 1


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--instance", required=True)
    parser.add_argument("--roster", required=True)
    parser.add_argument("--queues", required=True)
    parser.add_argument("--calls", type=int, required=True)
    args = parser.parse_args()

    # Thousands of coroutines share a bounded pool, as a gateway under a burst would.
    redis = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
        args.redis, max_connections=64, timeout=60))
    roster = load_roster(args.roster)
    queues = load_queue_config(args.queues, roster=roster)
    layer = AutoAnsweringCallLayer(random.Random(args.instance))
    acd = Acd(redis, roster, queues, connector=layer, key_prefix=args.prefix, instance=args.instance)
    layer.acd = acd
    await acd.start(background=True, tick_interval=0.5)
    await redis.incr(f"{args.prefix}:race:ready")
    while not await redis.exists(f"{args.prefix}:race:go"):
        await asyncio.sleep(0.005)

    route = RouteRequest("race", ("billing",), "tr", 0)
    await asyncio.gather(*(acd.enqueue(f"{args.instance}-{n}", f"PJSIP/in-{args.instance}-{n}", route)
                           for n in range(args.calls)))
    while layer.done < args.calls:
        await asyncio.sleep(0.01)
    await acd.stop()
    print(json.dumps({"instance": args.instance, "connected": layer.connected,
                      "lost_races": acd.dispatcher.lost_races}))
    await redis.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
