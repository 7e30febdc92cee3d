#!/usr/bin/env python3
"""Writes Nexmark-shaped bid events as CSV, the input of the stateless
Nexmark queries (q0, q1, q2, q14, q21, q22):

    gen_bids.py OUT_DIR EVENTS [FILES]

Columns: auction, bidder, price, channel, url, dateTime, extra — the fields
of Nexmark's Bid, with the generator's distributions simplified (hot
auctions and bidders, prices log-distributed, one event per millisecond).
"""
import os
import random
import sys
from datetime import datetime, timedelta

CHANNELS = ["Google", "Facebook", "Baidu", "Apple"]


def main():
    out, events = sys.argv[1], int(sys.argv[2])
    files = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(42)
    start = datetime(2024, 1, 1)
    per_file = (events + files - 1) // files
    n = 0
    for f in range(files):
        with open(os.path.join(out, f"bids-{f:03d}.csv"), "w") as fh:
            lines = []
            for _ in range(min(per_file, events - n)):
                auction = 1000 + (rnd.randrange(100) if rnd.random() < 0.5 else rnd.randrange(100000))
                bidder = 1000 + (rnd.randrange(100) if rnd.random() < 0.5 else rnd.randrange(100000))
                price = int(10 ** (rnd.random() * 6)) + 1
                channel = rnd.choice(CHANNELS) if rnd.random() < 0.9 else f"channel-{rnd.randrange(10000)}"
                url = f"https://www.nexmark.com/item.htm?query=1&channel_id={rnd.randrange(1 << 20)}"
                ts = start + timedelta(milliseconds=n)
                extra = "x" * rnd.randrange(5, 20)
                lines.append(f"{auction},{bidder},{price},{channel},{url},{ts:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f",{extra}\n")
                n += 1
                if len(lines) >= 100000:
                    fh.writelines(lines)
                    lines = []
            fh.writelines(lines)
    print(f"wrote {n} bids to {out}")


if __name__ == "__main__":
    main()
