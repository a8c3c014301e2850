#!/usr/bin/env python3
"""Hostile input against every command and model (session 16). Deterministic: the same inputs on
every run. Mutates every scenario (scenarios/, book/exercises/scenarios/, tests/regressions/):
truncation at token boundaries, lines deleted and duplicated, numbers at their edges, model
sections of every model with impossible settings, CRLF, BOM, non-UTF-8 bytes, deep nesting, long
strings, and paths that are not regular files; then exercise chapter files and answers, and
`sweep --json` shard files for `sweep-merge`. Each case runs in its own process under a memory cap
(`ulimit -v`) and a time limit, and is reported when it panics, hangs, dies of a signal, goes over
memory, exits with a code outside the table (book/src/reference/exit-codes.md: 4 is a bug), or
refuses a scenario (exit 2) without FILE:LINE:COLUMN: FIELD.

Session 17 added: outputs (--trace, --charts and shrink --out at folders, links, devices, FIFOs,
the scenario itself; every file named must be intact afterwards), shards (--shard and --seeds at
their edges, env/N with hostile environments), names (scenario files named with newlines,
escapes, quotes, shell syntax and bytes that are not UTF-8: no output line may carry a control
character) and forged shard files for sweep-merge (mixed scenarios, seeds twice, values no sweep
writes, huge and escaping strings).

Session 19 added: structure (new files from a template: cycles, self-loops and unknown inputs in the
DAG, duplicate and look-alike names, parallelism and cluster sizes at and over their edges, windows
of size 0 and u64::MAX, faults past the end or naming nodes that do not exist, names with control
and unicode characters, random bytes, 100 MB) and combos (every model x checkpoint mode x sink kind
x window kind, with outcome rows of every runtime, guarantee and result). Memory cap 2 GiB.

usage: every_command.py BIN [--only KIND[,KIND]] [--jobs N] [--limit-s S]
  KIND: truncate, fields, numbers, models, whole, paths, commands, exercise, merge, outputs, shards,
        names, forged, structure, combos
environment: OUT (default /tmp/streamlab-hostile): failing cases are kept there, with a tally."""
import zlib, collections, glob, json, os, re, resource, shutil, stat, subprocess, sys, threading

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MEMORY_CAP_BYTES = 2 << 30  # over 2 GiB is a finding (the budget admits at most 1 GiB)
args = sys.argv[1:]
BIN = os.path.abspath(args[0])
ONLY = None
JOBS = 1
LIMIT_S = 20
i = 1
while i < len(args):
    if args[i] == '--only':
        ONLY = args[i + 1].split(','); i += 2
    elif args[i] == '--jobs':
        JOBS = int(args[i + 1]); i += 2
    elif args[i] == '--limit-s':
        LIMIT_S = int(args[i + 1]); i += 2
    else:
        sys.exit(f'unknown argument {args[i]}')
OUT = os.environ.get('OUT', '/tmp/streamlab-hostile')
CASES = os.path.join(OUT, 'cases')
os.makedirs(CASES, exist_ok=True)

I64MIN, I64MAX, U64MAX = '-9223372036854775808', '9223372036854775807', '18446744073709551615'
EDGE_NUMBERS = ['0', '1', '-1', I64MAX, I64MIN, U64MAX, '18446744073709551616', '4294967296', '1e308',
                'NaN', '"NaN"', '0.5', '1_000_000_000_000']


def scenario_files():
    files = sorted(glob.glob(ROOT + '/scenarios/*.ron') + glob.glob(ROOT + '/book/exercises/scenarios/*.ron')
                   + glob.glob(ROOT + '/tests/regressions/*.ron'))
    return [(os.path.relpath(f, ROOT).replace('/', '_')[:-4], open(f, 'rb').read()) for f in files]


NEW_MODELS = ('spark-micro-batch', 'kafka-streams-failover', 'chandy-lamport', 'storm-trident', 'swarm')


def is_new_model(name):
    return any(m in name for m in NEW_MODELS)


TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|//[^\n]*|[A-Za-z_][A-Za-z_0-9]*|-?\d[\d_]*(?:\.\d+)?|\s+|.', re.S)


def token_ends(text):
    return [m.end() for m in TOKEN.finditer(text) if not m.group().isspace()]


def gen_truncate():
    for name, text in scenario_files():
        ends = token_ends(text)
        # Every token boundary of the new models' samples; 12 spread over each other file.
        picks = ends if is_new_model(name) else ends[:: max(1, len(ends) // 12)]
        for end in picks[:-1]:
            yield f'trunc-{name}-{end}', text[:end]


FIELD_LINE = re.compile(rb'^[ \t]+[a-z_]+: .*,[ \t]*\r?$', re.M)
STEP_LINE = re.compile(rb'^[ \t]+[A-Z][A-Za-z]*\(.*\),[ \t]*\r?$', re.M)


def gen_fields():
    for name, text in scenario_files():
        lines = [m for m in FIELD_LINE.finditer(text)] + [m for m in STEP_LINE.finditer(text)]
        for m in lines:
            a, b = m.span()
            b = b + 1 if b < len(text) and text[b:b + 1] == b'\n' else b
            yield f'del-{name}-{a}', text[:a] + text[b:]
            yield f'dup-{name}-{a}', text[:b] + text[a:b] + text[b:]
        # A field's value flipped to another field's value (a string where a number goes).
        for j, m in enumerate(re.finditer(rb'([a-z_]+): (\d[\d_]*)', text)):
            if j % 3 == 0:
                yield f'flip-{name}-{m.start()}', text[:m.start(2)] + b'"x"' + text[m.end(2):]


NUMBER = re.compile(rb'(?<![A-Za-z_\d."-])-?\d[\d_]*(?:\.\d+)?(?![A-Za-z_\d"])')


def gen_numbers():
    for name, text in scenario_files():
        spans = [m.span() for m in NUMBER.finditer(text)]
        # Skip numbers in comments: a number after `//` on its line.
        spans = [(a, b) for a, b in spans if b'//' not in text[text.rfind(b'\n', 0, a) + 1:a]]
        if is_new_model(name):
            values = EDGE_NUMBERS
        else:
            values = ['0', '-1', U64MAX, '1e308']
            spans = spans[:: max(1, len(spans) // 10)]
        for a, b in spans:
            for v in values:
                yield f'num-{name}-{a}-{v.strip(chr(34))}', text[:a] + v.encode() + text[b:]


MODEL_SECTIONS = [
    # Spark: impossible and extreme settings.
    'model: Spark((trigger_ms: 0))',
    'model: Spark((trigger_ms: 0, log_write_ms: 0))',
    'model: Spark((trigger_ms: 1, log_write_ms: 0))',
    'model: Spark((max_records_per_trigger: Some(0)))',
    'model: Spark((max_records_per_trigger: Some(1)))',
    f'model: Spark((max_records_per_trigger: Some({U64MAX})))',
    'model: Spark((trigger_ms: 100000000000))',
    'model: Spark((trigger_ms: 100000000001))',
    'model: Spark((log_write_ms: 100000000000))',
    'model: Spark((checkpoint: false))',
    'model: Spark((checkpoint: "yes"))',
    'model: Spark((trigger_ms: -1))',
    'model: Spark((trigger_ms: NaN))',
    'model: Spark(())',
    'model: Spark',
    'model: Spark((nope: 1))',
    'model: Spark((trigger_ms: 1, trigger_ms: 2))',
    # Kafka Streams.
    'model: KafkaStreams((commit_interval_ms: Some(0)))',
    'model: KafkaStreams((commit_interval_ms: Some(1)))',
    'model: KafkaStreams((commit_interval_ms: Some(100000000000)))',
    'model: KafkaStreams((session_timeout_ms: 0))',
    'model: KafkaStreams((session_timeout_ms: 1))',
    'model: KafkaStreams((transaction_timeout_ms: 0))',
    'model: KafkaStreams((standby_replicas: 4294967295))',
    'model: KafkaStreams((standby_replicas: 1))',
    'model: KafkaStreams((standby_replicas: 999))',
    'model: KafkaStreams((restore_cost_us: 100000000000))',
    'model: KafkaStreams((restore_cost_us: 0))',
    'model: KafkaStreams((guarantee: ExactlyOnceV2, commit_interval_ms: Some(1), transaction_timeout_ms: 1))',
    'model: KafkaStreams((guarantee: ExactlyOnce))',
    'model: KafkaStreams((guarantee: AtMostOnce))',
    'model: KafkaStreams(())',
    'model: KafkaStreams',
    # Storm.
    'model: Storm((ackers: 0))',
    'model: Storm((message_timeout_ms: 0))',
    'model: Storm((max_spout_pending: Some(0)))',
    'model: Storm((trident: Some((batch_ms: 0))))',
    'model: Storm((trident: Some((batch_ms: 1))))',
    'model: Storm((ack_cost_us: 100000000000))',
    'model: Storm((fails: [(bolt: "nope", when: ValueAtLeast(0))]))',
    'model: Flink',
    'model: Flink(())',
    'model: Beam',
]
CHECKPOINT_SECTIONS = [
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport)',
    'checkpoints: (interval_ms: 1, mode: ChandyLamport)',
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport, unaligned: true)',
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport, aligned_checkpoint_timeout_ms: Some(10))',
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport, timeout_ms: 1)',
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport, max_concurrent: 0)',
    'checkpoints: (interval_ms: 1000, mode: AtLeastOnce, unaligned: true)',
    'checkpoints: (interval_ms: 1000, mode: ExactlyOnce, unaligned: true, aligned_checkpoint_timeout_ms: Some(0))',
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport, mode: AtLeastOnce)',
    'checkpoints: (interval_ms: 1000, mode: chandylamport)',
]


