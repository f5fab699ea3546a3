#!/usr/bin/python3
"""Writes test/fixtures/tb_events.tfevents (+ tb_events.json) independently of src/report/tfevents.ts.

The Event/Summary/HistogramProto messages are built here from descriptors (google.protobuf
descriptor_pb2 + message_factory, the field numbers of tensorboard/compat/proto/event.proto,
summary.proto and histogram.proto; no protoc), records are framed as TensorFlow's record_writer.cc
does (length, masked CRC32C of the length, payload, masked CRC32C of the payload) with the crc32c
package, and histograms are made as torch.utils.tensorboard.summary.make_histogram makes them
(numpy.histogram, then trimmed to the non-empty buckets plus one empty bucket on the left).

The test reads this file with our reader and writes the same events with our writer, expecting the
same bytes. Histogram inputs are integers (cluster sizes), so sum and sum_squares are exact
whatever the summation order.

Run with Debian's python3-protobuf, python3-crc32c and python3-numpy: /usr/bin/python3 scripts/gen_tfevents_fixture.py
"""
import json
import os
import struct

import crc32c
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def build_messages():
    fdp = descriptor_pb2.FileDescriptorProto(name="tb_event_subset.proto", package="tensorboard", syntax="proto3")

    def field(msg, name, number, ftype, label=F.LABEL_OPTIONAL, type_name=None, oneof=None):
        f = msg.field.add(name=name, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name
        if oneof is not None:
            f.oneof_index = oneof
        return f

    h = fdp.message_type.add(name="HistogramProto")
    for i, n in enumerate(["min", "max", "num", "sum", "sum_squares"], start=1):
        field(h, n, i, F.TYPE_DOUBLE)
    field(h, "bucket_limit", 6, F.TYPE_DOUBLE, F.LABEL_REPEATED).options.packed = True
    field(h, "bucket", 7, F.TYPE_DOUBLE, F.LABEL_REPEATED).options.packed = True

    s = fdp.message_type.add(name="Summary")
    v = s.nested_type.add(name="Value")
    v.oneof_decl.add(name="value")
    field(v, "tag", 1, F.TYPE_STRING)
    field(v, "simple_value", 2, F.TYPE_FLOAT, oneof=0)
    field(v, "histo", 5, F.TYPE_MESSAGE, type_name=".tensorboard.HistogramProto", oneof=0)
    field(s, "value", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".tensorboard.Summary.Value")

    e = fdp.message_type.add(name="Event")
    e.oneof_decl.add(name="what")
    field(e, "wall_time", 1, F.TYPE_DOUBLE)
    field(e, "step", 2, F.TYPE_INT64)
    field(e, "file_version", 3, F.TYPE_STRING, oneof=0)
    field(e, "summary", 5, F.TYPE_MESSAGE, type_name=".tensorboard.Summary", oneof=0)

    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("tensorboard.Event")
    get = getattr(message_factory, "GetMessageClass", None)
    return get(desc) if get else message_factory.MessageFactory(pool).GetPrototype(desc)


def masked_crc(data):
    c = crc32c.crc32c(data) & 0xFFFFFFFF
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(payload):
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc(header)) + payload + struct.pack("<I", masked_crc(payload))


def make_histogram(values, bins):
    """torch.utils.tensorboard.summary.make_histogram (torch 2.x), without max_bins."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    cum_counts = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum_counts, [0, cum_counts[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    return dict(min=float(values.min()), max=float(values.max()), num=len(values), sum=float(values.sum()),
                sum_squares=float(values.dot(values)), bucket_limit=limits.tolist(), bucket=counts.tolist())


def main():
    Event = build_messages()
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "test", "fixtures")
    # Edge cases: step 0 (a proto3 default, not serialized), a zero value (serialized: oneof presence),
    # values float32 cannot hold exactly, negatives, a step past 2^32, a one-value histogram.
    scalars = [
        ("train/loss", 0, 2.302585092994046, 1700000000.25),
        ("train/change_ratio", 0, 0.0, 1700000000.25),
        ("train/loss", 20, 1.9876543, 1700000001.5),
        ("train/lr", 20, 0.06, 1700000001.5),
        ("train/img_per_s", 40, 451.3, 1700000002.75),
        ("epoch/loss", 40, -1e-7, 1700000003.0),
        ("epoch/cluster_size_max", 2**33 + 5, 123456789.0, 1700000004.125),
    ]
    histograms = [
        ("epoch/cluster_sizes", 40, [12, 20, 20, 31, 45, 7, 60, 60, 60, 19, 0, 3], 30, 1700000003.0),
        ("epoch/cluster_sizes", 80, [25, 25, 25, 25], 30, 1700000005.0),
        ("epoch/cluster_sizes", 120, [1, 2, 3, 4, 5, 100, 200, 1000], 10, 1700000006.0),
    ]
    file_wall_time = 1699999999.5
    events = [Event(wall_time=file_wall_time, file_version="brain.Event:2")]
    for tag, step, value, wall in scalars:
        ev = Event(wall_time=wall, step=step)
        ev.summary.value.add(tag=tag, simple_value=value)
        events.append(ev)
    expected_histos = []
    for tag, step, values, bins, wall in histograms:
        h = make_histogram(values, bins)
        expected_histos.append(h)
        ev = Event(wall_time=wall, step=step)
        histo = ev.summary.value.add(tag=tag).histo
        for k in ("min", "max", "num", "sum", "sum_squares"):
            setattr(histo, k, h[k])
        histo.bucket_limit.extend(h["bucket_limit"])
        histo.bucket.extend(h["bucket"])
        events.append(ev)
    with open(os.path.join(out, "tb_events.tfevents"), "wb") as f:
        for ev in events:
            f.write(record(ev.SerializeToString()))
    spec = {
        "file_version": {"wall_time": file_wall_time},
        "scalars": [dict(tag=t, step=s, value=v, wall_time=w) for t, s, v, w in scalars],
        "histograms": [dict(tag=t, step=s, values=v, bins=b, wall_time=w, histo=h)
                       for (t, s, v, b, w), h in zip(histograms, expected_histos)],
    }
    with open(os.path.join(out, "tb_events.json"), "w") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
