#!/usr/bin/env python3
"""Writes a seeded CSV for measuring `idledger import` (docs/import.md).

Usage: Tools/gen-import-csv.py ROWS OUT.csv [--seed N]

Columns: external_id (unique), email (access), phone, cookie, name, city, at.
About 2% of rows repeat an earlier external_id (updates), 0.5% carry an invalid
email (rejections), and some names hold quotes, commas and line breaks.
"""
import argparse
import csv
import random

parser = argparse.ArgumentParser()
parser.add_argument("rows", type=int)
parser.add_argument("out")
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

rng = random.Random(args.seed)
cities = ["Leeds", "Lyon", "Graz", "Porto", "Turku", "Cork", "Brno", "Gent"]
with open(args.out, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["external_id", "email", "access:email", "phone", "cookie", "name", "city", "at"])
    for i in range(1, args.rows + 1):
        n = i
        if i > 100 and rng.random() < 0.02:
            n = rng.randint(1, i - 1)  # an update of an earlier customer
        email = f"user{n}@example.com" if rng.random() >= 0.005 else f"broken{i}.example.com"
        phone = f"+4477009{n % 100000:05d}" if rng.random() < 0.5 else ""
        name = rng.choice([f"Customer {n}", f'Customer "{n}"', f"Customer, {n}", f"Customer\n{n}"])
        day = 1 + (i % 28)
        w.writerow([f"EXT-{n:08d}", email, "true", phone, f"ck-{i:x}", name, rng.choice(cities), f"2026-10-{day:02d}T12:00:00Z"])
