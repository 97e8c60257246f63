"""``python -m connectors.sandbox --port 8099 [--host 127.0.0.1] [--seed 0] [--orders 50] [--catalog file.json]``"""
from __future__ import annotations

import argparse
import json

from . import run_sandbox


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m connectors.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--orders", type=int, default=0, help="orders to create per channel at start")
    parser.add_argument("--catalog", help="JSON file: a list of {sku, name, price}")
    parser.add_argument("--trickle", type=float, default=0,
                        help="every that many seconds, a new order on each channel")
    args = parser.parse_args(argv)
    catalog = None
    if args.catalog:
        with open(args.catalog, encoding="utf-8") as fh:
            catalog = json.load(fh)
    run_sandbox(args.host, args.port, catalog, seed=args.seed, orders=args.orders, trickle=args.trickle)


if __name__ == "__main__":
    main()
