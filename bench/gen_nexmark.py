#!/usr/bin/env python3
"""Writes a Nexmark event stream as three CSV tables (person, auction, bid),
the input of the windowed Nexmark queries (q5, q8, q11):

    gen_nexmark.py OUT_DIR EVENTS [INTERVAL_MS=1] [BID_FILES=1]

Like Nexmark's generator, of every 50 events 1 is a new person, 3 are new
auctions and 46 are bids; event n happens at n * INTERVAL_MS after
2024-01-01. Auctions are sold by recent persons; bids go to recent auctions
(a hot tenth of them get half the bids) from recent persons. Deterministic
(seeded). Writes OUT_DIR/person.csv, OUT_DIR/auction.csv and
OUT_DIR/bid/bids-NNN.csv (bids round-robin over the files).
"""
import os
import random
import sys
from datetime import datetime, timedelta

CHANNELS = ["Google", "Facebook", "Baidu", "Apple"]
FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"]
LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"]
CITIES = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"]
STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"]
FIRST_PERSON, FIRST_AUCTION = 1000, 1000


def stamp(t):
    return f"{t:%Y-%m-%d %H:%M:%S.%f}"[:-3]


def main():
    out, events = sys.argv[1], int(sys.argv[2])
    interval = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    bid_files = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    os.makedirs(os.path.join(out, "bid"), exist_ok=True)
    rnd = random.Random(7)
    start = datetime(2024, 1, 1)
    persons, auctions, bids = 0, 0, 0
    person = open(os.path.join(out, "person.csv"), "w")
    auction = open(os.path.join(out, "auction.csv"), "w")
    # Bids go round-robin to the files, so every file spans the whole time
    # range, as the partitions of a topic do.
    bid_files = [open(os.path.join(out, "bid", f"bids-{f:03d}.csv"), "w") for f in range(bid_files)]
    bid_lines = [[] for _ in bid_files]
    for n in range(events):
        t = start + timedelta(milliseconds=n * interval)
        kind = n % 50
        if kind == 0:
            pid = FIRST_PERSON + persons
            persons += 1
            name = f"{rnd.choice(FIRST_NAMES)} {rnd.choice(LAST_NAMES)}"
            email = f"{name.split()[0].lower()}{pid}@example.com"
            card = " ".join(f"{rnd.randrange(10000):04d}" for _ in range(4))
            person.write(f"{pid},{name},{email},{card},{rnd.choice(CITIES)},{rnd.choice(STATES)},{stamp(t)},{'p' * rnd.randrange(3, 12)}\n")
        elif kind <= 3:
            aid = FIRST_AUCTION + auctions
            auctions += 1
            seller = FIRST_PERSON + max(0, persons - 1 - rnd.randrange(min(persons, 20) or 1))
            initial = int(10 ** (rnd.random() * 4)) + 1
            expires = t + timedelta(milliseconds=rnd.randrange(1000, 20000) * interval)
            auction.write(f"{aid},item-{aid},description of {aid},{initial},{initial + rnd.randrange(1000)},{stamp(t)},{stamp(expires)},{seller},{10 + rnd.randrange(5)},{'a' * rnd.randrange(3, 12)}\n")
        else:
            open_auctions = max(1, min(auctions, 500))
            pick = rnd.randrange(max(1, open_auctions // 10)) if rnd.random() < 0.5 else rnd.randrange(open_auctions)
            aid = FIRST_AUCTION + max(0, auctions - 1 - pick)
            bidder = FIRST_PERSON + max(0, persons - 1 - rnd.randrange(max(1, min(persons, 1000))))
            price = int(10 ** (rnd.random() * 6)) + 1
            channel = rnd.choice(CHANNELS) if rnd.random() < 0.9 else f"channel-{rnd.randrange(10000)}"
            url = f"https://www.nexmark.com/item.htm?query=1&channel_id={rnd.randrange(1 << 20)}"
            f = bids % len(bid_files)
            bid_lines[f].append(f"{aid},{bidder},{price},{channel},{url},{stamp(t)},{'b' * rnd.randrange(5, 20)}\n")
            bids += 1
            if len(bid_lines[f]) >= 100000:
                bid_files[f].writelines(bid_lines[f])
                bid_lines[f] = []
    for fh, lines in zip(bid_files, bid_lines):
        fh.writelines(lines)
        fh.close()
    person.close()
    auction.close()
    print(f"wrote {persons} persons, {auctions} auctions, {bids} bids to {out}")


if __name__ == "__main__":
    main()