def with_section(text, section):
    """`section` in place of the file's own `model:`/`checkpoints:` line, or before `pipeline:`."""
    key = section.split(':')[0].encode()
    m = re.search(rb'^([ \t]*)' + key + rb': .*,[ \t]*\r?$', text, re.M)
    if m and m.group().count(b'(') == m.group().count(b')'):
        return text[:m.start()] + m.group(1) + section.encode() + b',' + text[m.end():]
    m = re.search(rb'^([ \t]*)pipeline:', text, re.M)
    if not m:
        return None
    return text[:m.start()] + m.group(1) + section.encode() + b',\n' + text[m.start():]


def gen_models():
    for name, text in scenario_files():
        if not (is_new_model(name) or name.startswith('scenarios_')):
            continue
        for j, section in enumerate(MODEL_SECTIONS + CHECKPOINT_SECTIONS):
            t = with_section(text, section)
            if t is not None:
                yield f'model-{name}-{j}', t


def gen_whole():
    for name, text in scenario_files():
        yield f'crlf-{name}', text.replace(b'\n', b'\r\n')
        yield f'bom-{name}', b'\xef\xbb\xbf' + text
        yield f'bomcrlf-{name}', b'\xef\xbb\xbf' + text.replace(b'\n', b'\r\n')
        yield f'cr-{name}', text.replace(b'\n', b'\r')
        mid = len(text) // 2
        yield f'ff-{name}', text[:mid] + b'\xff' + text[mid:]
        yield f'nul-{name}', text[:mid] + b'\x00' + text[mid:]
        yield f'utf16-{name}', text.decode('utf-8').encode('utf-16')
        m = re.search(rb'name: "', text)
        if m:
            yield f'longname-{name}', text[:m.end()] + b'n' * (1 << 20) + text[m.end():]
            yield f'escname-{name}', text[:m.end()] + b'\\u{1b}[2J\\r\\n' + text[m.end():]
        m = re.search(rb'Sink\(name: "', text)
        if m:
            yield f'longsink-{name}', text[:m.end()] + b's' * 100_000 + text[m.end():]
    base = open(ROOT + '/scenarios/spark-micro-batch.ron', 'rb').read()
    for depth in (63, 64, 65, 1000, 100_000):
        deep = b'Some(' * depth + b'1' + b')' * depth
        yield f'deep-some-{depth}', base.replace(b'max_ms: 200', b'max_ms: ' + deep, 1)
        yield f'deep-list-{depth}', base.replace(b'faults: [', b'faults: [' + b'[' * depth, 1)
    yield 'empty', b''
    yield 'spaces', b' \n\t\n'
    yield 'comment-only', b'// nothing\n'
    yield 'unclosed-comment', b'/* ' + base
    yield 'huge-whitespace', b' ' * (60 << 20) + base
    yield 'over-size', b' ' * ((64 << 20) + 1)
    yield 'many-faults', base.replace(b'faults: [', b'faults: [' + b'Crash(node: "jm", at: At(7_035), restart_after_ms: Some(2_000)),' * 20_000, 1)
    yield 'many-outcomes', base.replace(b'outcomes: [', b'outcomes: [' + b'(runtime: Spark, guarantee: AtMostOnce, sink: Plain, result: Loss),' * 20_000, 1)


def gen_paths():
    d = os.path.join(OUT, 'paths')
    os.makedirs(d, exist_ok=True)
    fifo = os.path.join(d, 'fifo.ron')
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    link = os.path.join(d, 'zero-link.ron')
    if not os.path.lexists(link):
        os.symlink('/dev/zero', link)
    dangling = os.path.join(d, 'dangling.ron')
    if not os.path.lexists(dangling):
        os.symlink(os.path.join(d, 'nowhere'), dangling)
    unreadable = os.path.join(d, 'unreadable.ron')
    shutil.copy(ROOT + '/scenarios/spark-micro-batch.ron', unreadable)
    os.chmod(unreadable, 0)
    # Root reads anything: there the unreadable file is an ordinary scenario, not a case.
    unreadable = [unreadable] if os.geteuid() != 0 else []
    return [d, '/dev/zero', '/dev/null', '/dev/urandom', fifo, link, dangling] + unreadable + [os.path.join(d, 'missing.ron'),
            '', '-', 'default/..', '\udcff.ron']


TEMPLATE = '''Scenario(
    name: {name},
    duration_ms: {duration},
    cluster: (task_managers: {tms}, slots_per_task_manager: {slots}),
    source: {source},
    watermarks: BoundedOutOfOrderness(bound_ms: {bound}, emit: Periodic(interval_ms: 200)),
    pipeline: [
{pipeline}
    ],
    {checkpoints}
    {model}
    restart: FixedDelay(delay_ms: 500, max_attempts: 20),
    faults: [{faults}],
    expect: (outcomes: [{outcomes}]),
)
'''
BASE_SOURCE = 'Generator((partitions: 4, rate_per_s: 300, keys: 8, value: Uniform(min: 1, max: 9)))'
BASE_PIPELINE = ['Source(name: "src", parallelism: 2)', 'KeyBy(Key)',
                 'Window(name: "win", kind: Tumbling(size_ms: 1_000), aggregate: Sum, parallelism: 2)',
                 'Sink(name: "out", parallelism: 1)']
MODELS_FOR_STRUCTURE = ['', 'model: Storm(()),', 'model: Spark(()),', 'model: KafkaStreams(()),',
                        'model: Storm((trident: Some((batch_ms: 500)))),']


def scenario(name='"s"', duration='10_000', tms='2', slots='4', source=BASE_SOURCE, bound='100', pipeline=None,
             checkpoints='checkpoints: (interval_ms: 1_000, mode: ExactlyOnce),', model='', faults='', outcomes=''):
    pipeline = BASE_PIPELINE if pipeline is None else pipeline
    return TEMPLATE.format(name=name, duration=duration, tms=tms, slots=slots, source=source, bound=bound,
                           pipeline='\n'.join(f'        {p},' for p in pipeline), checkpoints=checkpoints,
                           model=model, faults=faults, outcomes=outcomes).encode()


