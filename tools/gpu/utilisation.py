"""Joins the bench's measurement windows (label, start, end in Unix seconds) with nvidia-smi samples and prints the
mean GPU utilisation, memory-controller utilisation, SM clock and power per window as a Markdown table."""
import csv
import sys
from datetime import datetime


def samples(path):
    rows = []
    with open(path) as f:
        for rec in csv.reader(f):
            if len(rec) < 6:
                continue
            try:
                t = datetime.strptime(rec[0].strip(), "%Y/%m/%d %H:%M:%S.%f").timestamp()
                rows.append((t, *(float(v) for v in rec[1:6])))
            except ValueError:
                continue
    return rows


def main(windows_path, smi_path):
    smi = samples(smi_path)
    print()
    print("| window | samples | GPU util % | memory util % | MiB used | SM MHz | W |")
    print("|---|---|---|---|---|---|---|")
    with open(windows_path) as f:
        for label, start, end in csv.reader(f):
            inside = [s for s in smi if float(start) <= s[0] <= float(end)]
            if not inside:
                print(f"| {label} | 0 | – | – | – | – | – |")
                continue
            mean = [sum(s[i] for s in inside) / len(inside) for i in range(1, 6)]
            print(f"| {label} | {len(inside)} | {mean[0]:.0f} | {mean[1]:.0f} | {mean[2]:.0f} | {mean[3]:.0f} | {mean[4]:.0f} |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