def structure_variants():
    """(label, keyword arguments of scenario()) with one hostile structure each."""
    src, key, win, sink = BASE_PIPELINE
    v = []
    # The DAG: cycles, self-loops, unknown inputs, duplicate names, missing parts.
    v += [('self-input', dict(pipeline=[src, key, 'Window(name: "win", kind: Tumbling(size_ms: 1_000), aggregate: Sum, inputs: ["win"])', sink])),
          ('cycle', dict(pipeline=[src, 'Map(name: "a", f: AddToValue(1), inputs: ["b"])', 'Map(name: "b", f: AddToValue(1), inputs: ["a"])', sink])),
          ('forward-ref', dict(pipeline=[src, 'Map(name: "a", f: AddToValue(1), inputs: ["out"])', sink])),
          ('sink-reads-itself', dict(pipeline=[src, 'Sink(name: "out", inputs: ["out"])'])),
          ('union-self', dict(pipeline=[src, 'Union(name: "u", inputs: ["u", "src"])', sink])),
          ('union-same-twice', dict(pipeline=[src, 'Union(name: "u", inputs: ["src", "src"])', sink])),
          ('union-none', dict(pipeline=[src, 'Union(name: "u", inputs: [])', sink])),
          ('union-unknown', dict(pipeline=[src, 'Union(name: "u", inputs: ["nope"])', sink])),
          ('input-empty-name', dict(pipeline=[src, 'Map(name: "a", f: AddToValue(1), inputs: [""])', sink])),
          ('dup-source', dict(pipeline=[src, src, key, win, sink])),
          ('dup-window-sink-name', dict(pipeline=[src, key, 'Window(name: "out", kind: Tumbling(size_ms: 1_000), aggregate: Sum)', sink])),
          ('dup-names-differ-case', dict(pipeline=[src, key, 'Window(name: "OUT", kind: Tumbling(size_ms: 1_000), aggregate: Sum)', sink])),
          ('no-sink', dict(pipeline=[src, key, win])),
          ('only-sink', dict(pipeline=[sink])),
          ('no-source', dict(pipeline=[key, win, sink])),
          ('empty-pipeline', dict(pipeline=[])),
          ('two-sources', dict(pipeline=[src, 'Source(name: "src2")', 'Union(name: "u", inputs: ["src", "src2"])', key, win, sink])),
          ('source-with-inputs', dict(pipeline=[src, 'Source(name: "s2", inputs: ["src"])', sink])),
          ('sink-in-middle', dict(pipeline=[src, sink, key, win, 'Sink(name: "out2")'])),
          ('keyby-last', dict(pipeline=[src, sink, key])),
          ('keyby-keyby', dict(pipeline=[src, key, key, win, sink])),
          ('rebalance-then-keyby', dict(pipeline=[src, 'Rebalance', key, win, sink])),
          ('window-no-keyby', dict(pipeline=[src, win, sink])),
          ('window-after-window', dict(pipeline=[src, key, win, key, 'Window(name: "w2", kind: Tumbling(size_ms: 2_000), aggregate: Count)', sink])),
          ('late-output-name-clash', dict(pipeline=[src, key, 'Window(name: "win", kind: Tumbling(size_ms: 1_000), aggregate: Sum, late_output: Some("out"))', sink])),
          ('late-output-self', dict(pipeline=[src, key, 'Window(name: "win", kind: Tumbling(size_ms: 1_000), aggregate: Sum, late_output: Some("win"))', sink])),
          ('late-output-read-before', dict(pipeline=[src, 'Map(name: "m", f: AddToValue(1), inputs: ["late"])', key, 'Window(name: "win", kind: Tumbling(size_ms: 1_000), aggregate: Sum, late_output: Some("late"))', sink])),
          ('broadcast-into-window', dict(pipeline=[src, 'Broadcast', win, sink])),
          ('forward-unequal', dict(pipeline=[src, 'Forward', 'Map(name: "m", f: AddToValue(1), parallelism: 3)', sink])),
          ('keyby-constant-128', dict(pipeline=[src, 'KeyBy(Constant)', 'Window(name: "win", kind: Tumbling(size_ms: 1_000), aggregate: Sum, parallelism: 8)', sink], slots='64')),
          ('filter-keyin-unknown', dict(pipeline=[src, 'Filter(name: "f", f: KeyIn(["\\u{202e}", ""]))', sink])),
          ('filter-keyin-empty', dict(pipeline=[src, 'Filter(name: "f", f: KeyIn([]))', sink])),
          ('filter-not-deep', dict(pipeline=[src, 'Filter(name: "f", f: ' + 'Not(' * 5000 + 'ValueAtMost(3)' + ')' * 5000 + ')', sink])),
          ('map-modulo-zero', dict(pipeline=[src, 'Map(name: "m", f: ValueModulo(0))', sink])),
          ('map-overflow', dict(pipeline=[src, 'Map(name: "m", f: MultiplyValue(9223372036854775807))', 'Map(name: "m2", f: AddToValue(9223372036854775807))', key, win, sink])),
          ('divisible-zero', dict(pipeline=[src, 'Filter(name: "f", f: ValueDivisibleBy(0))', sink]))]
    # Parallelism at and over its edges.
    for p in ['0', '-1', '129', '128', '4294967296', U64MAX, '65536']:
        v.append((f'parallelism-{p}', dict(pipeline=[f'Source(name: "src", parallelism: {p})', key, win, sink])))
        v.append((f'win-parallelism-{p}', dict(slots='128', tms='1', pipeline=[src, key, f'Window(name: "win", kind: Tumbling(size_ms: 1_000), aggregate: Sum, parallelism: {p})', sink])))
    for tms, slots in [('0', '4'), ('1', '0'), ('4294967296', '1'), ('1', U64MAX), ('100000', '100000'), ('128', '128')]:
        v.append((f'cluster-{tms}x{slots}', dict(tms=tms, slots=slots)))
    # Windows of size 0 and at u64::MAX; sliding and session edges.
    for kind in ['Tumbling(size_ms: 0)', f'Tumbling(size_ms: {U64MAX})', 'Tumbling(size_ms: 9223372036854775807)',
                 'Tumbling(size_ms: 9223372036854775807, offset_ms: 9223372036854775806)',
                 'Tumbling(size_ms: 1_000, offset_ms: -999)', 'Tumbling(size_ms: 1, offset_ms: 0)',
                 'Sliding(size_ms: 0, slide_ms: 0)', 'Sliding(size_ms: 1_000, slide_ms: 0)',
                 f'Sliding(size_ms: {U64MAX}, slide_ms: 1)', 'Sliding(size_ms: 9223372036854775807, slide_ms: 9223372036854775807)',
                 'Sliding(size_ms: 1, slide_ms: 9223372036854775807)', 'Sliding(size_ms: 1_000_000, slide_ms: 1_000)',
                 'Sliding(size_ms: 1_001_000, slide_ms: 1_000)', 'Session(gap_ms: 0)', f'Session(gap_ms: {U64MAX})',
                 'Session(gap_ms: 9223372036854775807)', 'Session(gap_ms: 1)']:
        v.append((f'window-{kind}', dict(pipeline=[src, key, f'Window(name: "win", kind: {kind}, aggregate: AvgMilli)', sink])))
    for lateness in ['9223372036854775807', U64MAX, '-1']:
        v.append((f'lateness-{lateness}', dict(pipeline=[src, key, f'Window(name: "win", kind: Tumbling(size_ms: 1_000), aggregate: Sum, allowed_lateness_ms: {lateness})', sink])))
    for cost in ['0', '4294967295', U64MAX, '1_000_000_000']:
        v.append((f'cost-{cost}', dict(pipeline=[f'Source(name: "src", parallelism: 2, cost_us: {cost})', key, win, sink])))
    # Faults past the end, naming nodes that do not exist, at the edges of time.
    for f in ['Crash(node: "tm-1", at: At(1_000_000_000))', f'Crash(node: "tm-1", at: At({U64MAX}))',
              'Crash(node: "tm-1", at: At(9_999), restart_after_ms: Some(1))', 'Crash(node: "tm-1", at: At(10_000))',
              'Crash(node: "tm-1", at: At(10_001))', 'Crash(node: "tm-99", at: At(1_000))', 'Crash(node: "", at: At(1_000))',
              'Crash(node: "TM-1", at: At(1_000))', 'Crash(node: "tm-01", at: At(1_000))', 'Crash(node: "tm-1 ", at: At(1_000))',
              'Crash(node: "tm-\\u{0661}", at: At(1_000))', 'Crash(node: "jm\\u{0}", at: At(1_000))',
              'Crash(node: "tm-18446744073709551616", at: At(1_000))', 'Crash(node: "tm--1", at: At(1_000))',
              'Crash(node: "src[0]", at: At(1_000))', f'Crash(node: "tm-1", at: At(1_000), restart_after_ms: Some({U64MAX}))',
              'Crash(node: "tm-1", at: AtNs(100000000000000001))', 'Crash(node: "tm-1", at: AtNs(99999999999999999))',
              'Crash(node: "tm-1", at: OnCheckpointTrigger(4294967296))', 'Crash(node: "tm-1", at: OnCheckpointTrigger(0))',
              'Crash(node: "tm-1", at: WhileAligning(checkpoint: 1, subtask: "nope[9]"))',
              'Crash(node: "tm-1", at: WhileAligning(checkpoint: 1, subtask: "win[99]"))',
              'Crash(node: "tm-1", at: AfterPreCommit(0))', 'Crash(node: "tm-1", at: AfterCheckpointComplete(1000000))',
              'Partition(between: ("tm-0", "tm-0"), from_ms: 1_000, until_ms: 2_000)',
              'Partition(between: ("tm-0", "tm-7"), from_ms: 1_000, until_ms: 2_000)',
              f'Partition(between: ("tm-0", "tm-1"), from_ms: 1_000, until_ms: {U64MAX})',
              'Partition(between: ("tm-0", "tm-1"), from_ms: 2_000, until_ms: 2_000)',
              'Partition(between: ("tm-0", "tm-1"), from_ms: 20_000, until_ms: 30_000)',
              f'LatencySpike(from_ms: 0, until_ms: {U64MAX}, extra_ms: {U64MAX})',
              'LatencySpike(from_ms: 0, until_ms: 10_000, extra_ms: 1_000_000_000)',
              'LatencySpike(between: Some(("jm", "jm")), from_ms: 0, until_ms: 10_000, extra_ms: 5)',
              'MessageLoss(from_ms: 0, until_ms: 10_000, loss_ppm: 999_999, retransmit_ms: 1)',
              'MessageLoss(from_ms: 0, until_ms: 10_000, loss_ppm: 1_000_000, retransmit_ms: 1)',
              f'MessageLoss(from_ms: 0, until_ms: 10_000, loss_ppm: 500_000, retransmit_ms: {U64MAX})',
              'SlowNode(node: "tm-0", from_ms: 0, until_ms: 10_000, factor: 0)',
              f'SlowNode(node: "tm-0", from_ms: 0, until_ms: 10_000, factor: {U64MAX})',
              'SlowNode(node: "tm-0", from_ms: 0, until_ms: 10_000, factor: 1_000_000)',
              'SlowNode(node: "jm", from_ms: 0, until_ms: 10_000, factor: 1_000)',
              'CheckpointStorageFailure(checkpoint: 0)', f'CheckpointStorageFailure(checkpoint: {U64MAX})',
              ', '.join(['Crash(node: "tm-1", at: At(1_000), restart_after_ms: Some(100))'] * 5000),
              ', '.join(f'Crash(node: "tm-{i % 2}", at: At({i}), restart_after_ms: Some(1))' for i in range(1, 3000))]:
        v.append((f'fault-{f[:60]}', dict(faults=f)))
    # Names: unicode, control characters, duplicates that look alike.
    for n in ['"\\u{0}"', '"\\u{7}\\u{8}\\u{1b}[31m"', '"\\u{202e}gnp.exe"', '"\\u{fffe}\\u{ffff}"', '"\\u{d7ff}\\u{e000}"',
              '"\\u{10ffff}"', '"\\u{d800}"', '""', '"' + 'é' * 50_000 + '"', '"a\\nb"', '"\\\\"']:
        v.append((f'name-{n[:30]}', dict(name=n)))
        v.append((f'opname-{n[:30]}', dict(pipeline=[src, key, f'Window(name: {n}, kind: Tumbling(size_ms: 1_000), aggregate: Sum)', sink])))
        v.append((f'sinkname-{n[:30]}', dict(pipeline=[src, key, win, f'Sink(name: {n})'])))
    # Durations and sources at their edges.
    for d in ['0', '1', U64MAX, '100000000000', '100000000001', '9223372036854775807']:
        v.append((f'duration-{d}', dict(duration=d)))
    for s in ['Generator((partitions: 0, rate_per_s: 300, keys: 8, value: Uniform(min: 1, max: 9)))',
              'Generator((partitions: 100000, rate_per_s: 1, keys: 8, value: Uniform(min: 1, max: 9)))',
              f'Generator((partitions: 4, rate_per_s: {U64MAX}, keys: 8, value: Uniform(min: 1, max: 9)))',
              'Generator((partitions: 4, rate_per_s: 300, keys: 0, value: Uniform(min: 1, max: 9)))',
              f'Generator((partitions: 4, rate_per_s: 300, keys: {U64MAX}, value: Uniform(min: 1, max: 9)))',
              'Generator((partitions: 4, rate_per_s: 300, keys: 8, value: Uniform(min: 9, max: 1)))',
              'Generator((partitions: 4, rate_per_s: 300, keys: 8, value: Uniform(min: -9223372036854775808, max: 9223372036854775807)))',
              'Generator((partitions: 4, rate_per_s: 300, keys: 8, value: Constant(9223372036854775807)))',
              'Generator((partitions: 4, rate_per_s: 300, keys: 8, value: Uniform(min: 1, max: 9), bursts: [(from_ms: 0, until_ms: 10_000, rate_multiplier: 4294967295)]))',
              'Generator((partitions: 4, rate_per_s: 300, keys: 8, value: Uniform(min: 1, max: 9), disorder: (delay: Exponential(mean_ms: 18446744073709551615))))',
              'Events([])', 'Events([(key: "", value: 1, ts: 0, arrives: 0)])',
              'Events([(key: "a", value: 1, ts: -9223372036854775808, arrives: 0), (key: "a", value: 1, ts: 9223372036854775807, arrives: 1)])',
              'Events([' + ', '.join(f'(key: "k{i % 7}", value: {i}, ts: {i * 3}, arrives: {i * 3})' for i in range(200_000)) + '])']:
        v.append((f'source-{s[:70]}', dict(source=s)))
    for b in ['0', U64MAX, '9223372036854775807', '-1']:
        v.append((f'bound-{b}', dict(bound=b)))
    for c in ['checkpoints: (interval_ms: 0, mode: ExactlyOnce),', f'checkpoints: (interval_ms: {U64MAX}, mode: ExactlyOnce),',
              'checkpoints: (interval_ms: 1, mode: ExactlyOnce, timeout_ms: 1),', 'checkpoints: (interval_ms: 1, mode: ExactlyOnce, max_concurrent: 4294967295),',
              'checkpoints: (interval_ms: 10, mode: ExactlyOnce, unaligned: true, timeout_ms: 18446744073709551615),', '']:
        v.append((f'checkpoints-{c[:50]}', dict(checkpoints=c)))
    return v


def gen_structure():
    for label, kw in structure_variants():
        for m, model in enumerate(MODELS_FOR_STRUCTURE):
            if m and not (label.startswith(('self', 'cycle', 'union', 'dup', 'no-', 'two', 'keyby', 'window', 'fault', 'parallelism', 'source', 'late'))):
                continue
            yield f'struct-{m}-{re.sub("[^A-Za-z0-9_.-]", "_", label)[:80]}', scenario(model=model, **kw)
    # Files that are not scenarios at all: random bytes, 100 MB of a list, a scenario with binary inside.
    rnd = bytes((i * 2654435761 >> 13) & 0xff for i in range(1 << 16))
    yield 'binary-64k', rnd
    yield 'binary-elf-header', b'\x7fELF\x02\x01\x01' + rnd[:4096]
    yield 'scenario-then-binary', scenario() + rnd[:1000]
    event = '(key: "k", value: 1, ts: 1, arrives: 1), '
    yield 'hundred-mb-events', scenario(source='Events([' + event * ((100 << 20) // len(event)) + '])')


MODES = ['AtMostOnce', 'AtLeastOnce', 'ExactlyOnce', 'ChandyLamport']
SINKS = ['Plain', 'Idempotent', 'TwoPhaseCommit']
GUARANTEES = ['AtMostOnce', 'AtLeastOnce', 'ExactlyOnce']
RUNTIMES = ['Flink', 'Storm', 'Spark', 'KafkaStreams']
RESULTS = ['Exact', 'Regrouped', 'Duplicates', 'Loss', 'LossAndDuplicates', 'WrongValues', None]
COMBO_MODELS = ['', 'model: Storm(()),', 'model: Storm((ackers: 0)),', 'model: Storm((trident: Some((batch_ms: 500)))),',
                'model: Spark(()),', 'model: Spark((checkpoint: false)),', 'model: KafkaStreams(()),',
                'model: KafkaStreams((guarantee: ExactlyOnceV2)),']
COMBO_WINDOWS = ['Tumbling(size_ms: 1_000)', 'Sliding(size_ms: 2_000, slide_ms: 500)', 'Session(gap_ms: 300)']


def gen_combos():
    """Every model x guarantee (checkpoint mode) x sink kind, with the outcome rows of every runtime, guarantee,
    sink and result (a row the model cannot check must be refused at its field, not panic)."""
    src, key, _, _ = BASE_PIPELINE
    for m, model in enumerate(COMBO_MODELS):
        for mode in MODES:
            for sink in SINKS:
                for w, kind in enumerate(COMBO_WINDOWS):
                    pipeline = [src, key, f'Window(name: "win", kind: {kind}, aggregate: Count, parallelism: 2)', f'Sink(name: "out", kind: {sink})']
                    faults = 'Crash(node: "tm-1", at: At(3_000), restart_after_ms: Some(1_000))'
                    rows = []
                    for rt in RUNTIMES:
                        for g in GUARANTEES:
                            r = RESULTS[(m + len(rows)) % len(RESULTS)]
                            res = f', result: {r}' if r else ''
                            rows.append(f'(runtime: {rt}, guarantee: {g}, sink: {sink}{res})')
                    text = scenario(model=model, pipeline=pipeline, faults=faults,
                                    checkpoints=f'checkpoints: (interval_ms: 1_000, mode: {mode}),')
                    yield f'combo-{m}-{mode}-{sink}-{w}', text
                    # Each row on its own (tumbling windows): the refusal of one row must not hide another's.
                    for j, row in enumerate(rows if w == 0 else []):
                        yield f'combo-{m}-{mode}-{sink}-{w}-row{j}', scenario(model=model, pipeline=pipeline, faults=faults,
                                    checkpoints=f'checkpoints: (interval_ms: 1_000, mode: {mode}),', outcomes=row)


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    # CPU seconds, not wall time: the machine is shared, and a hang spends CPU (SIGXCPU).
    resource.setrlimit(resource.RLIMIT_CPU, (LIMIT_S, LIMIT_S + 5))


def run(argv, cwd=None, timeout=None):
    try:
        r = subprocess.run([BIN] + argv, capture_output=True, timeout=(timeout or LIMIT_S) * 10, preexec_fn=limit_memory,
                           cwd=cwd or OUT, stdin=subprocess.DEVNULL)
        return r.returncode, r.stderr.decode('utf-8', 'replace'), r.stdout
    except subprocess.TimeoutExpired:
        return 'TIMEOUT', '', b''


def finding(rc, err, path=None, scenario_error=True):
    """What is wrong with this outcome, or None."""
    if rc == 'TIMEOUT':
        return 'hang'
    if rc in (-24, -9):  # SIGXCPU, then SIGKILL at the hard CPU limit
        return f'hang (over {LIMIT_S} CPU s)'
    if rc < 0:
        return f'signal {-rc}' + (' (over memory)' if 'memory allocation' in err else '')
    if 'panicked' in err or rc == 101:
        return 'panic'
    if 'memory allocation' in err:
        return 'over memory'
    if rc not in (0, 1, 2, 3, 5):
        return f'exit {rc}' + (' (invariant violated)' if rc == 4 else '')
    if rc == 2 and scenario_error and path is not None:
        lines = [l for l in err.splitlines() if l.startswith('error: ')]
        if not lines:
            return 'exit 2 without an error line'
        line = lines[0]
        if re.search(re.escape(path) + r':\d+:\d+: (?:\S+|\(top level\)): ', line) is None:
            # File-level refusals name the file but have no line (not a regular file, too large,
            # not UTF-8 names the byte offset), and the budget names its field.
            if path in line and any(w in line for w in ('not a regular file', 'bytes', 'UTF-8', 'budget')):
                return None
            return 'exit 2 without FILE:LINE:COLUMN: FIELD'
        if any(ord(c) < 32 and c != '\t' for c in line):
            return 'control characters in the error line'
    return None


tally = collections.Counter()  # (command, outcome) -> count
findings = []
lock = threading.Lock()


def record(kind, command, case, rc, err, why):
    outcome = 'timeout' if rc == 'TIMEOUT' else f'exit {rc}'
    with lock:
        tally[(kind, command, outcome)] += 1
        if why:
            findings.append((kind, command, case, why, err.strip().splitlines()[-3:] if err else []))
            print(f'FOUND {kind} {command} {case}: {why}: {err.strip()[-300:]!r}', flush=True)


SWEEP_ARGS = ['--seeds', '1..3', '--swarm', '--json']


BIDI_CONTROLS = set('\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069')


def reorders(text):
    """Whether `text` holds a Unicode bidirectional control, which a file may not print (session 19)."""
    return any(c in BIDI_CONTROLS for c in text)


def check_scenario(kind, name, text):
    path = os.path.join(CASES, f'{name[:150]}.ron')
    with open(path, 'wb') as f:
        f.write(text)
    rc, err, out = run(['run', path, '--seed', '1'])
    why = finding(rc, err, path)
    if why is None and reorders(err + out.decode('utf-8', 'replace')):
        why = 'a bidirectional control printed (it reorders the line it is on)'
    record(kind, 'run', name, rc, err, why)
    loaded = rc in (0, 1, 3)
    # Every command on what loads with a model section (their own checks: compare's other models,
    # sweep's swarm, replay's --until) and one in six of the other files that load; what `run`
    # refused, one in twenty through every command (they share the parser).
    pick = zlib.crc32(name.encode())
    if (loaded and (kind == 'models' or pick % 6 == 0)) or (not loaded and pick % 20 == 0):
        commands = [
            ('estimate', ['estimate', path]),
            ('compare', ['compare', path, '--model', 'all', '--swarm', '--seed', '3']),
            ('sweep', ['sweep', path] + SWEEP_ARGS),
            ('replay', ['replay', path, '--swarm', '--until', '4000', '--seed', '5']),
            ('shrink', ['shrink', path, '--seed', '1', '--out', '-']),
        ]
        for command, argv in commands:
            rc2, err2, _ = run(argv)
            why2 = finding(rc2, err2, path)
            if why2 is None and not loaded and rc2 != 2:
                why2 = f'run refused it (exit {rc}) but {command} exits {rc2}'
            record(kind, command, name, rc2, err2, why2)
    if not any(f[2] == name for f in findings):
        os.remove(path)


def run_all(kind, cases):
    cases = list(cases)
    print(f'{kind}: {len(cases)} inputs', flush=True)
    it = iter(cases)
    it_lock = threading.Lock()

    def worker():
        while True:
            with it_lock:
                nxt = next(it, None)
            if nxt is None:
                return
            check_scenario(kind, *nxt)
    threads = [threading.Thread(target=worker) for _ in range(JOBS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def check_paths():
    for p in gen_paths():
        for command, argv in [('run', ['run', p]), ('compare', ['compare', p, '--model', 'all']),
                              ('sweep', ['sweep', p, '--seeds', '1..2']), ('replay', ['replay', p]),
                              ('shrink', ['shrink', p, '--seed', '1', '--out', '-']), ('estimate', ['estimate', p]),
                              ('sweep-merge', ['sweep-merge', p])]:
            try:
                rc, err, _ = run(argv)
            except ValueError:  # a path Python cannot pass
                continue
            why = finding(rc, err, None)
            if why is None and rc not in (2, 5):
                why = f'exit {rc} for a path that is not a scenario file'
            shown = p.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')
            if why is None and p and shown not in err and p != '-':
                why = 'the error does not name the path'
            record('paths', command, p, rc, err, why)


def check_commands():
    """Hostile arguments to every command on a good scenario."""
    s = ROOT + '/scenarios/spark-micro-batch.ron'
    k = ROOT + '/scenarios/kafka-streams-failover.ron'
    c = ROOT + '/scenarios/chandy-lamport.ron'
    argvs = []
    for f in (s, k, c):
        argvs += [['run', f, '--seed', U64MAX], ['run', f, '--seed', '-1'], ['run', f, '--seed', 'NaN'],
                  ['run', f, '--format', 'xml'], ['run', f, '--check-determinism', '--swarm', '--seed', '0'],
                  ['compare', f, '--model', 'nope'], ['compare', f, '--model', ''], ['compare', f, '--model', 'all,all'],
                  ['compare', f, '--model', 'spark,kafka-streams,storm,flink', '--json'],
                  ['sweep', f, '--seeds', '0..0'], ['sweep', f, '--seeds', f'{U64MAX}..=0'],
                  ['sweep', f, '--seeds', f'{U64MAX}..={U64MAX}'], ['sweep', f, '--seeds', ',,,'],
                  ['sweep', f, '--seeds', '1,1,1', '--json'], ['sweep', f, '--seeds', '1..3', '--shard', '0/2'],
                  ['sweep', f, '--seeds', '1..3', '--shard', '3/2'], ['sweep', f, '--seeds', '1..3', '--shard', '1/0'],
                  ['sweep', f, '--seeds', '1..3', '--shard', f'1/{U64MAX}'], ['sweep', f, '--jobs', '0'],
                  ['sweep', f, '--jobs', U64MAX, '--seeds', '1..2'],
                  ['replay', f, '--until', U64MAX], ['replay', f, '--until', '0'],
                  ['replay', f, '--until', '1e308'], ['replay', f, '--charts', '/dev/null'],
                  ['replay', f, '--trace', '/dev/null'], ['replay', f, '--trace', f],
                  ['shrink', f, '--seed', U64MAX, '--out', '-'], ['shrink', f, '--seed', '1', '--out', f, '--force'],
                  ['shrink', f, '--seed', '1', '--out', '/dev/null', '--force']]
    for argv in argvs:
        rc, err, _ = run(argv)
        why = finding(rc, err, None)
        record('commands', argv[0], ' '.join(argv[1:]).replace(ROOT + '/', ''), rc, err, why)


def check_exercises():
    chapters = sorted(glob.glob(ROOT + '/book/exercises/*.ron'))
    cases = []
    for c in chapters:
        text = open(c, 'rb').read()
        base = os.path.basename(c)
        ends = token_ends(text)
        for end in ends[:: max(1, len(ends) // 15)][:-1]:
            cases.append((f'ex-trunc-{base}-{end}', base, text[:end]))
        for m in list(NUMBER.finditer(text))[:6]:
            for v in ('0', '-1', U64MAX, '1e308', 'NaN'):
                cases.append((f'ex-num-{base}-{m.start()}-{v}', base, text[:m.start()] + v.encode() + text[m.end():]))
        for m in list(FIELD_LINE.finditer(text))[:12]:
            a, b = m.span()
            cases.append((f'ex-del-{base}-{a}', base, text[:a] + text[b:]))
            cases.append((f'ex-dup-{base}-{a}', base, text[:b] + b'\n' + text[a:b] + text[b:]))
        cases.append((f'ex-bom-{base}', base, b'\xef\xbb\xbf' + text))
        cases.append((f'ex-crlf-{base}', base, text.replace(b'\n', b'\r\n')))
        cases.append((f'ex-ff-{base}', base, text[:len(text) // 2] + b'\xff' + text[len(text) // 2:]))
        for target in (b'"/dev/zero"', b'"/etc/passwd"', b'"../../../../etc/passwd"', b'"book"', b'""',
                       b'"scenarios/spark-micro-batch.ron"', b'"scenarios/kafka-streams-failover.ron"',
                       b'"scenarios/chandy-lamport.ron"', b'"scenarios/storm-trident.ron"'):
            t = re.sub(rb'scenario: "[^"]*"', b'scenario: ' + target, text, count=1)
            cases.append((f'ex-scenario-{base}-{target.decode()[1:-1].replace("/", "_")}', base, t))
    print(f'exercise: {len(cases)} inputs', flush=True)
    root = os.path.join(OUT, 'exroot')
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root + '/book/exercises')
    shutil.copytree(ROOT + '/book/exercises/scenarios', root + '/book/exercises/scenarios')
    shutil.copytree(ROOT + '/scenarios', root + '/scenarios')
    for name, victim, text in cases:
        for c in chapters:
            shutil.copy(c, root + '/book/exercises/')
        with open(os.path.join(root, 'book/exercises', victim), 'wb') as f:
            f.write(text)
        ids = re.findall(rb'id:\s*"([^"]+)"', text)
        argvs = [['exercise', '--root', root, 'list']]
        if ids:
            i = ids[zlib.crc32(name.encode()) % len(ids)].decode('utf-8', 'replace')
            argvs += [['exercise', '--root', root, 'show', i], ['exercise', '--root', root, 'check', i, '0']]
        for argv in argvs:
            rc, err, _ = run(argv)
            why = finding(rc, err, None)
            if why is None and rc == 2 and victim not in err and 'no exercise' not in err and 'answer' not in err:
                why = 'exit 2 without naming the chapter file'
            record('exercise', f'exercise {argv[3]}', name, rc, err, why)
    # Hostile answers to real exercises.
    answers = ['', ' ', '-1', U64MAX, '18446744073709551616', '1e308', 'NaN', 'amo,amo,amo', ',,,', 'x' * 100_000,
               '\u202e', 'amo,alo,eo,' * 10_000, '0x10', '+1', '1_000']
    ids = ['g-1', 'g-3']
    spark_ids = re.findall(r'id:\s*"([^"]+)"', ''.join(open(c).read() for c in chapters if 'choosing' in c or 'end-to-end' in c))[:2]
    for i in ids + spark_ids:
        for a in answers:
            rc, err, _ = run(['exercise', 'check', i, a], cwd=ROOT, timeout=60)
            why = finding(rc, err, None)
            if why is None and rc not in (0, 1, 2):
                why = f'exit {rc} for an answer'
            record('exercise', 'exercise check', f'{i} {a[:20]!r}', rc, err, why)
    for i in ('', ' ', '../g-1', 'g-1\n', 'x' * 10_000):
        rc, err, _ = run(['exercise', 'show', i], cwd=ROOT)
        why = finding(rc, err, None)
        if why is None and rc != 2:
            why = f'exit {rc} for an unknown id'
        record('exercise', 'exercise show', repr(i[:20]), rc, err, why)
    check_class_answers()


def check_class_answers():
    """`exercise grade` on hostile answers files: exit 0 (graded) or 2 (refused, at line and
    column or naming the file), never a panic, hang or unbounded memory; `--out` never replaces a
    file it may not (the answers file, a user's file without --force, a folder, a FIFO)."""
    d = os.path.join(OUT, 'class')
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    header = 'student,exercise,answer\n'
    many = header + ''.join(f's{n},g-1,{n % 7}\n' for n in range(100_000))
    cases = {
        'empty': b'', 'bom-crlf': ('\ufeff' + header.replace('\n', '\r\n') + 'a,g-1,3\r\n').encode(),
        'binary': bytes(range(256)) * 64, 'huge': b'x' * (17 * 1024 * 1024), 'many': many.encode(),
        'unclosed': (header + 'a,g-1,"3\n').encode(), 'no-header': b'a,g-1,3\n',
        'extra-field': (header + 'a,g-1,3,4\n').encode(), 'twice': (header + 'a,g-1,3\na,g-1,4\n').encode(),
        'unknown-id': (header + 'a,zz-9,3\n').encode(), 'bidi-names': (header + 'a\u202eb,g-1,\u202e3\n').encode(),
        'control-names': (header + 'a\x1b[31m,g-1,3\x00\n').encode(), 'long-answer': (header + 'a,g-1,' + 'x' * 1_000_000 + '\n').encode(),
        'quotes': (header + '"a ""q""",g-1,"amo,alo"\n').encode(), 'not-utf8': header.encode() + b'a,g-1,\xff\n',
    }
    for name, data in cases.items():
        path = os.path.join(d, name + '.csv')
        with open(path, 'wb') as f:
            f.write(data)
        rc, err, out = run(['exercise', 'grade', path], cwd=ROOT, timeout=120)
        why = finding(rc, err, None)
        if why is None and rc not in (0, 2):
            why = f'exit {rc} grading a class'
        if why is None and rc == 2 and path not in err:
            why = 'exit 2 without naming the answers file'
        if why is None and BIDI_CONTROLS & set(out.decode('utf-8', 'replace') + err):
            why = 'a bidirectional control printed raw'
        record('exercise', 'exercise grade', name, rc, err, why)
    answers = os.path.join(d, 'quotes.csv')
    precious = os.path.join(d, 'precious.txt')
    open(precious, 'w').write('my own work\n')
    fifo = os.path.join(d, 'fifo')
    os.mkfifo(fifo)
    for name, out in [('answers file', answers), ('existing file', precious), ('folder', d), ('fifo', fifo)]:
        before = {p: open(p, 'rb').read() for p in (answers, precious)}
        rc, err, _ = run(['exercise', 'grade', answers, '--out', out], cwd=ROOT, timeout=60)
        why = finding(rc, err, None)
        if why is None and rc != 2:
            why = f'exit {rc}: --out {name} was not refused'
        if why is None and any(open(p, 'rb').read() != b for p, b in before.items()):
            why = f'--out {name} changed a file'
        record('exercise', 'exercise grade --out', name, rc, err, why)


def check_merge():
    d = os.path.join(OUT, 'merge')
    os.makedirs(d, exist_ok=True)
    scenario = ROOT + '/scenarios/spark-micro-batch.ron'
    shards = []
    for k, seeds in ((1, '1..5'), (2, '1..5')):
        rc, err, out = run(['sweep', scenario, '--seeds', seeds, '--shard', f'{k}/2', '--json'], timeout=600)
        assert rc in (0, 1), (rc, err)
        p = os.path.join(d, f'shard{k}.jsonl')
        open(p, 'wb').write(out)
        shards.append(out)
    # A long seed list (the `seed_list` field).
    rc, err, out = run(['sweep', ROOT + '/scenarios/storm-word-count.ron', '--seeds', ','.join(str(s) for s in range(1, 40, 3)),
                        '--shard', '1/1', '--json'], timeout=600)
    long_list = out if rc in (0, 1) else b''
    cases = []
    for name, text in (('s1', shards[0]), ('s2', shards[1]), ('long', long_list)):
        ends = token_ends(text)
        for end in ends[:: max(1, len(ends) // 40)][:-1]:
            cases.append((f'trunc-{name}-{end}', [text[:end], shards[1] if name == 's1' else shards[0]]))
        lines = text.splitlines(keepends=True)
        for j, line in enumerate(lines):
            others = lines[:j] + lines[j + 1:]
            cases.append((f'del-{name}-{j}', [b''.join(others), shards[1] if name == 's1' else shards[0]]))
            cases.append((f'dup-{name}-{j}', [b''.join(lines[:j + 1] + [line] + lines[j + 1:]), shards[1] if name == 's1' else shards[0]]))
        for m in list(re.finditer(rb'(?<=[:\[,])-?\d+', text))[:60]:
            for v in (b'0', b'-1', U64MAX.encode(), b'18446744073709551616', b'1e308', b'NaN', b'null', b'"1"'):
                cases.append((f'num-{name}-{m.start()}-{v.decode()}', [text[:m.start()] + v + text[m.end():], shards[1] if name == 's1' else shards[0]]))
        for m in list(re.finditer(rb'"([a-z_]+)":', text))[:40]:
            cases.append((f'key-{name}-{m.start()}', [text[:m.start()] + b'"zz":' + text[m.end():], shards[1] if name == 's1' else shards[0]]))
    cases += [('same-twice', [shards[0], shards[0]]), ('one-only', [shards[0]]), ('empty', [b'']),
              ('empty-lines', [b'\n' * 1000, shards[1]]), ('crlf', [shards[0].replace(b'\n', b'\r\n'), shards[1]]),
              ('bom', [b'\xef\xbb\xbf' + shards[0], shards[1]]), ('ff', [shards[0][:50] + b'\xff' + shards[0][50:], shards[1]]),
              ('deep', [b'[' * 100_000 + b'\n', shards[1]]), ('deep-obj', [b'{"a":' * 100_000 + b'\n', shards[1]]),
              ('long-line', [b'{"seed": 1, "x": "' + b'a' * (80 << 20) + b'"}\n', shards[1]]),
              ('mixed-sweeps', [shards[0], long_list])]
    # The control: the shards as written merge (a merge that refuses them refuses every mutation
    # for that reason alone, and the rest of this part tests nothing).
    rc, err, _ = run(['sweep-merge', os.path.join(d, 'shard1.jsonl'), os.path.join(d, 'shard2.jsonl')])
    record('merge', 'sweep-merge', 'control', rc, err, None if rc in (0, 1) else f'the shards as written do not merge: exit {rc}')
    print(f'merge: {len(cases)} inputs', flush=True)
    for name, texts in cases:
        paths = []
        for j, t in enumerate(texts):
            p = os.path.join(d, f'{name}-{j}.jsonl')
            open(p, 'wb').write(t)
            paths.append(p)
        rc, err, _ = run(['sweep-merge'] + paths)
        why = finding(rc, err, None)
        if why is None and rc == 2 and not any(os.path.basename(p) in err for p in paths) \
                and 'name the shard' not in err and 'shard(s)' not in err:
            why = 'exit 2 without naming the shard file'
        record('merge', 'sweep-merge', name, rc, err, why)
        if why is None:
            for p in paths:
                os.remove(p)
    for p in ('/dev/zero', '/dev/null', d, os.path.join(d, 'missing.jsonl')):
        rc, err, _ = run(['sweep-merge', p, os.path.join(d, 'shard2.jsonl')])
        why = finding(rc, err, None)
        if why is None and rc not in (2, 5):
            why = f'exit {rc}'
        record('merge', 'sweep-merge', p, rc, err, why)


def digest_of(path):
    """What is at `path` now, to tell whether a command changed it: the bytes of a regular file,
    the target of a link, the kind of anything else."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return ('link', os.readlink(path))
    if stat.S_ISREG(st.st_mode):
        return ('file', open(path, 'rb').read())
    return ('other', stat.S_IFMT(st.st_mode))


def check_outputs():
    """Outputs at what they must not replace: each refused with exit 2 before anything runs, and
    every file involved (the scenario, a link and its target) unchanged afterwards."""
    d = os.path.join(OUT, 'outputs')
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    scenario = os.path.join(d, 'case.ron')
    shutil.copy(ROOT + '/scenarios/exactly-once-plain-sink.ron', scenario)
    precious = os.path.join(d, 'precious.txt')
    open(precious, 'w').write('my own work\n')
    folder = os.path.join(d, 'folder')
    os.makedirs(folder)
    fifo = os.path.join(d, 'fifo')
    os.mkfifo(fifo)
    links = {'link-to-precious': precious, 'link-to-scenario': scenario, 'link-to-folder': folder,
             'link-to-null': '/dev/null', 'link-to-fifo': fifo, 'dangling': os.path.join(d, 'nowhere'),
             'loop-a': os.path.join(d, 'loop-b'), 'loop-b': os.path.join(d, 'loop-a')}
    for name, target in links.items():
        os.symlink(target, os.path.join(d, name))
    hard = os.path.join(d, 'hard-link-to-scenario.ron')
    os.link(scenario, hard)
    readonly = os.path.join(d, 'readonly')
    os.makedirs(readonly)
    os.chmod(readonly, 0o500)
    targets = [folder, folder + '/', fifo, '/dev/null', '/dev/full', '/dev/zero', '/proc/self/status', scenario, hard,
               os.path.join(d, '.', 'case.ron'), os.path.join(folder, '..', 'case.ron'), precious,
               os.path.join(readonly, 'out'), os.path.join(d, 'missing', 'out'), os.path.join(precious, 'out'), '',
               'x' * 300, os.path.join(d, 'y' * 255), os.path.join(d, 'z' * 256)] + [os.path.join(d, n) for n in links]
    watched = [scenario, precious, hard, folder, fifo] + [os.path.join(d, n) for n in links]
    for target in targets:
        for command, argv in [('replay --trace', ['replay', scenario, '--seed', '11', '--trace', target]),
                              ('replay --charts', ['replay', scenario, '--seed', '11', '--charts', target]),
                              ('shrink --out', ['shrink', scenario, '--seed', '11', '--out', target]),
                              ('shrink --out --force', ['shrink', scenario, '--seed', '11', '--out', target, '--force'])]:
            before = {p: digest_of(p) for p in watched}
            outputs = [os.path.join(d, target), os.path.join(d, 'case-seed-11-shrunk.ron')]
            new = [p for p in outputs if not os.path.lexists(p)]
            rc, err, _ = run(argv, cwd=d)
            why = finding(rc, err, None)
            # A trace named by --trace, or a regular file named by --out with --force, is the
            # user's to replace (exit-codes.md; --trace keeps a file that is not a trace); the
            # scenario, its links, and anything a link points at are not.
            named = os.path.join(d, target) if command in ('replay --trace', 'shrink --out --force') else None
            changed = [p for p in watched if digest_of(p) != before[p] and p != named]
            if why is None and changed:
                why = f'changed {", ".join(os.path.basename(p) for p in changed)}'
            # A new regular file may be written (a trace, a shrunk scenario); nothing else.
            if why is None and rc == 0 and 'charts' not in command and os.path.lexists(target) \
                    and digest_of(target) is not None and digest_of(target)[0] != 'file':
                why = f'exit 0 writing to a {digest_of(target)[0]}'
            record('outputs', command, target.replace(d, 'D'), rc, err, why)
            # Files the command created are the test's own: gone before the next case.
            for p in new:
                if os.path.isfile(p) and not os.path.islink(p):
                    os.remove(p)
    os.chmod(readonly, 0o700)


def check_shards():
    """--shard and --seeds at their edges, and env/N under hostile environments: a usage error
    (exit 2) or a sweep that finishes; never a hang on a huge count."""
    f = ROOT + '/scenarios/forward-only.ron'
    shards = ['0/0', '1/1', '2/1', '1/0', '-1/2', '1/-2', '1/', '/2', '/', '1/2/3', ' 1/2', '1 / 2', '+1/2', '01/02',
              '1/18446744073709551616', f'{U64MAX}/{U64MAX}', f'1/{U64MAX}', '１/２', '1/2\n', 'env/0', 'env/2',
              f'env/{U64MAX}', 'env/', 'env/-1', 'ENV/2', 'env/env', '1.0/2', '0x1/2', '1e0/2', 'NaN/2']
    for shard in shards:
        rc, err, _ = run(['sweep', f, '--seeds', '1..4', '--shard', shard])
        why = finding(rc, err, None)
        if why is None and rc not in (0, 1, 2):
            why = f'exit {rc}'
        record('shards', 'sweep --shard', repr(shard), rc, err, why)
    envs = [{'JOB_COMPLETION_INDEX': v} for v in ('', ' ', '-1', '0', '1', '2', U64MAX, '18446744073709551616', 'x', '\x1b[2J')]
    envs += [{'SLURM_ARRAY_TASK_ID': i, 'SLURM_ARRAY_TASK_MIN': m} for i, m in
             (('0', '1'), ('5', '5'), ('6', '5'), (U64MAX, '0'), ('1', U64MAX), ('1', '-1'), ('1', ''))]
    envs += [{'JOB_COMPLETION_INDEX': '0', 'SLURM_ARRAY_TASK_ID': '1'}]
    for env in envs:
        for n in ('2', '1', U64MAX):
            try:
                r = subprocess.run([BIN, 'sweep', f, '--seeds', '1..4', '--shard', f'env/{n}'], capture_output=True,
                                   timeout=LIMIT_S * 10, preexec_fn=limit_memory, cwd=OUT, stdin=subprocess.DEVNULL,
                                   env={**{k: v for k, v in os.environ.items() if k not in ('JOB_COMPLETION_INDEX', 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_MIN')}, **env})
                rc, err = r.returncode, r.stderr.decode('utf-8', 'replace')
            except subprocess.TimeoutExpired:
                rc, err = 'TIMEOUT', ''
            why = finding(rc, err, None)
            if why is None and rc not in (0, 1, 2):
                why = f'exit {rc}'
            if why is None and any(ord(c) < 32 and c not in '\t\n' for c in err):
                why = 'control characters in the error'
            record('shards', 'sweep --shard env', f'{env} env/{n}', rc, err, why)
    big = [f'{U64MAX}..={U64MAX}', f'18446744073709551614..={U64MAX}', f'0..={U64MAX}', f'1..{U64MAX}',
           '0..18446744073709551616', ','.join(str(i) for i in range(0, 100_000, 7)), '1,' * 50_000 + '1',
           ','.join([U64MAX] * 1000), '5..5', '5..=4', '..', '..=', '1..=', '..=5', '-5..5', '1..2..3', 'a..b', '1 ..3']
    for seeds in big:
        # A shard of one seed out of a range of 2^64: the sweep must start at once, not count. A
        # long list runs one shard of a few seeds (all of it is minutes of legitimate work).
        if U64MAX in seeds and '..' in seeds:
            shards = [f'1/{U64MAX}']
        elif len(seeds) > 1000:
            shards = ['1/5000']
        else:
            shards = [None]
        for shard in shards:
            argv = ['sweep', f, '--seeds', seeds] + (['--shard', shard] if shard else [])
            rc, err, _ = run(argv)
            why = finding(rc, err, None)
            if why is None and rc not in (0, 1, 2):
                why = f'exit {rc}'
            record('shards', 'sweep --seeds', f'{seeds[:40]!r} {shard}', rc, err, why)


def check_names():
    """A good and a broken scenario under hostile file names, through every command: no output line
    may carry a control character, the file itself stays, and no command runs from its name."""
    d = os.path.join(OUT, 'names')
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    names = [b'new\nline.ron', b'esc\x1b[2J.ron', b'bell\x07.ron', b'cr\r.ron', b'tab\t.ron', b"quote'.ron",
             b'dq".ron', b'semi;touch PWNED.ron', b'$(touch PWNED).ron', b'`touch PWNED`.ron', b'space name.ron',
             b'-dash.ron', b'--seed.ron', b'\xff\xfe.ron', b'\xc3.ron', b'rtl\xe2\x80\xaeron.txt', b'n' * 250 + b'.ron']
    good = open(ROOT + '/scenarios/exactly-once-plain-sink.ron', 'rb').read()
    broken = good.replace(b'duration_ms', b'duration_mss', 1)
    for raw in names:
        for kind, text in (('good', good), ('broken', broken)):
            path = os.path.join(d.encode(), raw)
            open(path, 'wb').write(text)
            arg = os.fsdecode(path)
            # `--` keeps a name that starts with a dash a path (as for any Unix tool).
            for command, argv in [('run', ['run', '--seed', '11', '--', arg]), ('estimate', ['estimate', '--', arg]),
                                  ('compare', ['compare', '--seed', '11', '--', arg]),
                                  ('sweep', ['sweep', '--seeds', '11..12', '--', arg]),
                                  ('sweep --json', ['sweep', '--seeds', '11..12', '--json', '--', arg]),
                                  ('replay', ['replay', '--seed', '11', '--until', '3000', '--', arg]),
                                  ('shrink', ['shrink', '--seed', '11', '--out', '-', '--', arg])]:
                try:
                    r = subprocess.run([BIN] + argv, capture_output=True, timeout=LIMIT_S * 10, preexec_fn=limit_memory,
                                       cwd=d, stdin=subprocess.DEVNULL)
                    rc, err, out = r.returncode, r.stderr.decode('utf-8', 'replace'), r.stdout.decode('utf-8', 'replace')
                except subprocess.TimeoutExpired:
                    rc, err, out = 'TIMEOUT', '', ''
                why = finding(rc, err, None)
                if why is None and kind == 'broken' and rc != 2:
                    why = f'exit {rc} for a broken file'
                text_out = err + (out if command != 'shrink' else '')
                if why is None and any(ord(c) < 32 and c not in '\t\n' for c in text_out):
                    why = 'a control character in the output'
                if why is None and os.path.exists(os.path.join(d, 'PWNED')):
                    why = 'a command ran from the name'
                if why is None and open(path, 'rb').read() != text:
                    why = 'the scenario changed'
                record('names', command, f'{kind} {raw[:40]!r}', rc, err, why)
            os.remove(path)


def check_forged():
    """Shard files forged from a real one: mixed scenarios, a seed twice, values no sweep writes,
    strings that are huge or carry escapes. A merge exits 2 naming the file, or merges and
    prints nothing a terminal would act on, within bounded memory."""
    d = os.path.join(OUT, 'forged')
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    a = ROOT + '/scenarios/exactly-once-plain-sink.ron'
    b = ROOT + '/scenarios/forward-only.ron'
    real = {}
    for name, scen, seeds, shard in (('a1', a, '8..14', '1/2'), ('a2', a, '8..14', '2/2'), ('b1', b, '8..14', '1/2'),
                                     ('b2', b, '8..14', '2/2'), ('a-other-seeds', a, '8..15', '2/2')):
        rc, err, out = run(['sweep', scen, '--seeds', seeds, '--shard', shard, '--json'], timeout=600)
        assert rc in (0, 1), (rc, err)
        real[name] = out
    lines = [json.loads(l) for l in real['a1'].splitlines()]

    def forged(edit):
        out = []
        for l in lines:
            v = json.loads(json.dumps(l))
            edit(v)
            out.append(json.dumps(v))
        return ('\n'.join(out) + '\n').encode()

    def setter(path, value):
        def edit(v):
            o = v
            for k in path[:-1]:
                o = o[k]
            o[path[-1]] = value
        return edit
    esc = '\x1b[2J\x1b]0;pwned\x07'
    edits = {
        'verdict-esc': setter(['verdict'], 'Exact' + esc), 'verdict-unknown': setter(['verdict'], 'Perfect'),
        'verdict-long': setter(['verdict'], 'E' * (8 << 20)), 'runtime-unknown': setter(['variant', 'runtime'], 'beam'),
        'guarantee-esc': setter(['variant', 'guarantee'], esc), 'sink-long': setter(['variant', 'sink'], 's' * (8 << 20)),
        'failures-esc': setter(['failures'], [esc + 'boom']), 'failures-huge': setter(['failures'], ['f' * (15 << 20)]),
        'failures-many': setter(['failures'], ['f'] * 500_000), 'replay-esc': setter(['replay'], 'cargo run ' + esc),
        'scenario-esc': setter(['scenario'], esc), 'seed-max': setter(['seed'], int(U64MAX)),
        'digest-esc': setter(['sweep', 'scenario_digest'], esc), 'shard-zeros': setter(['sweep', 'shard'], '0' * (8 << 20) + '1/2'),
        'seeds-esc': setter(['sweep', 'seeds'], esc), 'variants-huge': setter(['sweep', 'variants'], int(U64MAX)),
        'variants-zero': setter(['sweep', 'variants'], 0), 'counts-negative': setter(['counts', 'rows'], -1),
        'restarts-big': setter(['counts', 'restarts'], 2 ** 40), 'violations-esc': setter(['violations'], [esc]),
        'seed-list-huge': setter(['sweep', 'seed_list'], ','.join(str(i) for i in range(1, 1_000_000))),
    }
    cases = [(name, [forged(edit), real['a2']]) for name, edit in edits.items()]
    a1 = real['a1'].splitlines(keepends=True)
    cases += [('mixed-scenarios', [real['a1'], real['b2']]), ('mixed-seeds', [real['a1'], real['a-other-seeds']]),
              ('same-file-twice', [real['a1'], real['a1']]), ('seed-twice-in-file', [b''.join(a1[:2] + a1[:2] + a1[2:]), real['a2']]),
              ('seed-moved-to-other-shard', [b''.join(a1[2:]), a1[0] + a1[1] + real['a2']]),
              ('cut-mid-line', [real['a1'][:len(real['a1']) // 2], real['a2']]),
              ('cut-last-newline', [real['a1'][:-1], real['a2']]), ('nul-line', [b'\0' * 100 + b'\n' + real['a1'], real['a2']]),
              ('only-blank', [b'\n \n\t\n', real['a2']]), ('json-array', [b'[' + b','.join(real['a1'].splitlines()) + b']\n', real['a2']]),
              ('three-copies', [real['a1'], real['a1'], real['a2']]), ('reversed', [b''.join(reversed(a1)), real['a2']])]
    for name, texts in cases:
        paths = []
        for j, t in enumerate(texts):
            p = os.path.join(d, f'{name}-{j}.jsonl')
            open(p, 'wb').write(t)
            paths.append(p)
        try:
            r = subprocess.run([BIN, 'sweep-merge'] + paths, capture_output=True, timeout=LIMIT_S * 10,
                               preexec_fn=limit_memory, cwd=d, stdin=subprocess.DEVNULL)
            rc, err, out = r.returncode, r.stderr.decode('utf-8', 'replace'), r.stdout.decode('utf-8', 'replace')
        except subprocess.TimeoutExpired:
            rc, err, out = 'TIMEOUT', '', ''
        why = finding(rc, err, None)
        if why is None and rc not in (0, 1, 2):
            why = f'exit {rc}'
        if why is None and rc == 2 and not any(os.path.basename(p) in err for p in paths) and 'shard(s)' not in err:
            why = 'exit 2 without naming the shard file'
        if why is None and any(ord(c) < 32 and c not in '\t\n' for c in err + out):
            why = 'a control character in the output'
        if why is None and len(out) + len(err) > 1 << 20:
            why = f'{len(out) + len(err)} bytes of output'
        record('forged', 'sweep-merge', name, rc, err, why)
        if why is None:
            for p in paths:
                os.remove(p)


GENERATORS = {'truncate': gen_truncate, 'fields': gen_fields, 'numbers': gen_numbers, 'models': gen_models,
              'whole': gen_whole, 'structure': gen_structure, 'combos': gen_combos}
CHECKS = {'paths': check_paths, 'commands': check_commands, 'exercise': check_exercises, 'merge': check_merge,
          'outputs': check_outputs, 'shards': check_shards, 'names': check_names, 'forged': check_forged}
for kind in ONLY or ['models', 'whole', 'paths', 'commands', 'merge', 'exercise', 'truncate', 'fields', 'numbers']:
    if kind in GENERATORS:
        run_all(kind, GENERATORS[kind]())
    else:
        CHECKS[kind]()

print('\ntally (kind, command, outcome: count):')
for (kind, command, outcome), n in sorted(tally.items()):
    print(f'  {kind:9} {command:16} {outcome:8} {n}')
print(f'{sum(tally.values())} command runs, {len(findings)} findings')
with open(os.path.join(OUT, 'findings.json'), 'w') as f:
    json.dump({'tally': [[*k, n] for k, n in sorted(tally.items())], 'findings': findings}, f, indent=1)
